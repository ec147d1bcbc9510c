import { readFileSync, statSync } from 'node:fs';
import { type Command, Option } from 'commander';
import type { Issuer } from '../store/issuers.ts';
import { auditCli, CliExit, type CliHelpers, fail, printable } from './common.ts';
import { type HubClient, hubClientFor, hubUrlOption } from './hub-client.ts';

// What the commands run (the store, jose, the checks) is imported inside their actions: registering them
// stays light, so `trackhub --help` does not load the hub.

/** How the hub signs an issuer's notifications (the Admin API's `notificationSigning`). */
const SIGNING_SCHEMES = ['hmac', 'ed25519'] as const;
type Signing = (typeof SIGNING_SCHEMES)[number];

interface AddOptions {
  id: string;
  name: string;
  notificationUrl: string;
  jwks?: string;
  generateKey?: boolean;
  maxOperations: string;
  signing?: Signing;
  url?: string;
}

/** What `issuers list` prints of an issuer, from the store or from the Admin API alike. */
type Listed = Pick<Issuer, 'issuerId' | 'enabled' | 'notificationBaseUrl' | 'name'>;
const listLine = (i: Listed) => `${i.issuerId}\t${i.enabled ? 'enabled' : 'disabled'}\t${printable(i.notificationBaseUrl)}\t${printable(i.name)}\n`;

/** `trackhub issuers add|list`, on the store or (`--url`) through a hub's Admin API. Registered on the program by main.ts. */
export function registerIssuerCommands(program: Command, h: CliHelpers): void {
  const issuers = program.command('issuers').description('Manage issuers');
  issuers
    .command('add')
    .description('Register or update an issuer')
    .requiredOption('--id <issuerId>', '10 characters of [A-Za-z0-9_-]')
    .requiredOption('--name <name>', 'display name')
    .requiredOption('--notification-url <url>', 'base URL notifications are POSTed under (the issuer back-end)')
    .option('--jwks <file>', 'JSON file with the issuer public keys ({ keys: [...] })')
    .option('--generate-key', 'generate an ES256 key pair; prints the private JWK once (for testing and demos)')
    .option('--max-operations <n>', 'operations per notification', '1')
    .addOption(new Option('--signing <scheme>', 'how notifications are signed: hmac (a shared webhook secret) or ed25519 (the issuer verifies with a public key); kept as it is when not given').choices(SIGNING_SCHEMES))
    .addOption(hubUrlOption())
    .addHelpText('after', '\nWith --url, the hub checks the notification URL against its own rules (TRACKHUB_ALLOW_PRIVATE_TARGETS there).')
    .action(async (opts: AddOptions) => {
      const [{ ISSUER_ID }, { checkDisplayName }, { checkJwks }] = await Promise.all([
        import('../domain/track-request.ts'),
        import('../domain/text.ts'),
        import('../domain/issuer-checks.ts'),
      ]);
      if (!ISSUER_ID.test(opts.id)) fail('--id must be 10 of [A-Za-z0-9_-]');
      const nameProblem = checkDisplayName('--name', opts.name);
      if (nameProblem) fail(nameProblem);
      const max = Number(opts.maxOperations);
      if (!Number.isInteger(max) || max < 1 || max > 1000) fail('--max-operations must be an integer from 1 to 1000');
      const hub = hubClientFor(opts.url);
      if (!hub) await checkUrlHere(h, opts.notificationUrl);
      const { jwks, privateJwk } = await issuerKeys(opts);
      const problem = checkJwks(jwks);
      if (problem) fail(problem);
      const saved = hub ? await addThroughHub(hub, opts, jwks, max) : await addOnStore(h, opts, jwks, max);
      process.stdout.write(`${JSON.stringify({ ...saved, ...(privateJwk ? { privateJwk } : {}) }, null, 2)}\n`);
    });

  issuers
    .command('list')
    .description('List issuers (tab-separated: id, state, notification URL, name; secrets are never shown)')
    .addOption(hubUrlOption())
    .action(async (opts: { url?: string }) => {
      const hub = hubClientFor(opts.url);
      if (hub) {
        const { body } = await hub.request<{ issuers: Listed[] }>('GET', '/admin/v1/issuers');
        for (const i of body.issuers) process.stdout.write(listLine(i));
        return;
      }
      const { listIssuers } = await import('../store/issuers.ts');
      await h.withStore(async (db) => {
        for (const i of await listIssuers(db)) process.stdout.write(listLine(i));
      });
    });
}

/** On the store, this machine's configuration decides whether a private or cleartext URL is allowed. */
async function checkUrlHere(h: CliHelpers, url: string): Promise<void> {
  const [{ checkCleartextUrls, checkNotificationUrl }, { checkDeliveryTargets }] = await Promise.all([import('../domain/issuer-checks.ts'), import('../delivery/registration.ts')]);
  const allowPrivate = h.config().allowPrivateTargets;
  const problem =
    checkNotificationUrl(url) ?? (await checkDeliveryTargets({ notificationBaseUrl: url }, allowPrivate)) ?? checkCleartextUrls({ notificationBaseUrl: url }, allowPrivate);
  if (problem) fail(problem.replace(/^notificationBaseUrl:/, '--notification-url:'));
}

/** The issuer's public keys: read from --jwks, or a pair generated here (its private half printed once). */
async function issuerKeys(opts: AddOptions): Promise<{ jwks: { keys: Record<string, unknown>[] }; privateJwk?: Record<string, unknown> }> {
  if (opts.jwks) return { jwks: readJwksFile(opts.jwks) };
  if (!opts.generateKey) fail('give --jwks FILE or --generate-key');
  const { exportJWK, generateKeyPair } = await import('jose');
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = `${opts.id}-1`;
  return {
    jwks: { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] },
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: 'ES256' },
  };
}

/** A JWKS file is a few keys: a bigger file (or a device such as /dev/zero) is no JWKS. */
const MAX_JWKS_BYTES = 1024 * 1024;

/**
 * The --jwks file as `{ keys: [ {…}, … ] }`, or the command ends (exit 2) saying what is wrong with it.
 * Its content is never quoted: pointed at the wrong file (a private key, /etc/shadow), the command must
 * not print it; JSON.parse's message would quote its first bytes.
 */
function readJwksFile(path: string): { keys: Record<string, unknown>[] } {
  let text: string;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) fail(`--jwks ${path} is not a file`);
    if (stat.size > MAX_JWKS_BYTES) fail(`--jwks ${path} is over ${MAX_JWKS_BYTES / 1024} KiB: not a JWKS`);
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof CliExit) throw err;
    fail(`cannot read --jwks ${path}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
  const shape = 'a JWKS is a JSON object { "keys": [ { "kty": "EC", "crv": "P-256", "x": …, "y": …, "kid": … } ] }';
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    fail(`--jwks ${path} is not JSON (${shape}); its content is not printed`);
  }
  const value = parsed as { keys?: unknown; jwks?: { keys?: unknown }; kty?: unknown } | null;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`--jwks ${path} is not a JSON object (${shape})`);
  if (value.keys === undefined && Array.isArray(value.jwks?.keys)) {
    fail(`--jwks ${path} looks like what \`issuers add --generate-key\` prints (it holds a private key too): give a file holding its "jwks" member alone, e.g. jq .jwks ${path} > jwks.json`);
  }
  if (value.keys === undefined && value.kty !== undefined) fail(`--jwks ${path} holds one key, not a key set: put it in { "keys": [ … ] }`);
  if (!Array.isArray(value.keys)) fail(`--jwks ${path} has no "keys" array (${shape})`);
  const bad = value.keys.findIndex((k) => typeof k !== 'object' || k === null || Array.isArray(k));
  if (bad >= 0) fail(`--jwks ${path}: keys[${bad}] is not a JSON object (${shape})`);
  return { keys: value.keys as Record<string, unknown>[] };
}

/**
 * A PUT of the whole issuer, keeping what the command does not set (enabled, autoTrackShipment) as the
 * hub holds them. The PUT would drop OAuth client credentials it is not given, and the hub never shows
 * them: such an issuer is left to the Admin API.
 */
async function addThroughHub(hub: HubClient, opts: AddOptions, jwks: { keys: Record<string, unknown>[] }, max: number): Promise<Record<string, unknown>> {
  const current = await hub.request<{ notificationAuth?: unknown; enabled?: boolean; autoTrackShipment?: boolean }>('GET', `/admin/v1/issuers/${opts.id}`, undefined, [404]);
  const existing = current.status === 404 ? undefined : current.body;
  if (existing?.notificationAuth) {
    fail(`${opts.id} sends its notifications with OAuth client credentials, which this command cannot give back: update it with PUT /admin/v1/issuers/${opts.id}`);
  }
  const { body } = await hub.request<Record<string, unknown>>('PUT', `/admin/v1/issuers/${opts.id}`, {
    name: opts.name,
    notificationBaseUrl: opts.notificationUrl,
    jwks,
    maxOperationsPerNotification: max,
    ...(existing ? { enabled: existing.enabled, autoTrackShipment: existing.autoTrackShipment } : {}),
    ...(opts.signing ? { notificationSigning: opts.signing } : {}),
  });
  return body;
}

async function addOnStore(h: CliHelpers, opts: AddOptions, jwks: { keys: Record<string, unknown>[] }, max: number): Promise<Record<string, unknown>> {
  const [{ issuerView }, { newSigningKeyPair, newWebhookSecret }, { getIssuer, upsertIssuer }] = await Promise.all([
    import('../http/issuer-view.ts'),
    import('../delivery/signing.ts'),
    import('../store/issuers.ts'),
  ]);
  return h.withStore(async (db) => {
    const existing = await getIssuer(db, opts.id);
    // As the Admin API's PUT: absent keeps the stored scheme. ed25519 gets a key pair made here (kept, like
    // a webhook secret, sealed) and no shared secret; a switch keeps what signed before signing beside it.
    const signing = opts.signing ?? existing?.notificationSigning ?? 'hmac';
    const held = existing?.webhookSecrets ?? [];
    const secret = signing === 'hmac' && held.length === 0 ? newWebhookSecret() : undefined;
    await upsertIssuer(db, {
      issuerId: opts.id,
      name: opts.name,
      notificationBaseUrl: opts.notificationUrl.replace(/\/+$/, ''),
      jwks,
      webhookSecrets: secret ? [secret] : held,
      notificationSigning: signing,
      ...(signing === 'ed25519' ? { notificationSigningPrivateKey: existing?.notificationSigningPrivateKey ?? newSigningKeyPair().secretKey } : {}),
      notificationAuth: existing?.notificationAuth ?? null,
      maxOperationsPerNotification: max,
      autoTrackShipment: existing?.autoTrackShipment ?? false,
      enabled: existing?.enabled ?? true,
    });
    const saved = (await getIssuer(db, opts.id)) as Issuer;
    await auditCli(db, 'issuers add', { status: existing ? 200 : 201, targetId: opts.id, before: existing && issuerView(existing), after: issuerView(saved) });
    return { ...issuerView(saved), ...(secret ? { webhookSecret: secret } : {}) };
    // Registering the first issuer may come before the hub's first start: this command may create the store.
  }, { create: true });
}
