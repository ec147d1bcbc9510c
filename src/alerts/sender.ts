import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { type Dispatcher, request } from 'undici';
import { signatureHeader } from '../delivery/signing.ts';

/**
 * Sends operator alert events to TRACKHUB_OPERATOR_WEBHOOK_URL, signed as issuer notifications are
 * (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature v1). One send at a time, in the
 * order the transitions were claimed (a firing before its resolved); a failed send is retried with growing
 * delays while the evaluator goes on. The queue is bounded: past its size the oldest event is dropped and
 * logged. Events live in memory: a worker stopped with events still queued logs how many it drops.
 *
 * An event is delivered once a 2xx status arrives: the receiver's body is never read (a huge or trickling
 * one must not turn a delivered event into a failure and a duplicate). Stopping aborts a send in flight.
 */

export interface OperatorEvent {
  type: 'trackhub.operator_alert';
  alert: string;
  state: 'firing' | 'resolved';
  /** When the condition was first observed (the start of its hold). */
  since: string;
  /** When the transition was claimed: the firing time, or the resolution time. */
  at: string;
  subject: { kind: string; id: string | null };
  summary: string;
  figures: Record<string, unknown>;
}

export interface OperatorTarget {
  /** The URL without credentials; any user and password are sent as Basic authorization. */
  url: string;
  /** Scheme, host and port only (a path may hold a token): what logs show of the target. */
  shown: string;
  authorization?: string;
  secret: string;
}

/** One POST, answering the response status as soon as it arrives; `signal` aborts it (timeout, stop). */
export type StatusPost = (url: string, init: { headers: Record<string, string>; body: string; signal: AbortSignal }) => Promise<number>;

/** The real StatusPost: the body of the answer is thrown away unread (destroying it closes that connection). */
export function undiciStatusPost(dispatcher: Dispatcher): StatusPost {
  return async (url, init) => {
    const res = await request(url, { method: 'POST', headers: init.headers, body: init.body, dispatcher, signal: init.signal });
    res.body.on('error', () => {});
    res.body.destroy();
    return res.statusCode;
  };
}

export interface SenderOptions {
  target: OperatorTarget;
  post: StatusPost;
  log: Logger;
  timeoutMs: number;
  /** Wait before each retry; after the last, the event is given up. */
  retryDelaysMs: readonly number[];
  maxQueue: number;
  now?: () => number;
}

interface Queued {
  id: string;
  body: string;
  event: OperatorEvent;
  attempts: number;
}

export class OperatorWebhookSender {
  private readonly queue: Queued[] = [];
  private running = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  /** Waiting for an event (not in a retry's delay, which a new event must not cut short). */
  private idle = false;
  /** Aborted by stop(): a send in flight ends at once rather than at its timeout. */
  private readonly stopping = new AbortController();
  /** Sent, given up and dropped counts, for tests and the stop line. */
  readonly counts = { sent: 0, givenUp: 0, dropped: 0 };

  constructor(private readonly o: SenderOptions) {}

  enqueue(event: OperatorEvent): void {
    if (this.queue.length >= this.o.maxQueue) {
      const old = this.queue.shift() as Queued;
      this.counts.dropped++;
      this.o.log.warn({ alert: old.event.alert, state: old.event.state, subject: old.event.subject, queued: this.o.maxQueue }, 'operator webhook queue full: oldest event dropped');
    }
    this.queue.push({ id: `evt_${randomUUID()}`, body: JSON.stringify(event), event, attempts: 0 });
    if (this.idle) this.wake?.();
  }

  get queued(): number {
    return this.queue.length;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopping.abort();
    this.wake?.();
    await this.loop;
    if (this.queue.length > 0) this.o.log.warn({ events: this.queue.length, target: this.o.target.shown }, 'operator webhook events not sent before stop');
  }

  private async run(): Promise<void> {
    while (this.running) {
      const head = this.queue[0];
      if (!head) {
        this.idle = true;
        await this.sleep(Number.POSITIVE_INFINITY);
        this.idle = false;
        continue;
      }
      const ok = await this.attempt(head);
      if (this.queue[0] !== head) continue; // dropped meanwhile (queue full)
      if (ok) {
        this.queue.shift();
        this.counts.sent++;
        continue;
      }
      // Cut off by stop(): not a failure of the receiver, even on the last attempt; stop() counts it as not sent.
      if (!this.running) break;
      const delay = this.o.retryDelaysMs[head.attempts - 1];
      if (delay === undefined) {
        this.queue.shift();
        this.counts.givenUp++;
        this.o.log.error({ alert: head.event.alert, state: head.event.state, subject: head.event.subject, attempts: head.attempts, target: this.o.target.shown }, 'operator webhook event given up');
        continue;
      }
      // ±20 % jitter, as notification retries: instances retrying one receiver do not beat in step.
      await this.sleep(delay * (0.8 + Math.random() * 0.4));
    }
  }

  private async attempt(q: Queued): Promise<boolean> {
    q.attempts++;
    const timestamp = Math.floor((this.o.now?.() ?? Date.now()) / 1000);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'trackhub-operator-alerts',
      'webhook-id': q.id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signatureHeader([this.o.target.secret], q.id, timestamp, q.body),
      ...(this.o.target.authorization ? { authorization: this.o.target.authorization } : {}),
    };
    const fields = { alert: q.event.alert, state: q.event.state, subject: q.event.subject, attempt: q.attempts, target: this.o.target.shown };
    try {
      const signal = AbortSignal.any([this.stopping.signal, AbortSignal.timeout(this.o.timeoutMs)]);
      const status = await bounded(this.o.post(this.o.target.url, { headers, body: q.body, signal }), this.o.timeoutMs, this.stopping.signal);
      if (status >= 200 && status < 300) {
        this.o.log.info({ ...fields, status }, 'operator webhook event sent');
        return true;
      }
      this.o.log.warn({ ...fields, status }, 'operator webhook event refused; will retry');
    } catch (err) {
      if (this.stopping.signal.aborted) return false; // cut short by stop(), which logs what is left
      this.o.log.warn({ ...fields, error: scrub((err as Error).message, this.o.target) }, 'operator webhook event not delivered; will retry');
    }
    return false;
  }

  private sleep(ms: number): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = Number.isFinite(ms) ? setTimeout(() => done(), ms) : undefined;
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      this.wake = done;
    });
  }
}

/** The signal bounds the call; this bounds a poster that would not honour it (past the timeout, or on stop). */
async function bounded<T>(p: Promise<T>, ms: number, stop: AbortSignal): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let onStop: (() => void) | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms + 1000);
        onStop = () => reject(new Error('stopped'));
        stop.addEventListener('abort', onStop, { once: true });
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (onStop) stop.removeEventListener('abort', onStop);
  }
}

/** An error message with the target's URL, credentials and secret taken out, should a library quote them. */
function scrub(message: string, target: OperatorTarget): string {
  let out = message.slice(0, 300);
  for (const s of [target.secret, target.url, target.authorization?.slice(6)]) if (s) out = out.split(s).join('[redacted]');
  return out;
}
