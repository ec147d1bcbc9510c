import { exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { MemoryNotificationStore, NotificationHandler, SyncError, TokenProvider, TrackhubClient } from '../src/index.ts';
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
    expect(r).toEqual({ nextCursor: '5', applied: 3, duplicates: 1, stale: 1 }); // msg_1 (seq 1) is older than the pushed 2
    expect(applied).toEqual(['2:push', '3:sync', '4:sync', '5:sync']);
    expect(asked).toEqual([null, '2', '4']);
    // From the cursor returned: nothing new.
    expect(await client.syncNotifications({ handler, after: r.nextCursor })).toEqual({ nextCursor: '5', applied: 0, duplicates: 0, stale: 0 });
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
    expect(await client.syncNotifications({ handler, after: err.cursor, limit: 2 })).toEqual({ nextCursor: '5', applied: 2, duplicates: 1, stale: 0 });
    expect(applied).toEqual([1, 2, 3, 4, 5]);
  });

  it('stops when a page brings no progress, even if the hub says there is more (an item still being sent)', async () => {
    const fetch = async (url: string) =>
      url.endsWith('/oauth2/token') ? Response.json({ access_token: 't', expires_in: 900 }) : Response.json({ notifications: [], nextCursor: 'c1', hasMore: true });
    const tokens = new TokenProvider({ hubUrl: HUB, issuerId: ISSUER, keyId: 'k', privateKey, fetch });
    const client = new TrackhubClient({ hubUrl: HUB, issuerId: ISSUER, tokens, fetch });
    const handler = new NotificationHandler({ secrets: [webhookSecret()], store: new MemoryNotificationStore(), onUpdate: () => {} });
    expect(await client.syncNotifications({ handler, after: 'c1' })).toEqual({ nextCursor: 'c1', applied: 0, duplicates: 0, stale: 0 });
  });
});
