import { describe, expect, it } from 'vitest';
import { describeRolling, rollingRestart } from '../../bench/scale/rolling.ts';

/**
 * Scale-out on one PostgreSQL: 2 api and 2 worker processes (dist/, TRACKHUB_ROLE=api/worker), track
 * requests flowing round-robin over the api processes (a refused or reset connection sent again on the
 * other, as a load balancer would), while each api and then each worker gets SIGTERM and is started again.
 * Every card is tracked twice (the second request supersedes the first), so each first operation has two
 * updates whose order the workers must keep across the restarts.
 */
describe('rolling restart of api and worker processes under load on postgres', () => {
  it('loses no accepted operation and no committed notification, and keeps each operation in order', async () => {
    const rate = 150;
    const r = await rollingRestart(rate, 1000, 2);
    for (const line of describeRolling(r, rate)) console.log(line);
    expect(r.stops.map((s) => s.what)).toEqual(['api 0', 'api 1', 'worker 0', 'worker 1']);
    expect(r.stops.map((s) => s.exitCode)).toEqual([0, 0, 0, 0]);
    // The load did meet the restarts: requests went to a stopped api and were sent to the other one.
    expect(r.failedOver).toBeGreaterThan(0);
    expect(r.accepted).toBeGreaterThan(200);
    // A superseded operation's second update, and the new operation's first: more rows than operations.
    expect(r.committed).toBeGreaterThan(r.accepted);
    expect(r.lostOperations).toBe(0);
    expect(r.lostNotifications).toBe(0);
    expect(r.received).toBe(r.committed);
    expect(r.outOfOrder).toBe(0);
  }, 180_000); // a hang ceiling: about 40 s alone, longer on a loaded machine
});
