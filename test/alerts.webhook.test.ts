import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { sql } from 'kysely';
import { Agent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { operatorWebhookConfig } from '../src/alerts/config.ts';
import { OperatorAlertEvaluator } from '../src/alerts/evaluator.ts';
import { type OperatorEvent, OperatorWebhookSender, undiciStatusPost } from '../src/alerts/sender.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { startHub } from '../src/hub.ts';
import { createLogger } from '../src/logger.ts';
import type { Db } from '../src/store/db.ts';
import { openStore } from '../src/store/db.ts';
import { freePort, runCli, waitFor } from './helpers/processes.ts';
import { freshStore, STORE_KINDS, TEST_SECRET_KEY, type TestStore } from './helpers/stores.ts';

/** Operator webhooks against real receivers and real stores: signed events, once per transition, retried without holding the evaluator. */

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const MINUTE = 60_000;

interface Hit {
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
}

/** A receiver that records every request; `answer` gives each one's status, or 'hang' to never answer. */
async function receiverOf(answer: (n: number) => number | 'hang' = () => 204) {
  const hits: Hit[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const status = answer(hits.length);
      hits.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), status: status === 'hang' ? 0 : status });
      if (status !== 'hang') res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}/hooks/trackhub`,
    hits,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** The receiver's check, written from the Standard Webhooks spec (not with the hub's signing code). */
function verified(hit: Hit, secret = SECRET): OperatorEvent {
  const id = String(hit.headers['webhook-id']);
  const ts = String(hit.headers['webhook-timestamp']);
  const expected = createHmac('sha256', Buffer.from(secret.slice(6), 'base64')).update(`${id}.${ts}.${hit.body}`).digest('base64');
  expect(String(hit.headers['webhook-signature']).split(' ')).toContain(`v1,${expected}`);
  expect(Math.abs(Date.now() / 1000 - Number(ts))).toBeLessThan(300);
  return JSON.parse(hit.body) as OperatorEvent;
}

function logCapture() {
  const lines: string[] = [];
  return { lines, log: createLogger('debug', new Writable({ write: (chunk, _enc, done) => done(void lines.push(String(chunk))) })) };
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function store(kind: 'embedded' | 'postgres' = 'postgres'): Promise<TestStore> {
  const s = await freshStore(kind);
  cleanups.push(() => s.close());
  return s;
}

async function disabledIssuer(db: Db, id: string, disabled = true) {
  await sql`insert into issuers (issuer_id, name, notification_base_url, jwks, endpoint_disabled_at)
    values (${id}, 'Bank', 'https://bank.example', '{"keys":[]}', ${disabled ? new Date().toISOString() : null})
    on conflict (issuer_id) do update set endpoint_disabled_at = excluded.endpoint_disabled_at`.execute(db);
}

function evaluatorOn(db: Db, url: string, clock: { t: number }, o: { retryDelaysMs?: number[]; timeoutMs?: number; log?: ReturnType<typeof logCapture>['log'] } = {}) {
  const config = operatorWebhookConfig({ TRACKHUB_OPERATOR_WEBHOOK_URL: url, TRACKHUB_OPERATOR_WEBHOOK_SECRET: SECRET, TRACKHUB_OPERATOR_WEBHOOK_TIMEOUT: `${o.timeoutMs ?? 2000}ms` });
  if (!config) throw new Error('no operator webhook config');
  const agent = new Agent();
  const log = o.log ?? createLogger('silent');
  const sender = new OperatorWebhookSender({ target: config.target, post: undiciStatusPost(agent), log, timeoutMs: config.timeoutMs, retryDelaysMs: o.retryDelaysMs ?? [20, 20, 20], maxQueue: 100 });
  const evaluator = new OperatorAlertEvaluator({ db, log, sender, intervalMs: 60_000, stuckThreshold: 50, slowFiguresTtlMs: 0, now: () => clock.t });
  sender.start();
  cleanups.push(async () => {
    await evaluator.stop();
    await agent.destroy();
  });
  return { evaluator, sender };
}

describe('operator webhooks: a real receiver', () => {
  it.each(STORE_KINDS)('gets a signed firing event once the hold has run, and a resolved one when the state ends (%s)', async (kind) => {
    const s = await store(kind);
    const rx = await receiverOf();
    cleanups.push(rx.close);
    const clock = { t: Date.now() };
    const { evaluator } = evaluatorOn(s.db, rx.url, clock);
    await disabledIssuer(s.db, 'ISSUER_WH1');
    await disabledIssuer(s.db, 'ISSUER_WH2', false);
    const since = new Date(clock.t).toISOString();

    expect(await evaluator.evaluate()).toEqual([]); // observed, held (for: 5m)
    clock.t += 4 * MINUTE;
    expect(await evaluator.evaluate()).toEqual([]);
    clock.t += MINUTE;
    expect((await evaluator.evaluate()).map((e) => [e.alert, e.state, e.subject.id])).toEqual([['TrackhubIssuerEndpointDisabled', 'firing', 'ISSUER_WH1']]);
    await waitFor('the firing event', () => rx.hits.length === 1 || undefined, 10_000, 20);
    const firing = verified(rx.hits[0]);
    expect(firing).toMatchObject({ type: 'trackhub.operator_alert', alert: 'TrackhubIssuerEndpointDisabled', state: 'firing', since, subject: { kind: 'issuer', id: 'ISSUER_WH1' }, figures: { endpointDisabled: true } });
    expect(rx.hits[0].headers['content-type']).toBe('application/json');
    expect(rx.hits[0].body).not.toContain(SECRET.slice(6));

    clock.t += MINUTE;
    expect(await evaluator.evaluate()).toEqual([]); // still firing: nothing new
    await disabledIssuer(s.db, 'ISSUER_WH1', false);
    clock.t += MINUTE;
    expect((await evaluator.evaluate()).map((e) => e.state)).toEqual(['resolved']);
    await waitFor('the resolved event', () => rx.hits.length === 2 || undefined, 10_000, 20);
    const resolved = verified(rx.hits[1]);
    expect(resolved).toMatchObject({ alert: 'TrackhubIssuerEndpointDisabled', state: 'resolved', since, at: new Date(clock.t).toISOString(), subject: { id: 'ISSUER_WH1' } });
    expect(resolved.figures).toEqual({ endpointDisabled: false }); // the state at resolution, not at firing
    expect(rx.hits[1].headers['webhook-id']).not.toBe(rx.hits[0].headers['webhook-id']);
    expect(await evaluator.evaluate()).toEqual([]);
  });

  it('a condition that ends within its hold sends nothing', async () => {
    const s = await store();
    const rx = await receiverOf();
    cleanups.push(rx.close);
    const clock = { t: Date.now() };
    const { evaluator } = evaluatorOn(s.db, rx.url, clock);
    await disabledIssuer(s.db, 'ISSUER_WH3');
    await evaluator.evaluate();
    await disabledIssuer(s.db, 'ISSUER_WH3', false);
    clock.t += 10 * MINUTE;
    expect(await evaluator.evaluate()).toEqual([]);
    const left = await sql<{ n: number }>`select count(*)::int as n from operator_alerts`.execute(s.db);
    expect(left.rows[0].n).toBe(0);
    expect(rx.hits).toEqual([]);
  });
});

describe('operator webhooks: a resolved event reports the figures at resolution', () => {
  it('dead letters replayed minutes after firing: resolved at the next round, with deadLastHour 0', async () => {
    const s = await store();
    const rx = await receiverOf();
    cleanups.push(rx.close);
    const clock = { t: Date.now() };
    const { evaluator } = evaluatorOn(s.db, rx.url, clock);
    await disabledIssuer(s.db, 'ISSUER_WHR', false);
    await sql`insert into operations (operation_id, issuer_id, card_id, tracking_type, request_hash, status, is_open, state)
      values ('op_deadr', 'ISSUER_WHR', 'card1', 'PRODUCTION', 'h', 'PENDING', true, '{}')`.execute(s.db);
    for (const n of [1, 2, 3]) {
      await sql`insert into outbox (id, issuer_id, operation_id, sequence_number, correlation_id, payload, state, attempts)
        values (${`ntf_deadr${n}`}, 'ISSUER_WHR', 'op_deadr', ${n}, 'c1', '{}', 'dead', 1)`.execute(s.db);
      await sql`insert into delivery_attempts (notification_id, attempt, attempted_at, http_status, latency_ms) values (${`ntf_deadr${n}`}, 1, now(), 500, 3)`.execute(s.db);
    }
    const fired = await evaluator.evaluate();
    expect(fired.map((e) => [e.alert, e.state, e.figures])).toEqual([['TrackhubDeadLettersRising', 'firing', { deadLastHour: 3 }]]);
    // A replay: the dead letters are pending again, well within the hour.
    await sql`update outbox set state = 'pending' where issuer_id = 'ISSUER_WHR'`.execute(s.db);
    clock.t += 4 * MINUTE;
    const resolved = await evaluator.evaluate();
    expect(resolved.map((e) => [e.alert, e.state, e.figures])).toEqual([['TrackhubDeadLettersRising', 'resolved', { deadLastHour: 0 }]]);
    await waitFor('both events', () => rx.hits.length === 2 || undefined, 10_000, 20);
    expect(verified(rx.hits[1]).figures).toEqual({ deadLastHour: 0 });
  });
});

describe('operator webhooks: several workers on one database', () => {
  it('two evaluators racing round after round send one event per transition', async () => {
    const s = await store();
    const second = await openStore(s.url);
    cleanups.push(() => second.close());
    const rx = await receiverOf();
    cleanups.push(rx.close);
    const clock = { t: Date.now() };
    const a = evaluatorOn(s.db, rx.url, clock);
    const b = evaluatorOn(second.db, rx.url, clock);
    await disabledIssuer(s.db, 'ISSUER_WH4');
    const rounds = async (n: number) => (await Promise.all(Array.from({ length: n }, (_, i) => (i % 2 ? a : b).evaluator.evaluate()))).flat();

    expect(await rounds(6)).toEqual([]);
    clock.t += 5 * MINUTE;
    expect((await rounds(10)).map((e) => e.state)).toEqual(['firing']);
    await disabledIssuer(s.db, 'ISSUER_WH4', false);
    clock.t += MINUTE;
    expect((await rounds(10)).map((e) => e.state)).toEqual(['resolved']);
    await waitFor('both events', () => rx.hits.length >= 2 || undefined, 10_000, 20);
    await new Promise((r) => setTimeout(r, 200)); // a duplicate would have arrived by now
    expect(rx.hits.map((h) => verified(h).state)).toEqual(['firing', 'resolved']);
  });
});

describe('operator webhooks: a failing receiver', () => {
  it('is retried with the same webhook-id until it answers 2xx, while evaluation rounds go on', async () => {
    const s = await store();
    const rx = await receiverOf((n) => (n < 2 ? 503 : 200));
    cleanups.push(rx.close);
    const clock = { t: Date.now() };
    const { evaluator, sender } = evaluatorOn(s.db, rx.url, clock, { retryDelaysMs: [150, 150, 150] });
    await disabledIssuer(s.db, 'ISSUER_WH5');
    await evaluator.evaluate();
    clock.t += 5 * MINUTE;
    expect(await evaluator.evaluate()).toHaveLength(1);
    await waitFor('a refused attempt', () => rx.hits.length >= 1 || undefined, 10_000, 5);
    // A round while the event waits for its retry: it does not wait for the receiver.
    expect(await evaluator.evaluate()).toEqual([]);
    expect(sender.queued).toBe(1);
    await waitFor('the third attempt', () => sender.counts.sent === 1 || undefined, 10_000, 20);
    expect(rx.hits.map((h) => h.status)).toEqual([503, 503, 200]);
    expect(new Set(rx.hits.map((h) => h.headers['webhook-id'])).size).toBe(1);
    for (const h of rx.hits) expect(verified(h).state).toBe('firing');
  });

  it('a receiver that never answers times out and is retried; the evaluator is not held', async () => {
    const s = await store();
    let hang = true;
    const rx = await receiverOf(() => (hang ? 'hang' : 204));
    cleanups.push(rx.close);
    const clock = { t: Date.now() };
    const { evaluator, sender } = evaluatorOn(s.db, rx.url, clock, { timeoutMs: 400, retryDelaysMs: [50, 50] });
    await disabledIssuer(s.db, 'ISSUER_WH6');
    await evaluator.evaluate();
    clock.t += 5 * MINUTE;
    await evaluator.evaluate();
    await waitFor('the hanging attempt', () => rx.hits.length >= 1 || undefined, 10_000, 5);
    const started = performance.now();
    await disabledIssuer(s.db, 'ISSUER_WH6', false);
    clock.t += MINUTE;
    expect((await evaluator.evaluate()).map((e) => e.state)).toEqual(['resolved']); // queued behind the hanging one
    expect(performance.now() - started).toBeLessThan(400);
    hang = false;
    await waitFor('both delivered', () => sender.counts.sent === 2 || undefined, 10_000, 20);
    expect(rx.hits.filter((h) => h.status === 204).map((h) => verified(h).state)).toEqual(['firing', 'resolved']);
  });

  it('gives an event up after its retries, logging neither the URL\'s credentials nor the secret', async () => {
    const s = await store();
    const rx = await receiverOf(() => 500);
    cleanups.push(rx.close);
    const { lines, log } = logCapture();
    const clock = { t: Date.now() };
    const url = `http://alerts-user:pa55-w0rd-x@127.0.0.1:${rx.port}/hooks?token=q-t0ken-x`;
    const { evaluator, sender } = evaluatorOn(s.db, url, clock, { retryDelaysMs: [10, 10], log });
    await disabledIssuer(s.db, 'ISSUER_WH7');
    await evaluator.evaluate();
    clock.t += 5 * MINUTE;
    await evaluator.evaluate();
    await waitFor('given up', () => sender.counts.givenUp === 1 || undefined, 10_000, 20);
    expect(rx.hits).toHaveLength(3);
    expect(rx.hits[0].headers.authorization).toBe(`Basic ${Buffer.from('alerts-user:pa55-w0rd-x').toString('base64')}`);
    const text = lines.join('');
    expect(text).toContain('operator webhook event given up');
    expect(text).toContain(`"target":"http://127.0.0.1:${rx.port}"`);
    for (const secret of ['pa55-w0rd-x', 'q-t0ken-x', SECRET.slice(6), Buffer.from('alerts-user:pa55-w0rd-x').toString('base64')]) expect(text).not.toContain(secret);
  });
});

/** A receiver whose 2xx answer is odd: `respond` writes it (a huge body, a trickle, nothing). */
async function oddReceiver(respond: (res: import('node:http').ServerResponse) => void) {
  let hits = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      hits++;
      respond(res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`, hits: () => hits };
}

function senderTo(url: string, o: { timeoutMs: number; log?: ReturnType<typeof logCapture>['log']; retryDelaysMs?: number[] }) {
  const config = operatorWebhookConfig({ TRACKHUB_OPERATOR_WEBHOOK_URL: url, TRACKHUB_OPERATOR_WEBHOOK_SECRET: SECRET });
  if (!config) throw new Error('no operator webhook config');
  const agent = new Agent();
  const sender = new OperatorWebhookSender({ target: config.target, post: undiciStatusPost(agent), log: o.log ?? createLogger('silent'), timeoutMs: o.timeoutMs, retryDelaysMs: o.retryDelaysMs ?? [20, 20, 20], maxQueue: 100 });
  cleanups.push(async () => {
    await sender.stop();
    await agent.destroy();
  });
  sender.start();
  return sender;
}

const EVENT: OperatorEvent = {
  type: 'trackhub.operator_alert', alert: 'TrackhubDeadLettersRising', state: 'firing', since: '2026-12-06T07:40:00.000Z', at: '2026-12-06T07:40:00.000Z',
  subject: { kind: 'issuer', id: 'ISSUER_WH9' }, summary: 'x', figures: { deadLastHour: 1 },
};

describe('operator webhooks: a 2xx is a delivery, whatever its body', () => {
  it('a 200 with a body over 8 MiB is sent once', async () => {
    const rx = await oddReceiver((res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(Buffer.alloc(9 * 1024 * 1024, 97));
    });
    const sender = senderTo(rx.url, { timeoutMs: 2000 });
    sender.enqueue(EVENT);
    await waitFor('sent', () => sender.counts.sent === 1 || undefined, 10_000, 10);
    await new Promise((r) => setTimeout(r, 300)); // room for a wrongful retry (20 ms apart)
    expect(rx.hits()).toBe(1);
    expect(sender.counts).toEqual({ sent: 1, givenUp: 0, dropped: 0 });
  });

  it('a 200 whose body trickles past the timeout is sent once', async () => {
    const timers: NodeJS.Timeout[] = [];
    cleanups.push(async () => timers.forEach(clearInterval));
    const rx = await oddReceiver((res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      timers.push(setInterval(() => res.write('.'), 50));
    });
    const sender = senderTo(rx.url, { timeoutMs: 300 });
    sender.enqueue(EVENT);
    await waitFor('sent', () => sender.counts.sent === 1 || undefined, 10_000, 10);
    await new Promise((r) => setTimeout(r, 1000)); // past the 300 ms timeout and several retry delays
    expect(rx.hits()).toBe(1);
    expect(sender.counts.sent).toBe(1);
  });
});

describe('operator webhooks: stopping', () => {
  it('aborts a send to a hanging receiver at once (30 s timeout) and logs the events left', async () => {
    const rx = await oddReceiver(() => {}); // never answers
    const { lines, log } = logCapture();
    const sender = senderTo(rx.url, { timeoutMs: 30_000, log });
    sender.enqueue(EVENT);
    sender.enqueue({ ...EVENT, state: 'resolved' });
    await waitFor('the hanging send', () => rx.hits() === 1 || undefined, 10_000, 10);
    const started = performance.now();
    await sender.stop();
    const ms = performance.now() - started;
    expect(ms).toBeLessThan(1000);
    const left = lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'operator webhook events not sent before stop');
    expect(left).toMatchObject({ events: 2 });
    expect(lines.join('')).not.toContain('will retry');
  });
});

describe('operator webhooks: stopping on the last attempt', () => {
  it('an event whose last attempt stop() cuts off is counted not sent, not given up', async () => {
    const rx = await oddReceiver(() => {}); // never answers
    const { lines, log } = logCapture();
    const sender = senderTo(rx.url, { timeoutMs: 30_000, log, retryDelaysMs: [] }); // one attempt: it is the last
    sender.enqueue(EVENT);
    await waitFor('the hanging send', () => rx.hits() === 1 || undefined, 10_000, 10);
    await sender.stop();
    expect(sender.counts.givenUp).toBe(0);
    const logged = lines.map((l) => JSON.parse(l));
    expect(logged.find((l) => l.msg === 'operator webhook event given up')).toBeUndefined();
    expect(logged.find((l) => l.msg === 'operator webhook events not sent before stop')).toMatchObject({ events: 1 });
  });
});

describe('operator webhooks: configuration', () => {
  const url = 'https://alerts.example/hook';
  it.each([
    [{ TRACKHUB_OPERATOR_WEBHOOK_URL: url }, 'TRACKHUB_OPERATOR_WEBHOOK_SECRET: is required with TRACKHUB_OPERATOR_WEBHOOK_URL'],
    [{ TRACKHUB_OPERATOR_WEBHOOK_SECRET: SECRET }, 'TRACKHUB_OPERATOR_WEBHOOK_SECRET: is set but TRACKHUB_OPERATOR_WEBHOOK_URL is not'],
    [{ TRACKHUB_OPERATOR_WEBHOOK_URL: url, TRACKHUB_OPERATOR_WEBHOOK_SECRET: 'whsec_c2hvcnQ=' }, 'TRACKHUB_OPERATOR_WEBHOOK_SECRET: is not a Standard Webhooks secret'],
    [{ TRACKHUB_OPERATOR_WEBHOOK_URL: url, TRACKHUB_OPERATOR_WEBHOOK_SECRET: SECRET.slice(6) }, 'TRACKHUB_OPERATOR_WEBHOOK_SECRET: is not a Standard Webhooks secret'],
    [{ TRACKHUB_OPERATOR_WEBHOOK_URL: 'ftp://u:hunter2@alerts.example/', TRACKHUB_OPERATOR_WEBHOOK_SECRET: SECRET }, 'TRACKHUB_OPERATOR_WEBHOOK_URL: must be an http(s) URL'],
    [{ TRACKHUB_OPERATOR_WEBHOOK_URL: 'not a url hunter2', TRACKHUB_OPERATOR_WEBHOOK_SECRET: SECRET }, 'TRACKHUB_OPERATOR_WEBHOOK_URL: is not a URL'],
    [{ TRACKHUB_OPERATOR_WEBHOOK_URL: url, TRACKHUB_OPERATOR_WEBHOOK_SECRET: SECRET, TRACKHUB_OPERATOR_WEBHOOK_TIMEOUT: '2m' }, 'TRACKHUB_OPERATOR_WEBHOOK_TIMEOUT: must be at most 30s'],
    [{ TRACKHUB_OPERATOR_STUCK_THRESHOLD: '-1' }, 'TRACKHUB_OPERATOR_STUCK_THRESHOLD: "-1" is not a whole number'],
  ])('refuses %o', (env, message) => {
    let thrown: unknown;
    try {
      loadConfig(env);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as Error).message).toContain(message);
    for (const secret of [SECRET.slice(6), 'hunter2']) expect((thrown as Error).message).not.toContain(secret);
  });

  it('the CLI refuses to start with one line naming the variable', async () => {
    const proc = runCli(['serve'], { TRACKHUB_OPERATOR_WEBHOOK_URL: url, TRACKHUB_PORT: String(await freePort()) });
    const code = await new Promise<number | null>((r) => proc.child.once('exit', (c) => r(c)));
    expect(code).not.toBe(0);
    expect(proc.output().trim()).toMatch(/TRACKHUB_OPERATOR_WEBHOOK_SECRET: is required with TRACKHUB_OPERATOR_WEBHOOK_URL/);
    expect(proc.output().trim().split('\n')).toHaveLength(1);
  });

  it('only serve judges them: other commands run with a half-set pair, which they ignore', async () => {
    expect(loadConfig({ TRACKHUB_OPERATOR_WEBHOOK_SECRET: SECRET }, { operatorAlerts: false }).operatorWebhook).toBeUndefined();
    const s = await store();
    const env = { TRACKHUB_DATABASE_URL: s.url, TRACKHUB_SECRET_KEY: TEST_SECRET_KEY.toBase64(), TRACKHUB_OPERATOR_WEBHOOK_SECRET: SECRET };
    const proc = runCli(['issuers', 'list'], env);
    const code = await new Promise<number | null>((r) => proc.child.once('exit', (c) => r(c)));
    expect(code, proc.output()).toBe(0);
    expect(proc.output()).not.toContain('TRACKHUB_OPERATOR_WEBHOOK');
    const serve = runCli(['serve'], { ...env, TRACKHUB_PORT: String(await freePort()) });
    expect(await new Promise<number | null>((r) => serve.child.once('exit', (c) => r(c)))).toBe(2);
    expect(serve.output()).toContain('TRACKHUB_OPERATOR_WEBHOOK_SECRET: is set but TRACKHUB_OPERATOR_WEBHOOK_URL is not');
  });

  it('a worker started with the variables sends a notification gone dead to the receiver', async () => {
    const s = await store();
    const rx = await receiverOf();
    cleanups.push(rx.close);
    await disabledIssuer(s.db, 'ISSUER_WH8', false);
    await sql`insert into operations (operation_id, issuer_id, card_id, tracking_type, request_hash, status, is_open, state)
      values ('op_dead1', 'ISSUER_WH8', 'card1', 'PRODUCTION', 'h', 'PENDING', true, '{}')`.execute(s.db);
    await sql`insert into outbox (id, issuer_id, operation_id, sequence_number, correlation_id, payload, state, attempts)
      values ('ntf_dead1', 'ISSUER_WH8', 'op_dead1', 1, 'c1', '{}', 'dead', 1)`.execute(s.db);
    await sql`insert into delivery_attempts (notification_id, attempt, attempted_at, http_status, latency_ms) values ('ntf_dead1', 1, now(), 500, 3)`.execute(s.db);
    const env = {
      TRACKHUB_DATABASE_URL: s.url, TRACKHUB_SECRET_KEY: TEST_SECRET_KEY.toBase64(), TRACKHUB_ROLE: 'worker', TRACKHUB_PORT: '0', TRACKHUB_LOG_LEVEL: 'silent',
      TRACKHUB_DATA_DIR: `${process.env.TRACKHUB_TEST_TMP}/wh-${randomBytes(4).toString('hex')}`,
      TRACKHUB_OPERATOR_WEBHOOK_URL: rx.url, TRACKHUB_OPERATOR_WEBHOOK_SECRET: SECRET, TRACKHUB_OPERATOR_ALERT_INTERVAL: '100ms',
    };
    const hub = await startHub(loadConfig(env), createLogger('silent'));
    cleanups.push(() => hub.close());
    await waitFor('the dead-letter event', () => rx.hits.length >= 1 || undefined, 15_000, 20);
    expect(verified(rx.hits[0])).toMatchObject({ alert: 'TrackhubDeadLettersRising', state: 'firing', subject: { kind: 'issuer', id: 'ISSUER_WH8' }, figures: { deadLastHour: 1 } });
  });
});
