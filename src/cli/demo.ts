import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { NotificationMeta, Operation } from '@trackhub/issuer';
import type { Command } from 'commander';
import { cleanEarlierDemos, DEMO_PREFIX, postmasterWorkingIn } from './demo-cleanup.ts';

/**
 * `trackhub demo`: the whole integration in one process, as a bank would build it. The hub runs on an
 * embedded store with sandbox carriers; beside it a demo issuer back-end, built only on the
 * `@trackhub/issuer` SDK (token, track, verified notifications), and a demo production site speaking the
 * Site API. One card goes through PRODUCTION and SHIPMENT to DELIVERED; each notification is printed as
 * the back-end verifies it.
 */

const ISSUER_ID = 'DEMOBANK01';
const SITE_ID = 'DEMOSITE';
/** Two hours of parcel life a second: the sandbox's delivered story (30 h) takes 15 s, each step a second or more apart. */
const DEMO_SPEED = 7200;
const NOTIFICATION_PATH = `/notifications/d1/v2/issuers/${ISSUER_ID}/cards`;

interface DemoOptions {
  data?: string;
  port?: string;
  timeout: string;
  keep?: boolean;
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('Run the hub, a demo issuer back-end (built on @trackhub/issuer) and a demo site, and track one card to DELIVERED')
    .option('--data <dir>', 'keep the hub data in this folder (default: a fresh private temporary folder, removed at the end)')
    .option('--port <port>', 'hub port (default: a free one)')
    .option('--timeout <seconds>', 'give up (exit 1) if the card is not delivered by then', '90')
    .option('--keep', 'keep everything running after delivery and print the console URL and an admin token, until Ctrl-C')
    .addHelpText(
      'after',
      '\nWhat it does, all on 127.0.0.1:\n' +
        '  1. starts the hub: embedded store, sandbox carriers (a parcel lives 2 h a second), polls every half second;\n' +
        `  2. starts the issuer back-end of ${ISSUER_ID} (generated ES256 key, generated webhook secret), registered with\n` +
        '     autoTrackShipment, receiving notifications through the SDK\'s NotificationHandler;\n' +
        `  3. registers the production site ${SITE_ID}; the back-end asks the hub to track a card (PRODUCTION), the\n` +
        '     site reports it shipped with a FedEx sandbox number (CARD_SHIPPED), which opens its SHIPMENT;\n' +
        '  4. prints each notification once verified (signature, de-duplication, order), and exits 0 when the card is\n' +
        '     delivered (about 20 s).\n' +
        'Ctrl-C stops the hub and its database and removes the temporary folder (a demo killed outright leaves\n' +
        'them; the next demo stops that database and removes the folder: only a real 0700 folder of this user,\n' +
        'or as root of the server\'s account, never through a link; a demo in another pid namespace sharing this\n' +
        'temporary folder would look gone, so do not share it between containers). The same steps by hand, with\n' +
        'your own back-end: docs/integration.md.',
    )
    .action(async (opts: DemoOptions) => {
      process.exit(await runDemo(opts));
    });
}

function usage(message: string): never {
  process.stderr.write(`trackhub demo: ${message}\n`);
  process.exit(2);
}

const clock = (d = new Date()) => d.toISOString().slice(11, 19);

/** One line per verified update: when, which operation type, its status, the shipment's, and the newest scan. */
function notificationLine(op: Operation, receivedAt = new Date()): string {
  const shipment = op.details.shipment;
  // A SHIPMENT opened by the site's report still carries its CARD_SHIPPED: the parcel's own status says more.
  const state = op.details.trackingType === 'SHIPMENT' ? (shipment?.status ?? '') : (op.details.status ?? op.errorCode ?? '');
  const scan = shipment?.lastCheckpoint;
  const where = scan ? `${scan.checkpointTime.slice(11, 19)}Z ${scan.city ?? scan.countryName ?? ''}: ${scan.message}`.replace(/\s+/g, ' ') : '';
  return `${clock(receivedAt)}  ${op.details.trackingType.padEnd(10)} ${op.status.padEnd(10)} ${state.padEnd(17)} ${where.padEnd(58)} verified (#${op.sequenceNumber})`;
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((ok, ko) => probe.once('error', ko).listen(0, '127.0.0.1', ok));
  const { port } = probe.address() as AddressInfo;
  await new Promise((ok) => probe.close(ok));
  return port;
}

async function call(url: string, init: { method: string; headers: Record<string, string>; body?: unknown }): Promise<Record<string, unknown>> {
  const res = await fetch(url, { method: init.method, headers: { ...init.headers, 'content-type': 'application/json' }, body: JSON.stringify(init.body) });
  const text = await res.text();
  // The hub's error bodies carry no secret; ours (the admin token, the keys) are in headers and requests only.
  if (!res.ok) throw new Error(`${init.method} ${new URL(url).pathname} answered ${res.status}: ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : {};
}

export async function runDemo(opts: DemoOptions): Promise<number> {
  const started = Date.now();
  if (opts.port !== undefined && !/^\d{1,5}$/.test(opts.port)) usage('--port must be a port number (1 to 65535)');
  const timeoutS = Number(opts.timeout);
  if (!/^\d+(\.\d+)?$/.test(opts.timeout) || timeoutS <= 0 || timeoutS > 86_400) usage('--timeout must be a number of seconds (more than 0, at most 86400)');
  const port = opts.port === undefined ? await freePort() : Number(opts.port);
  if (port < 1 || port > 65_535) usage('--port must be a port number (1 to 65535)');

  const [{ ConfigError, loadConfig }, { createLogger }, { startHub }, { sandboxNumbers }, sdk, { exportJWK, generateKeyPair }, embedded] = await Promise.all([
    import('../config.ts'),
    import('../logger.ts'),
    import('../hub.ts'),
    import('../sandbox/numbers.ts'),
    import('@trackhub/issuer'),
    import('jose'),
    import('../store/embedded.ts'),
  ]);
  const { serviceAccount } = await import('../store/embedded-folders.ts');

  // As root the demo hands its folder to the embedded server's account (made now if missing, as the hub would).
  const account = process.getuid?.() === 0 ? serviceAccount() : undefined;
  const cleaned = await cleanEarlierDemos({
    stop: (folder) => embedded.stopEmbeddedServer(folder),
    serverIn: (folder) => postmasterWorkingIn(folder, embedded.livePostmaster),
    alive: embedded.processAlive,
    owners: [process.getuid?.() ?? -1, ...(account ? [account.uid] : [])],
  });
  if (cleaned.length > 0) {
    process.stdout.write(`trackhub demo: cleaned up ${cleaned.length} earlier demo folder(s) left by a demo that was killed (${cleaned.join(', ')}), their embedded PostgreSQL stopped\n`);
  }

  // Private to this user (the process umask is 077): the embedded database and the hub's master key live here.
  const dir = opts.data ? resolve(opts.data) : mkdtempSync(join(tmpdir(), `${DEMO_PREFIX}${process.pid}-`));
  if (opts.data) mkdirSync(dir, { recursive: true, mode: 0o700 });
  const adminToken = randomBytes(32).toString('base64url');
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig({
      TRACKHUB_DATABASE_URL: `embedded://${join(dir, 'pg')}`,
      TRACKHUB_DATA_DIR: dir,
      TRACKHUB_HOST: '127.0.0.1',
      TRACKHUB_PORT: String(port),
      TRACKHUB_ADMIN_TOKEN: adminToken,
      TRACKHUB_SANDBOX: 'true',
      TRACKHUB_SANDBOX_SPEED: String(DEMO_SPEED),
      // Every sandbox step is at least a second apart: polls this often show each one.
      TRACKHUB_POLL_MIN_INTERVAL: '500ms',
      TRACKHUB_POLL_MAX_INTERVAL: '1s',
      TRACKHUB_RETRY_SCHEDULE: '1s,2s,5s,10s',
      // The demo back-end listens on 127.0.0.1, which the SSRF guard refuses outside the sandbox.
      TRACKHUB_ALLOW_PRIVATE_TARGETS: 'true',
      // The hub's JSON log would drown the demo's lines: errors only, unless asked.
      TRACKHUB_LOG_LEVEL: process.env.TRACKHUB_LOG_LEVEL ?? 'error',
    });
  } catch (err) {
    if (!opts.data) rmSync(dir, { recursive: true, force: true });
    if (err instanceof ConfigError) usage(err.message);
    throw err;
  }

  // What to stop, in this order; Ctrl-C, a failure, the timeout and the end all come through finish(). The
  // hub first, while the back-end still answers: the sends under way finish and are recorded delivered
  // (a back-end closed first would leave the last notification to be sent again at the next run).
  const closers: (() => Promise<void>)[] = [];
  const removeDir = async () => {
    if (!opts.data) rmSync(dir, { recursive: true, force: true });
  };
  let finishing: Promise<number> | undefined;
  const finish = (code: number, message?: string): Promise<number> => {
    finishing ??= (async () => {
      if (message) process.stderr.write(`trackhub demo: ${message}\n`);
      // A hub that cannot stop in a minute is left to die with the process.
      setTimeout(() => process.exit(code || 1), 60_000).unref();
      for (const close of [...closers, removeDir]) await close().catch((err) => process.stderr.write(`trackhub demo: while stopping: ${(err as Error).message}\n`));
      return code;
    })();
    return finishing;
  };
  // The card's end: delivered (0), or a failure, a parcel ending otherwise, the timeout (1, with why).
  let settle: (end: { code: number; message?: string }) => void = () => {};
  const outcome = new Promise<{ code: number; message?: string }>((ok) => {
    settle = ok;
  });
  let deliveredAt: number | undefined;
  let last = 'none';
  // This run's card: with --data, notifications of an earlier run's cards may still come (sent again).
  const cardId = `card-${randomBytes(4).toString('hex')}`;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    // After delivery (--keep) Ctrl-C is the expected end; before it, an interruption.
    process.on(signal, () => void finish(deliveredAt ? 0 : 130, deliveredAt ? undefined : 'interrupted: stopping the hub').then((c) => process.exit(c)));
  }

  try {
    process.stdout.write(`trackhub demo: starting the hub (embedded store in ${dir}, sandbox carriers at ${DEMO_SPEED}x)\n`);
    const hubStarting = startHub(config, createLogger(config.logLevel));
    closers.push(async () => (await hubStarting.catch(() => undefined))?.close());
    const hub = await hubStarting;
    // The port was chosen before the hub bound it, so its public URL (the token's audience) is its address.
    const hubUrl = config.publicUrl;
    if (hub.url !== hubUrl) throw new Error(`the hub listens on ${hub.url}, not ${hubUrl}`);
    const admin = { authorization: `Bearer ${adminToken}` };

    // The issuer back-end: its own key pair and webhook secret, the SDK verifying every notification.
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    const kid = `${ISSUER_ID}-demo`;
    const webhookSecret = `whsec_${randomBytes(32).toString('base64')}`;
    const handler = new sdk.NotificationHandler({
      secrets: [webhookSecret],
      store: new sdk.MemoryNotificationStore(),
      onUpdate: (op: Operation, _meta: NotificationMeta) => {
        if (op.cardId !== cardId) return;
        process.stdout.write(`${notificationLine(op)}\n`);
        last = `${op.details.trackingType} ${op.status} ${op.details.shipment?.status ?? op.details.status ?? ''}`.trim();
        if (op.status === 'FAILED') settle({ code: 1, message: `the ${op.details.trackingType} operation failed: ${op.errorCode} ${op.error ?? ''}` });
        else if (op.details.trackingType === 'SHIPMENT' && op.endTime) {
          settle(op.details.shipment?.status === 'DELIVERED' ? { code: 0 } : { code: 1, message: `the parcel ended ${op.details.shipment?.status}, not DELIVERED` });
        }
      },
      onStale: (op: Operation) => {
        if (op.cardId !== cardId) return;
        process.stdout.write(`${clock()}  stale update #${op.sequenceNumber} of ${op.operationId} dropped (a newer one was applied)\n`);
      },
    });
    const listener = sdk.nodeHttpListener(handler);
    const backend: Server = createServer((req, res) => {
      if (req.url === NOTIFICATION_PATH) return listener(req, res);
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
    });
    await new Promise<void>((ok, ko) => backend.once('error', ko).listen(0, '127.0.0.1', ok));
    closers.push(async () => {
      // The hub's client keeps its connection open between notifications: closed, or close() would wait for it.
      backend.closeAllConnections();
      await new Promise((ok) => backend.close(ok));
    });
    const backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;

    await call(`${hubUrl}/admin/v1/issuers/${ISSUER_ID}`, {
      method: 'PUT',
      headers: admin,
      body: {
        name: 'Demo bank',
        notificationBaseUrl: backendUrl,
        jwks: { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] },
        webhookSecret,
        // The site's CARD_SHIPPED report, with its tracking number, opens the card's SHIPMENT.
        autoTrackShipment: true,
      },
    });
    const site = await call(`${hubUrl}/admin/v1/production-sites/${SITE_ID}`, { method: 'PUT', headers: admin, body: { name: 'Demo bureau', carriers: ['fedex'], generateApiKey: true } });
    process.stdout.write(`  hub      ${hubUrl}\n  issuer   ${ISSUER_ID}: back-end ${backendUrl} (ES256 key and webhook secret generated, autoTrackShipment)\n  site     ${SITE_ID}\n`);

    const tokens = new sdk.TokenProvider({ hubUrl, issuerId: ISSUER_ID, keyId: kid, privateKey: { ...(await exportJWK(privateKey)), kid, alg: 'ES256' } });
    const client = new sdk.TrackhubClient({ hubUrl, issuerId: ISSUER_ID, tokens });
    const trackingNumber = sandboxNumbers(String(7_712_345 + Math.floor(Math.random() * 1_000_000)), ['fedex']).find((n) => n.scenario === 'delivered')?.trackingNumber as string;
    const { operationId } = await client.track(cardId, { trackingType: 'PRODUCTION', productionSite: SITE_ID });
    process.stdout.write(`${clock()}  issuer   track ${cardId} PRODUCTION: ${operationId}\n`);
    const report = await call(`${hubUrl}/sites/v1/production-sites/${SITE_ID}/events`, {
      method: 'POST',
      headers: { 'x-api-key': String(site.apiKey) },
      body: { events: [{ eventId: `demo-${cardId}`, issuerId: ISSUER_ID, cardId, type: 'CARD_SHIPPED', occurredAt: new Date().toISOString(), carrier: 'fedex', trackingNumber }] },
    });
    if (report.accepted !== 1) throw new Error(`the site's report was not accepted: ${JSON.stringify(report)}`);
    process.stdout.write(`${clock()}  site     CARD_SHIPPED ${cardId} with FedEx ${trackingNumber}\n`);

    const timer = setTimeout(() => settle({ code: 1, message: `the card was not delivered within ${timeoutS} s (last notification: ${last}); --timeout gives it longer` }), timeoutS * 1000);
    const end = await outcome;
    clearTimeout(timer);
    if (end.code !== 0) return finish(end.code, end.message);
    deliveredAt = Date.now();
    process.stdout.write(`trackhub demo: card ${cardId} delivered, every notification verified, in ${((deliveredAt - started) / 1000).toFixed(1)} s\n`);
    if (!opts.keep) return finish(0);
    process.stdout.write(
      `\nStill running (Ctrl-C stops it):\n  console  ${hubUrl}/console   sign in with the admin token ${adminToken}\n  API docs ${hubUrl}/docs\n` +
        `  status   the card's operations: ${hubUrl}/banking/v1/issuers/${ISSUER_ID}/physicalCards/${cardId}/trackingStatus (an issuer token)\n`,
    );
    return await new Promise<number>(() => {});
  } catch (err) {
    return finish(1, (err as Error).message);
  }
}
