import { fork } from 'node:child_process';
import { join } from 'node:path';

export interface ChaosReceiverOptions {
  /** Share of requests left unanswered (the hub's delivery timeout ends them). */
  hangRate?: number;
  /** Seeds the fail/hang/latency draws (Math.random without one). */
  seed?: number;
  /** Mean time to answer an accepted request (uniform over 0 to twice this). */
  latencyMs?: number;
}

/**
 * `count` issuer receivers in a child process, failing `failureRate` of requests with a 500 (and, with
 * options, hanging some and answering the rest after a latency). Counts what they accepted (2xx): by
 * webhook-id (duplicates), with the time of each receipt, and by operation (sequence 1, so every update).
 */
export async function chaosReceivers(count: number, failureRate: number, opts: ChaosReceiverOptions = {}) {
  const args = [String(count), String(failureRate), String(opts.hangRate ?? 0), opts.seed === undefined ? '' : String(opts.seed), String(opts.latencyMs ?? 0)];
  const child = fork(join(import.meta.dirname, 'chaos-receivers.mjs'), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const accepted = new Map<string, number>();
  const acceptedIds = new Map<string, number>();
  /** Every receipt of each webhook-id (epoch ms, the receivers' clock): the second and later are duplicates. */
  const receipts = new Map<string, number[]>();
  /** The operations (sequence 1) each webhook-id carried. */
  const operationsOf = new Map<string, string[]>();
  const pending = new Map<number, (m: unknown) => void>();
  let nextId = 0;
  const urls = await new Promise<string[]>((resolve, reject) => {
    child.once('error', reject);
    child.on('message', (m: { ready?: string[]; accepted?: string; ops?: string[]; at?: number; done?: number; id?: number }) => {
      if (m.ready) resolve(m.ready);
      else if (m.accepted) {
        acceptedIds.set(m.accepted, (acceptedIds.get(m.accepted) ?? 0) + 1);
        const times = receipts.get(m.accepted);
        if (times) times.push(m.at ?? Date.now());
        else {
          receipts.set(m.accepted, [m.at ?? Date.now()]);
          operationsOf.set(m.accepted, m.ops ?? []);
        }
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
  const stats = () => ask<{ stats: { attempts: number; hangs: number } }>({ stats: true }).then((m) => m.stats);
  return {
    list: urls.map((url, i) => ({ url, down: () => ask({ down: i }), up: () => ask({ up: i }) })),
    accepted,
    acceptedIds,
    receipts,
    operationsOf,
    attempts: async () => (await stats()).attempts,
    stats,
    close: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.disconnect();
      await exited;
    },
  };
}

export type ChaosReceivers = Awaited<ReturnType<typeof chaosReceivers>>;
