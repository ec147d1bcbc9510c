import { exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { MemoryNotificationStore, NotificationHandler, SyncError, TokenProvider, TrackhubApiError, TrackhubClient } from '../src/index.ts';
import { op, webhookSecret } from './helpers.ts';

const HUB = 'http://hub.test';
const ISSUER = 'ISSUER_SDK';
const privateKey = await exportJWK((await generateKeyPair('ES256', { extractable: true })).privateKey);

/** A fake feed of `items` served `pageSize` at a time; cursors are positions. */
function feed(items: { webhookId: string; ops: ReturnType<typeof op>[] }[], pageSize: number) {
  const asked: (string | null)[] = [];
  const fetch = async (url: string): Promise<Response> => {
    if (url.endsWith('/oauth2/token')) return Response.json({ access_token: 't', token_type: 'Bearer', expires_in: 900 });
    const u = new URL(url);
    expect(u.pathname).toBe(`/banking/v1/issuers/${ISSUER}/notifications`);
    const after = u.searchParams.get('after');
    asked.push(after);
    const from = after === null ? 0 : Number(after);
    const page = items.slice(from, from + pageSize);
    return Response.json({
      notifications: page.map((i) => ({ webhookId: i.webhookId, createdAt: new Date().toISOString(), body: { operations: i.ops } })),
      nextCursor: String(from + page.length),
      hasMore: from + page.length < items.length,
    });
  };
  const tokens = new TokenProvider({ hubUrl: HUB, issuerId: ISSUER, keyId: 'k', privateKey, fetch });
  return { asked, client: new TrackhubClient({ hubUrl: HUB, issuerId: ISSUER, tokens, fetch }) };
}

const items = [1, 2, 3, 4, 5].map((n) => ({ webhookId: `msg_${n}`, ops: [op('op-a', n)] }));

describe('TrackhubClient.syncNotifications', () => {
  it('without a handler, returns one page as the hub answers it', async () => {
    const { client, asked } = feed(items, 2);
    const page = await client.syncNotifications({ limit: 2 });
    expect(page.notifications.map((n) => n.webhookId)).toEqual(['msg_1', 'msg_2']);
    expect(page).toMatchObject({ nextCursor: '2', hasMore: true });
    expect(asked).toEqual([null]);
    await expect(client.syncNotifications({ limit: 0 })).rejects.toThrow(/limit/);
    await expect(client.syncNotifications({ limit: 501 })).rejects.toThrow(/limit/);
  });

  it('with a handler, applies every page through it until caught up, de-duplicated with pushes', async () => {
    const { client, asked } = feed(items, 2);
    const applied: string[] = [];
    const handler = new NotificationHandler({ secrets: [webhookSecret()], store: new MemoryNotificationStore(), onUpdate: (o, meta) => void applied.push(`${o.sequenceNumber}:${meta.source}`) });
    // msg_2 was pushed and taken already.
    await handler.process('msg_2', { operations: [op('op-a', 2)] }, { webhookId: 'msg_2', timestamp: new Date(), correlationId: undefined, source: 'push' });
    const r = await client.syncNotifications({ handler, limit: 2 });
    expect(r).toEqual({ nextCursor: '5', applied: 3, duplicates: 1, stale: 1, hasMore: false }); // msg_1 (seq 1) is older than the pushed 2
    expect(applied).toEqual(['2:push', '3:sync', '4:sync', '5:sync']);
    // The last page brought items: one more read from its cursor acknowledges them to the hub.
    expect(asked).toEqual([null, '2', '4', '5']);
    // From the cursor returned: nothing new.
    expect(await client.syncNotifications({ handler, after: r.nextCursor })).toEqual({ nextCursor: '5', applied: 0, duplicates: 0, stale: 0, hasMore: false });
  });

  it('stops on an onUpdate failure with a SyncError carrying the cursor to resume from; resuming loses nothing', async () => {
    const { client } = feed(items, 2);
    let failOn: number | undefined = 4;
    const applied: number[] = [];
    const handler = new NotificationHandler({
      secrets: [webhookSecret()],
      store: new MemoryNotificationStore(),
      onUpdate: (o) => {
        if (o.sequenceNumber === failOn) throw new Error('app down');
        applied.push(o.sequenceNumber);
      },
    });
    const err = await client.syncNotifications({ handler, limit: 2 }).catch((e) => e);
    expect(err).toBeInstanceOf(SyncError);
    expect(err.cursor).toBe('2'); // the start of the page holding msg_4: msg_3 comes again as a duplicate
    expect((err.cause as Error).message).toBe('app down');
    failOn = undefined;
    expect(await client.syncNotifications({ handler, after: err.cursor, limit: 2 })).toEqual({ nextCursor: '5', applied: 2, duplicates: 1, stale: 0, hasMore: false });
    expect(applied).toEqual([1, 2, 3, 4, 5]);
  });

  it('stops when a page brings no progress, even if the hub says there is more (an item still being sent)', async () => {
    const fetch = async (url: string) =>
      url.endsWith('/oauth2/token') ? Response.json({ access_token: 't', expires_in: 900 }) : Response.json({ notifications: [], nextCursor: 'c1', hasMore: true });
    const tokens = new TokenProvider({ hubUrl: HUB, issuerId: ISSUER, keyId: 'k', privateKey, fetch });
    const client = new TrackhubClient({ hubUrl: HUB, issuerId: ISSUER, tokens, fetch });
    const handler = new NotificationHandler({ secrets: [webhookSecret()], store: new MemoryNotificationStore(), onUpdate: () => {} });
    expect(await client.syncNotifications({ handler, after: 'c1' })).toEqual({ nextCursor: 'c1', applied: 0, duplicates: 0, stale: 0, hasMore: true });
  });

  /** A client whose feed answers `answer(after)` for every page. */
  function scripted(answer: (after: string | null) => unknown) {
    const asked: (string | null)[] = [];
    const fetch = async (url: string) => {
      if (url.endsWith('/oauth2/token')) return Response.json({ access_token: 't', expires_in: 900 });
      const after = new URL(url).searchParams.get('after');
      asked.push(after);
      return Response.json(answer(after));
    };
    const tokens = new TokenProvider({ hubUrl: HUB, issuerId: ISSUER, keyId: 'k', privateKey, fetch });
    const handler = new NotificationHandler({ secrets: [webhookSecret()], store: new MemoryNotificationStore(), onUpdate: () => {} });
    return { asked, handler, client: new TrackhubClient({ hubUrl: HUB, issuerId: ISSUER, tokens, fetch }) };
  }

  it('stops with an error when the feed hands back a cursor it already gave in this call (a loop)', async () => {
    const { client, handler, asked } = scripted((after) => ({ notifications: [], nextCursor: after === 'a' ? 'b' : 'a', hasMore: true }));
    const err = await client.syncNotifications({ handler, after: 'a' }).catch((e) => e);
    expect(err).toBeInstanceOf(SyncError);
    expect(err.cause).toBeInstanceOf(TrackhubApiError);
    expect(err.cause.errorCode).toBe('UNEXPECTED_RESPONSE');
    expect(asked).toEqual(['a', 'b']);
  });

  it('reads at most maxPages pages in one call, then returns hasMore with the cursor to go on from', async () => {
    // An endless feed: every page moves on and says there is more.
    const { client, handler, asked } = scripted((after) => ({ notifications: [], nextCursor: String(Number(after ?? 0) + 1), hasMore: true }));
    expect(await client.syncNotifications({ handler, maxPages: 3 })).toEqual({ nextCursor: '3', applied: 0, duplicates: 0, stale: 0, hasMore: true });
    expect(asked).toEqual([null, '1', '2']);
    await expect(client.syncNotifications({ handler, maxPages: Number.NaN })).rejects.toThrow(TypeError);
    // The default bound holds too.
    const endless = scripted((after) => ({ notifications: [], nextCursor: String(Number(after ?? 0) + 1), hasMore: true }));
    expect((await endless.client.syncNotifications({ handler: endless.handler })).nextCursor).toBe('1000');
  });

  it('refuses a page of the wrong shape as UNEXPECTED_RESPONSE, applying nothing of it', async () => {
    const good = { webhookId: 'msg_1', createdAt: new Date().toISOString(), body: { operations: [op('op-a', 1)] } };
    for (const bad of [
      { notifications: {}, nextCursor: '1', hasMore: false },
      { notifications: [], nextCursor: 1, hasMore: false },
      { notifications: [], nextCursor: '1', hasMore: 'no' },
      { notifications: [good, { webhookId: 7, body: {} }], nextCursor: '2', hasMore: false },
      { notifications: [{ webhookId: 'msg_2', body: null }], nextCursor: '1', hasMore: false },
      null,
    ]) {
      const { client, handler } = scripted(() => bad);
      await expect(client.syncNotifications()).rejects.toMatchObject({ errorCode: 'UNEXPECTED_RESPONSE' });
      const err = await client.syncNotifications({ handler }).catch((e) => e);
      expect(err).toBeInstanceOf(SyncError);
      expect(err.cause.errorCode).toBe('UNEXPECTED_RESPONSE');
    }
  });
});
