import { describe, expect, it } from 'vitest';
import { WorkLoop } from './work-loop.ts';

describe('WorkLoop', () => {
  it('runs the next round at once when kicked during a round, not after the idle timeout', async () => {
    let rounds = 0;
    let loop: WorkLoop | undefined;
    const secondRound = new Promise<void>((resolve) => {
      loop = new WorkLoop(
        async () => {
          rounds++;
          if (rounds === 1) {
            // Work is committed (and the loop kicked) while this round is still looking.
            loop?.kick();
            await new Promise((r) => setImmediate(r));
          }
          if (rounds === 2) resolve();
          return 0; // never a full round: without the kick the loop would sleep
        },
        1,
        3_600_000, // an idle timeout no test would wait for: a lost kick hangs this test
        (err) => {
          throw err;
        },
      );
    });
    loop?.start();
    await secondRound;
    await loop?.stop();
    expect(rounds).toBe(2);
  });

  it('sleeps after a short round when nothing kicked it, and a kick while it sleeps wakes it', async () => {
    let rounds = 0;
    const loop = new WorkLoop(
      async () => {
        rounds++;
        return 0;
      },
      1,
      3_600_000,
      (err) => {
        throw err;
      },
    );
    loop.start();
    // The first round runs and the loop goes to sleep for an hour.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(rounds).toBe(1);
    loop.kick();
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(rounds).toBe(2);
    await loop.stop();
  });
});
