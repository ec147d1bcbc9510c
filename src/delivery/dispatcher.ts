import { sql } from 'kysely';
import type { Logger } from 'pino';
import { Agent, request } from 'undici';
import type { Db } from '../store/db.ts';
import { nextRetryDelayMs } from './retry.ts';
import { signatureHeader } from './signing.ts';
import { deliveryMetrics } from './metrics.ts';
import { WorkLoop } from '../work-loop.ts';

export interface DispatcherOptions {
  db: Db;
  log: Logger;
  retryScheduleMs: number[];
  leaseMs: number;
  /** Rows claimed per round trip to the store. */
  batchSize?: number;
  /** Notifications in flight at once from this process. */
  concurrency?: number;
  timeoutMs?: number;
  idleWaitMs?: number;
  random?: () => number;
}

interface ClaimedRow {
  id: string;
  issuer_id: string;
  operation_id: string;
  correlation_id: string;
  payload: string;
  attempts: number;
}

interface IssuerTarget {
  url: string;
  secrets: string[];
  enabled: boolean;
  loadedAt: number;
}

const ISSUER_CACHE_MS = 5_000;

/**
 * Sends outbox rows to issuers. Rows are claimed with a lease (`FOR UPDATE SKIP LOCKED`), so any number
 * of dispatchers share one outbox; a dispatcher that dies only delays its rows until the lease ends.
 */
export class Dispatcher {
  private readonly agent: Agent;
  private readonly issuers = new Map<string, IssuerTarget>();
  private readonly loop: WorkLoop;

  constructor(private readonly o: DispatcherOptions) {
    const timeout = o.timeoutMs ?? 15_000;
    this.agent = new Agent({ connections: 64, headersTimeout: timeout, bodyTimeout: timeout, connectTimeout: timeout });
    this.loop = new WorkLoop(() => this.runOnce(), o.batchSize ?? 100, o.idleWaitMs ?? 500, (err) => o.log.error({ err }, 'delivery round failed'));
  }

  start(): void {
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
    await this.agent.close();
  }

  /** Something was just committed to the outbox: look now rather than at the next idle tick. */
  kick(): void {
    this.loop.kick();
  }

  /** Claims one batch of due notifications and attempts each; returns how many were attempted. */
  async runOnce(): Promise<number> {
    const rows = await this.claim(this.o.batchSize ?? 100);
    if (rows.length === 0) return 0;
    const queue = [...rows];
    const workers = Array.from({ length: Math.min(this.o.concurrency ?? 32, rows.length) }, async () => {
      for (let row = queue.shift(); row; row = queue.shift()) await this.attempt(row);
    });
    await Promise.all(workers);
    return rows.length;
  }

  private async claim(limit: number): Promise<ClaimedRow[]> {
    const res = await sql<ClaimedRow>`
      update outbox o
      set next_attempt_at = now() + ${`${this.o.leaseMs} milliseconds`}::interval, attempts = o.attempts + 1
      from (
        select id from outbox
        where state = 'pending' and next_attempt_at <= now()
        order by next_attempt_at
        limit ${limit}
        for update skip locked
      ) due
      where o.id = due.id
      returning o.id, o.issuer_id, o.operation_id, o.correlation_id, o.payload, o.attempts`.execute(this.o.db);
    return res.rows;
  }

  private async target(issuerId: string): Promise<IssuerTarget | undefined> {
    const cached = this.issuers.get(issuerId);
    if (cached && Date.now() - cached.loadedAt < ISSUER_CACHE_MS) return cached;
    const row = await this.o.db
      .selectFrom('issuers')
      .select(['notification_base_url', 'webhook_secrets', 'enabled'])
      .where('issuer_id', '=', issuerId)
      .executeTakeFirst();
    if (!row) return undefined;
    const target: IssuerTarget = {
      url: `${row.notification_base_url.replace(/\/+$/, '')}/notifications/d1/v2/issuers/${encodeURIComponent(issuerId)}/cards`,
      secrets: row.webhook_secrets as unknown as string[],
      enabled: row.enabled,
      loadedAt: Date.now(),
    };
    this.issuers.set(issuerId, target);
    return target;
  }

  private async attempt(row: ClaimedRow): Promise<void> {
    const target = await this.target(row.issuer_id);
    if (!target || !target.enabled) {
      // Nothing is dropped for an issuer that is gone or disabled: the row waits for its next retry slot.
      await this.failed(row, target ? 'issuer disabled' : 'issuer unknown', undefined, 0, null);
      return;
    }
    const body = `{"operations":[${row.payload}]}`;
    const timestamp = Math.floor(Date.now() / 1000);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-correlation-id': row.correlation_id,
      'webhook-id': row.id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signatureHeader(target.secrets, row.id, timestamp, body),
      'user-agent': 'trackhub',
    };
    const started = performance.now();
    let status: number | undefined;
    let responseText: string | null = null;
    let error: string | undefined;
    let retryAfter: number | undefined;
    try {
      const res = await request(target.url, { method: 'POST', headers, body, dispatcher: this.agent });
      status = res.statusCode;
      responseText = await readPrefix(res.body, 2048);
      const ra = res.headers['retry-after'];
      if (typeof ra === 'string' && /^\d+$/.test(ra)) retryAfter = Number(ra) * 1000;
    } catch (err) {
      error = (err as Error).message || String(err);
    }
    const latency = Math.round(performance.now() - started);
    await this.o.db
      .insertInto('delivery_attempts')
      .values({ notification_id: row.id, attempt: row.attempts, http_status: status ?? null, error: error ?? null, latency_ms: latency, response_body: responseText })
      .onConflict((oc) => oc.doNothing())
      .execute();
    deliveryMetrics.latency.observe(latency / 1000);
    if (status !== undefined && status >= 200 && status < 300) {
      await this.o.db
        .updateTable('outbox')
        .set({ state: 'delivered', delivered_at: sql`now()`, last_error: null })
        .where('id', '=', row.id)
        .execute();
      deliveryMetrics.outcomes.inc({ outcome: 'delivered' });
      return;
    }
    await this.failed(row, error ?? `HTTP ${status}`, retryAfter, latency, status ?? null);
  }

  private async failed(row: ClaimedRow, reason: string, retryAfterMs: number | undefined, _latency: number, _status: number | null) {
    const delay = nextRetryDelayMs(this.o.retryScheduleMs, row.attempts, { retryAfterMs, random: this.o.random });
    if (delay === undefined) {
      await this.o.db.updateTable('outbox').set({ state: 'dead', last_error: reason }).where('id', '=', row.id).execute();
      deliveryMetrics.outcomes.inc({ outcome: 'dead' });
      this.o.log.warn({ notificationId: row.id, issuerId: row.issuer_id, reason }, 'notification dead after last attempt');
      return;
    }
    await this.o.db
      .updateTable('outbox')
      .set({ next_attempt_at: new Date(Date.now() + delay), last_error: reason })
      .where('id', '=', row.id)
      .execute();
    deliveryMetrics.outcomes.inc({ outcome: 'retry' });
  }
}

async function readPrefix(body: AsyncIterable<Buffer> & { destroy?: () => void }, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    if (size < max) chunks.push(chunk);
    size += chunk.length;
  }
  return Buffer.concat(chunks).subarray(0, max).toString('utf8');
}
