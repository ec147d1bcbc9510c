import { describe, expect, it } from 'vitest';
import { MemoryNotificationStore, NotificationHandler, type NotificationMeta, type Operation, WebhookVerificationError } from '../src/index.ts';
import { op, signed, webhookSecret } from './helpers.ts';

const secret = webhookSecret('handler');

function setup(opts: { failOn?: (o: Operation) => boolean; store?: MemoryNotificationStore } = {}) {
  const applied: { id: string; seq: number; meta: NotificationMeta }[] = [];
  const stale: { id: string; seq: number }[] = [];
  const handler = new NotificationHandler({
    secrets: [secret],
    store: opts.store ?? new MemoryNotificationStore(),
    onUpdate: async (o, meta) => {
      if (opts.failOn?.(o)) throw new Error('the application is down');
      applied.push({ id: o.operationId, seq: o.sequenceNumber, meta });
    },
    onStale: (o) => {
      stale.push({ id: o.operationId, seq: o.sequenceNumber });
    },
  });
  const push = (ops: ReturnType<typeof op>[], id?: string) => {
    const n = signed({ operations: ops }, { secrets: [secret], id, correlationId: 'corr-1' });
    return handler.handle(n.body, n.headers);
  };
  return { handler, applied, stale, push };
}

describe('NotificationHandler', () => {
  it('applies a verified notification and passes its meta', async () => {
    const { applied, push } = setup();
    expect(await push([op('op-a', 1)], 'msg_1')).toEqual({ outcome: 'applied', applied: 1, stale: 0 });
    expect(applied).toHaveLength(1);
    expect(applied[0].meta).toMatchObject({ webhookId: 'msg_1', correlationId: 'corr-1', source: 'push' });
    expect(applied[0].meta.timestamp).toBeInstanceOf(Date);
  });

  it('drops a webhook-id already taken (the hub retrying after a lost answer)', async () => {
    const { applied, push } = setup();
    await push([op('op-a', 1)], 'msg_1');
    expect(await push([op('op-a', 1)], 'msg_1')).toEqual({ outcome: 'duplicate', applied: 0, stale: 0 });
    expect(applied).toHaveLength(1);
  });

  it('applies updates newer than the last applied, reports older ones as stale (the replay order 1, 3, 2, 4, 6, 5, 7, 8)', async () => {
    const { applied, stale, push } = setup();
    for (const n of [1, 3, 2, 4, 6, 5, 7, 8]) await push([op('op-a', n)], `msg_${n}`);
    expect(applied.map((a) => a.seq)).toEqual([1, 3, 4, 6, 7, 8]);
    expect(stale).toEqual([
      { id: 'op-a', seq: 2 },
      { id: 'op-a', seq: 5 },
    ]);
  });

  it('keeps each operation apart: one operation\'s number never makes another\'s stale', async () => {
    const { applied, stale, push } = setup();
    await push([op('op-a', 5)]);
    await push([op('op-b', 1)]);
    expect(applied.map((a) => `${a.id}:${a.seq}`)).toEqual(['op-a:5', 'op-b:1']);
    expect(stale).toEqual([]);
  });

  it('within a batch, applies an operation\'s updates oldest first', async () => {
    const { applied, push } = setup();
    const r = await push([op('op-a', 3), op('op-b', 1), op('op-a', 2)]);
    expect(r).toEqual({ outcome: 'applied', applied: 3, stale: 0 });
    expect(applied.map((a) => `${a.id}:${a.seq}`)).toEqual(['op-a:2', 'op-a:3', 'op-b:1']);
  });

  it('when onUpdate throws, records nothing: the same notification sent again is applied', async () => {
    let down = true;
    const { applied, push } = setup({ failOn: (o) => down && o.operationId === 'op-b' });
    await expect(push([op('op-a', 1), op('op-b', 1)], 'msg_x')).rejects.toThrow('the application is down');
    // op-a's update went to onUpdate before op-b failed (at least once); neither its sequence nor the id is recorded.
    expect(applied.map((a) => a.id)).toEqual(['op-a']);
    down = false;
    expect(await push([op('op-a', 1), op('op-b', 1)], 'msg_x')).toEqual({ outcome: 'applied', applied: 2, stale: 0 });
    expect(applied.map((a) => a.id)).toEqual(['op-a', 'op-a', 'op-b']);
  });

  it('refuses an unverified notification before the store is touched', async () => {
    const store = new MemoryNotificationStore();
    const { handler } = setup({ store });
    const n = signed({ operations: [op('op-a', 1)] }, { secrets: [webhookSecret('wrong')] });
    await expect(handler.handle(n.body, n.headers)).rejects.toBeInstanceOf(WebhookVerificationError);
    expect(store.size).toEqual({ webhookIds: 0, operations: 0 });
  });

  it('two deliveries of one notification at the same time apply it once', async () => {
    let release = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let calls = 0;
    const handler = new NotificationHandler({
      secrets: [secret],
      store: new MemoryNotificationStore(),
      onUpdate: async () => {
        calls++;
        await gate;
      },
    });
    const n = signed({ operations: [op('op-a', 1)] }, { secrets: [secret], id: 'msg_same' });
    const first = handler.handle(n.body, n.headers);
    const second = handler.handle(n.body, n.headers);
    while (calls === 0) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toBe(1); // the second waits for the first rather than answering "duplicate" before it is taken
    release();
    expect((await Promise.all([first, second])).map((r) => r.outcome).sort()).toEqual(['applied', 'duplicate']);
    expect(calls).toBe(1);
  });

  it('process() applies a feed item without a signature, de-duplicated with pushes', async () => {
    const { handler, applied, push } = setup();
    await push([op('op-a', 1)], 'msg_1');
    const meta = { webhookId: 'msg_1', timestamp: new Date(), correlationId: undefined, source: 'sync' as const };
    expect(await handler.process('msg_1', { operations: [op('op-a', 1)] }, meta)).toMatchObject({ outcome: 'duplicate' });
    expect(await handler.process('msg_2', { operations: [op('op-a', 2)] }, { ...meta, webhookId: 'msg_2' })).toMatchObject({ outcome: 'applied', applied: 1 });
    expect(applied.map((a) => a.meta.source)).toEqual(['push', 'sync']);
    await expect(handler.process('', { operations: [] }, meta)).rejects.toThrow(/invalid_webhook_id/);
    await expect(handler.process('x'.repeat(257), { operations: [] }, meta)).rejects.toThrow(/invalid_webhook_id/);
  });
});

describe('MemoryNotificationStore', () => {
  it('is bounded: the least recently seen webhook-ids and operations are forgotten past the sizes given', async () => {
    const store = new MemoryNotificationStore({ maxWebhookIds: 3, maxOperations: 2 });
    const { push, applied } = setup({ store });
    for (let i = 1; i <= 5; i++) await push([op(`op-${i}`, 1)], `msg_${i}`);
    expect(store.size).toEqual({ webhookIds: 3, operations: 2 });
    // msg_1 was forgotten (and op-1 too): taken again. msg_5 is remembered: a duplicate.
    expect((await push([op('op-1', 1)], 'msg_1')).outcome).toBe('applied');
    expect((await push([op('op-5', 1)], 'msg_5')).outcome).toBe('duplicate');
    expect(applied).toHaveLength(6);
  });

  it('refuses sizes that are not positive integers', () => {
    expect(() => new MemoryNotificationStore({ maxWebhookIds: 0 })).toThrow(TypeError);
    expect(() => new MemoryNotificationStore({ maxOperations: 1.5 })).toThrow(TypeError);
  });
});
