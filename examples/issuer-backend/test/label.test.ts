import { describe, expect, it } from 'vitest';
import { createBackend } from '../src/backend.js';

// Feed items carry no signature: the log line of an update taken from the catch-up feed must not claim
// one was verified (a reader would trust it for the wrong reason).
describe('examples/issuer-backend log line', () => {
  it('labels a feed item as read from the feed, unsigned, and a push as signature verified', async () => {
    const lines: string[] = [];
    const backend = createBackend({ issuerId: 'LABELBANK1', secrets: [`whsec_${Buffer.alloc(32, 7).toString('base64')}`], log: (l: string) => void lines.push(l) });
    const op = {
      operationId: 'op_label_1',
      operation: 'STANDALONE_TRACKING',
      status: 'PENDING',
      issuerId: 'LABELBANK1',
      cardId: 'card-label',
      timestamp: '2026-12-06T05:00:00.000Z',
      startTime: '2026-12-06T05:00:00.000Z',
      sequenceNumber: 1,
      details: { trackingType: 'SHIPMENT', status: 'CARD_SHIPPED' },
    };
    const r = await backend.handler.process('msg_label_1', { operations: [op] } as never, { webhookId: 'msg_label_1', timestamp: new Date(), correlationId: undefined, source: 'sync' });
    expect(r).toMatchObject({ outcome: 'applied', applied: 1 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/\(sync, from the hub's feed: not signed, read with the issuer's token\)$/);
    expect(lines[0]).not.toContain('verified');
  });
});
