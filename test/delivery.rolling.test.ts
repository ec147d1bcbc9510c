import { describe, expect, it } from 'vitest';
import { chaosRun, describeFigures } from '../bench/chaos.ts';

/**
 * A rolling restart, the small run of bench/chaos.ts that stays in the suite: an API process and two
 * worker processes on PostgreSQL; 2,000 track requests flow while each worker in turn gets SIGTERM once a
 * quarter (then half) of the notifications are in, drains and is started again. The receivers fail 10 %,
 * hang 1 % and take 0-400 ms to answer (a back-end doing some work), so a stopping worker has sends under
 * way that the receiver is processing. A worker that cut them short at SIGTERM never heard those answers,
 * and their rows went out again after the lease under the same webhook-id: duplicates (8 to 46 in runs of
 * the old code). A graceful stop lets them finish and records them: nothing lost, nothing received twice.
 */
describe('rolling restart on postgres: two workers SIGTERMed in turn under load', () => {
  it('every notification is received exactly once and each worker exits 0', async () => {
    const [f] = await chaosRun({
      notifications: 0, // no kill phase: kills duplicate by nature (test/delivery.chaos.test.ts bounds them)
      kills: 0,
      issuers: 3,
      rollingNotifications: 2000,
      failRate: 0.1,
      hangRate: 0.01,
      latencyMs: 200,
      seed: 20261205,
      rate: 300,
      // Long enough that an answer a loaded machine delays is not taken for a timeout (a timeout after
      // the receiver processed the request is a legitimate repeat, not the one this test is about).
      deliveryTimeoutMs: 5000,
    });
    for (const line of describeFigures(f)) console.log(line);
    expect(f.phase).toBe('rolling');
    expect(f.notifications).toBe(2000);
    expect(f.lost).toBe(0);
    expect(f.duplicates).toBe(0);
    expect(f.exitCodes).toEqual([0, 0]);
  }, 400_000); // a hang ceiling: about 30 s alone, minutes on a loaded machine
});
