import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { PACKAGE_ROOT } from '../assets.ts';
import type { openStore } from '../store/db.ts';
import { registerAdminTokenCommands } from './admin-tokens.ts';
import { registerBenchCommand } from './bench.ts';
import { CliExit, fail, printable, requireOptionsAfterUnknownOnes, type StoreUse } from './common.ts';
import { registerDemoCommand } from './demo.ts';
import { registerIssuerCommands } from './issuers.ts';
import { registerNotificationCommands } from './notifications.ts';
import { registerSecretCommands } from './secrets.ts';
import { registerSiteCommands } from './sites.ts';

// Only commander and the modules that register commands load at start, so `--help` and a mistyped command
// answer at once; each action imports what it needs (the hub, the store, the sandbox, jose…).

/** config.ts (it loads every carrier client): imported before any command's action runs, see the preAction hook. */
let configModule: typeof import('../config.ts') | undefined;
/** store/embedded.ts (small; no server code runs on import), loaded with config.ts for storeName(). */
let storeFolders: typeof import('../store/embedded.ts');

/** Only `serve` (which runs workers) sends operator alerts: the other commands ignore those settings. */
function config(overrides: { sandbox?: boolean; operatorAlerts?: boolean } = {}) {
  const { ConfigError, loadConfig } = configModule as typeof import('../config.ts');
  try {
    return loadConfig(process.env, { operatorAlerts: false, ...overrides });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`trackhub: configuration error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

/** Where the commands that cannot find the hub's store are told to look. */
const POINT_AT_THE_HUB =
  "run the command in the hub's folder, set TRACKHUB_DATABASE_URL to the hub's store (embedded://PATH or postgres://…), or give --url http://HUB:8080 to go through a running hub";

/**
 * Opens the store for a one-off command. On the embedded store it uses the server of a running hub, or
 * starts the server for the command and stops it after. A folder with no store yet: only a command that
 * registers something (`use.create`) makes one, and says so; the others refuse, since a list, a lookup or
 * an import on a store made on the spot (in the wrong folder, say) finds nothing and leaves a stray store.
 */
async function withStore<T>(fn: (db: Awaited<ReturnType<typeof openStore>>['db']) => Promise<T>, use: StoreUse = {}): Promise<T> {
  const [{ migrate, openStore }, { openSecrets }, { embeddedFolder }] = await Promise.all([
    import('../store/db.ts'),
    import('../store/secrets.ts'),
    import('../store/embedded.ts'),
  ]);
  const { databaseUrl, dataDir, secretKey } = config();
  const folder = embeddedFolder(databaseUrl);
  refuseNotAFolder(folder);
  if (folder !== undefined && !existsSync(join(folder, 'PG_VERSION'))) {
    if (!use.create) fail(`no store in ${folder} (no hub has run with this folder): ${POINT_AT_THE_HUB}`);
    process.stderr.write(`trackhub: creating a new embedded store in ${folder} (no hub has run with this folder); to act on an existing hub's store instead, ${POINT_AT_THE_HUB}\n`);
  }
  const store = await openStore(databaseUrl, { poolSize: 2 });
  // Interrupted (Ctrl-C), the command still stops an embedded server it started.
  const interrupted = () => void store.close().finally(() => process.exit(130));
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, interrupted);
  try {
    await migrate(store.db);
    await openSecrets(store.db, { configured: secretKey, dataDir }, (message) => process.stderr.write(`trackhub: ${message}\n`));
    // A refusal inside fn is a thrown CliExit (see fail): it passes through here, so the server stops.
    return await fn(store.db);
  } finally {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(signal, interrupted);
    await store.close();
  }
}

/** An embedded store's folder naming a file (or under one): refused (exit 2) before anything is made or said. */
function refuseNotAFolder(folder: string | undefined): void {
  const why = folder === undefined ? undefined : storeFolders.notAFolder(folder);
  if (why) fail(why);
}

/** The store a command works on, as "not found" messages name it; a postgres URL without its credentials or parameters. */
function storeName(): string {
  const { databaseUrl } = config();
  const { embeddedFolder } = storeFolders;
  const folder = embeddedFolder(databaseUrl);
  if (folder !== undefined) return `the embedded store in ${folder}`;
  try {
    const u = new URL(databaseUrl);
    return `the store at ${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return 'the store of TRACKHUB_DATABASE_URL';
  }
}

/**
 * How long a stopping hub may drain before it just exits: in-flight sends (15 s at most), then the
 * embedded server's stop (30 s of fast shutdown, then SIGQUIT and 10 s), so that fallback is reached.
 */
const SHUTDOWN_DEADLINE_MS = 60_000;

// Everything the hub and its commands write (the embedded store, inbox folders and reports, import
// reports) holds card ids or secrets: private to this user unless a mode says otherwise.
process.umask(0o077);

// Output piped into `head` closes early; that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const program = new Command('trackhub')
  .description('Card tracking hub')
  .version(JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')).version)
  .showHelpAfterError()
  // Every usage error commander finds (unknown option or command, missing argument or required option, a
  // value not among the choices, a command group without its subcommand) exits 2, as the commands' own
  // refusals do; help and --version exit 0. Set before the commands are added: they inherit it.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
// Before the action of any command (its own or a subcommand's): config() is synchronous, the module is not.
program.hook('preAction', async () => {
  configModule ??= await import('../config.ts');
  storeFolders ??= await import('../store/embedded.ts');
});

program
  .command('serve')
  .description('Run the hub (HTTP API and/or workers, per TRACKHUB_ROLE)')
  .addHelpText(
    'after',
    '\nStore: TRACKHUB_DATABASE_URL, by default embedded://./data/pg (a PostgreSQL the hub runs in ./data/pg;\n' +
      'site inboxes in ./data/inbox), or postgres://… for an external server shared by several instances.\n' +
      'Every variable is listed in the README ("Running for real").',
  )
  .option('--sandbox', 'serve the carrier sandbox in-process and point carriers without a base URL at it')
  .action(async (opts: { sandbox?: boolean }) => {
    const cfg = config({ operatorAlerts: true, ...(opts.sandbox ? { sandbox: true } : {}) });
    // The CLI's --url mode reads a named token from TRACKHUB_ADMIN_TOKEN too: a hub started from that shell
    // would take it as its bootstrap token and raise a read-only token to full admin.
    if (cfg.adminToken && /^tha_[A-Za-z0-9_-]{43}$/.test(cfg.adminToken.trim())) {
      process.stderr.write(
        'trackhub: configuration error: TRACKHUB_ADMIN_TOKEN holds a named admin token (tha_…), which would become the bootstrap token with the admin scope; start the hub with a secret of its own (openssl rand -base64 32) or without the variable\n',
      );
      process.exit(2);
    }
    refuseNotAFolder(storeFolders.embeddedFolder(cfg.databaseUrl));
    const [{ createLogger }, { startHub }] = await Promise.all([import('../logger.ts'), import('../hub.ts')]);
    const log = createLogger(cfg.logLevel);
    // Signals are handled from the start: one that comes while the hub starts stops it once started (its
    // embedded server too). A second signal, or a drain past the deadline, ends the process at once.
    let stopRequested: string | undefined;
    let hub: Awaited<ReturnType<typeof startHub>> | undefined;
    let firstSignalAt = 0;
    const stop = async (signal: string) => {
      if (stopRequested) {
        // Ctrl-C under `npm start` arrives twice at once: from the terminal (to the whole process group)
        // and forwarded by npm. Only a second signal a person sends later cuts the drain short.
        if (signal === stopRequested && Date.now() - firstSignalAt < 1000) return;
        log.warn({ signal }, 'second signal: exiting without waiting for the drain');
        process.exit(1);
      }
      stopRequested = signal;
      firstSignalAt = Date.now();
      if (!hub) return; // still starting: stopped as soon as it is up
      log.info({ signal }, 'shutting down');
      setTimeout(() => {
        log.error({ ms: SHUTDOWN_DEADLINE_MS }, 'shutdown took too long: exiting');
        process.exit(1);
      }, SHUTDOWN_DEADLINE_MS).unref();
      const started = Date.now();
      await hub.close();
      // Said once everything is down (sends drained and recorded, store closed), so the log shows it finished.
      log.info({ signal, ms: Date.now() - started }, 'stopped');
      process.exit(0);
    };
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stop(signal));
    hub = await startHub(cfg, log);
    if (stopRequested) {
      const signal = stopRequested;
      stopRequested = undefined;
      await stop(signal);
      return;
    }
    if (!process.stdout.isTTY && !cfg.sandbox) return;
    const sandbox = cfg.sandbox ? '  [SANDBOX carriers]' : '';
    if (hub.url) {
      process.stderr.write(
        `\nTrackhub listening on ${hub.url}${sandbox}\n` +
          `  console: ${hub.url}/console${cfg.adminToken ? '' : ' (sign in with a token from: trackhub admin-tokens create)'}   docs: ${hub.url}/docs   health: ${hub.url}/healthz   metrics: ${hub.url}/metrics\n\n`,
      );
    } else {
      // A worker-only process: no API, console or docs here.
      const ops = hub.opsUrl ? `health: ${hub.opsUrl}/healthz   metrics: ${hub.opsUrl}/metrics` : 'no health or metrics address (set TRACKHUB_OPS_PORT for one)';
      process.stderr.write(`\nTrackhub worker running (no API)${sandbox}\n  ${ops}\n\n`);
    }
  });

program
  .command('migrate')
  .description('Apply pending store migrations and exit (where there is no store yet, it creates one, saying so on stderr)')
  .action(async () => {
    const { migrate, openStore } = await import('../store/db.ts');
    const { databaseUrl } = config();
    // Making a store is what migrate is for (an operator prepares one before the first start), but never
    // silently: run in the wrong folder, it would otherwise leave a stray store and say "applied".
    const folder = storeFolders.embeddedFolder(databaseUrl);
    refuseNotAFolder(folder);
    if (folder !== undefined && !existsSync(join(folder, 'PG_VERSION'))) process.stderr.write(`trackhub: creating a new embedded store in ${folder} (no hub has run with this folder)\n`);
    const store = await openStore(databaseUrl, { poolSize: 1 });
    let applied: string[];
    try {
      applied = await migrate(store.db);
    } finally {
      // A failed migration still stops the embedded server the command started.
      await store.close();
    }
    process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'up to date\n');
  });

const sandbox = program.command('sandbox').description('Carrier sandbox speaking each provider API shape');
sandbox
  .command('serve', { isDefault: true })
  .description('Run the carrier sandbox on its own port')
  .option('--host <host>', 'listen address', '127.0.0.1')
  .option('--port <port>', 'listen port', '9001')
  .option('--speed <factor>', 'parcel life runs this many times faster than real time', process.env.TRACKHUB_SANDBOX_SPEED ?? '360')
  .action(async (opts: { host: string; port: string; speed: string }) => {
    const speed = Number(opts.speed);
    if (!(speed > 0)) {
      process.stderr.write('trackhub: --speed must be a positive number\n');
      process.exit(2);
    }
    const [{ startSandbox }, { PROVIDER_NAMES }] = await Promise.all([import('../sandbox/server.ts'), import('../carriers/provider.ts')]);
    const { url } = await startSandbox({ host: opts.host, port: Number(opts.port), speed });
    process.stdout.write(`sandbox listening on ${url} (each provider at ${url}/sandbox/{${PROVIDER_NAMES.join(',')}}, speed x${speed})\n`);
  });
sandbox
  .command('numbers')
  .description('Print tracking numbers for each carrier code and scripted parcel story')
  .option('--count <n>', 'distinct numbers per carrier and story (1 to 1000)', '1')
  .option('--carrier <code>', 'only this carrier code (e.g. fedex, la-poste-colissimo)')
  .action(async (opts: { count: string; carrier?: string }) => {
    const { ALL_CARRIERS, sandboxNumbers } = await import('../sandbox/numbers.ts');
    const count = Number(opts.count);
    if (!/^\d+$/.test(opts.count) || count < 1 || count > 1000) {
      process.stderr.write('trackhub: --count must be a whole number from 1 to 1000\n');
      process.exit(2);
    }
    const carriers = opts.carrier === undefined ? ALL_CARRIERS : ALL_CARRIERS.filter((c) => c === opts.carrier);
    if (carriers.length === 0) {
      process.stderr.write(`trackhub: --carrier: "${printable(String(opts.carrier).slice(0, 64))}" is not a carrier code (use ${ALL_CARRIERS.join(', ')})\n`);
      process.exit(2);
    }
    process.stdout.write('carrier\tstory\ttrackingNumber\tdetection\n');
    // Serials 7712345, 7712346, …: each gives every story its own number.
    for (let i = 0; i < count; i++) {
      for (const row of sandboxNumbers(String(7_712_345 + i), carriers)) {
        const detection = row.detected ? 'detected' : `send "carrier": "${row.carrier}" (${row.detectedAs ? `detection alone gives ${row.detectedAs}` : 'no detection rule fits'})`;
        process.stdout.write(`${row.carrier}\t${row.scenario}\t${row.trackingNumber}\t${detection}\n`);
      }
    }
  });

registerBenchCommand(program);
registerDemoCommand(program);
const helpers = { config, withStore, storeName };
registerIssuerCommands(program, helpers);
registerNotificationCommands(program, helpers);
registerAdminTokenCommands(program, helpers);
registerSiteCommands(program, helpers);
registerSecretCommands(program, helpers);

requireOptionsAfterUnknownOnes(program);
program.parseAsync(process.argv).catch((err) => {
  // A command's refusal (fail), reported once withStore has closed the store and stopped its server.
  if (err instanceof CliExit) {
    process.stderr.write(`trackhub: ${printable(err.message)}\n`);
    process.exit(err.exitCode);
  }
  process.stderr.write(`trackhub: ${printable((err as Error).message)}\n`);
  process.exit(1);
});
