import { fork } from 'node:child_process';
import { join } from 'node:path';

/**
 * `count` issuer receivers in a child process, failing `failureRate` of requests with a 500. Counts what
 * they accepted (2xx): by webhook-id (duplicates) and by operation (sequence 1, so every update).
 */
export async function chaosReceivers(count: number, failureRate: number) {
  const child = fork(join(import.meta.dirname, 'chaos-receivers.mjs'), [String(count), String(failureRate)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const accepted = new Map<string, number>();
  const acceptedIds = new Map<string, number>();
  const pending = new Map<number, (m: unknown) => void>();
  let nextId = 0;
  const urls = await new Promise<string[]>((resolve, reject) => {
    child.once('error', reject);
    child.on('message', (m: { ready?: string[]; accepted?: string; ops?: string[]; done?: number; id?: number }) => {
      if (m.ready) resolve(m.ready);
      else if (m.accepted) {
        acceptedIds.set(m.accepted, (acceptedIds.get(m.accepted) ?? 0) + 1);
        for (const op of m.ops ?? []) accepted.set(op, (accepted.get(op) ?? 0) + 1);
      } else {
        const id = m.done ?? m.id;
        if (id !== undefined) pending.get(id)?.(m);
        if (id !== undefined) pending.delete(id);
      }
    });
  });
  const ask = <T>(msg: Record<string, unknown>) =>
    new Promise<T>((resolve) => {
      const id = nextId++;
      pending.set(id, resolve as (m: unknown) => void);
      child.send({ ...msg, id });
    });
  return {
    list: urls.map((url, i) => ({ url, down: () => ask({ down: i }), up: () => ask({ up: i }) })),
    accepted,
    acceptedIds,
    attempts: async () => (await ask<{ stats: { attempts: number } }>({ stats: true })).stats.attempts,
    close: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.disconnect();
      await exited;
    },
  };
}
