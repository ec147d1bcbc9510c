import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { sql } from 'kysely';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadAccessTokenKey } from '../src/auth/tokens.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { startHub } from '../src/hub.ts';
import { createLogger } from '../src/logger.ts';
import { type Db, migrate } from '../src/store/db.ts';
import { getIssuer, loadDeliverySettings } from '../src/store/issuers.ts';
import { isSealed, MasterKey, SecretBox, SecretUnreadable } from '../src/store/secret-box.ts';
import { KEY_MISMATCH, openSecrets, SecretKeyError, unlockSecrets } from '../src/store/secrets.ts';
import { ADMIN_TOKEN, type TestApp, testApp } from './helpers/app.ts';
import { issuerKey } from './helpers/issuer.ts';
import { freshStore, STORE_KINDS, type TestStore, tempDir } from './helpers/stores.ts';

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
const WEBHOOK_SECRET = `whsec_${Buffer.from('at-rest-webhook-secret-0123456789ab').toString('base64')}`;
const CLIENT_SECRET = 'at-rest-client-secret-5e4d3c2b1a09';

let certificatePem = '';
let privateKeyPem = '';
beforeAll(() => {
  const dir = tempDir('trackhub-secrets-cert');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'k.pem', '-out', 'c.pem', '-days', '1', '-subj', '/CN=hub'], { cwd: dir, stdio: 'pipe' });
  certificatePem = readFileSync(join(dir, 'c.pem'), 'utf8');
  privateKeyPem = readFileSync(join(dir, 'k.pem'), 'utf8');
  rmSync(dir, { recursive: true, force: true });
});

/** Every row of every table of the store's schema, as text: what a dump of the database shows. */
async function dumpTables(db: Db): Promise<string> {
  const tables = await sql<{ table_name: string }>`
    select table_name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE' order by table_name`.execute(db);
  expect(tables.rows.map((t) => t.table_name)).toEqual(expect.arrayContaining(['issuers', 'hub_secrets']));
  let dump = '';
  for (const { table_name } of tables.rows) {
    const rows = await sql`select * from ${sql.table(table_name)}`.execute(db);
    dump += `${table_name}\n${JSON.stringify(rows.rows)}\n`;
  }
  return dump;
}

/** Plaintext rows as a store held them before secrets were sealed (written around the hub's code). */
async function writePlainRows(db: Db) {
  await sql`insert into issuers (issuer_id, name, notification_base_url, jwks, webhook_secrets, notification_auth, notification_tls)
    values ('ISSUER_OLD', 'Old bank', 'https://old.example', '{"keys":[]}', ${JSON.stringify([WEBHOOK_SECRET])},
            ${JSON.stringify({ tokenUrl: 'https://old.example/t', clientId: 'hub', clientSecret: CLIENT_SECRET })},
            ${JSON.stringify({ certificatePem, privateKeyPem })})`.execute(db);
  await sql`insert into hub_secrets (name, value) values ('access_token_hs256', ${Buffer.alloc(32, 7).toString('base64')})`.execute(db);
}

describe('TRACKHUB_SECRET_KEY', () => {
  it('takes 32 bytes in base64; anything else stops start-up with one line naming the variable, never quoting it', () => {
    const key = MasterKey.generate();
    const config = loadConfig({ TRACKHUB_SECRET_KEY: key.toBase64() });
    expect(config.secretKey?.equals(key)).toBe(true);
    // The key never shows when the configuration is printed or logged.
    expect(JSON.stringify(config)).not.toContain(key.toBase64());
    expect(String(config.secretKey)).toBe('[redacted]');
    const short = Buffer.alloc(16, 1).toString('base64');
    for (const bad of [short, 'not base64 at all, but long enough to be mistaken', `${key.toBase64()}x`, key.toBase64().replace('=', '')]) {
      let message = '';
      try {
        loadConfig({ TRACKHUB_SECRET_KEY: bad });
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        message = (err as Error).message;
      }
      expect(message).toMatch(/^TRACKHUB_SECRET_KEY: /);
      expect(message).not.toContain(bad);
      expect(message.split('\n')).toHaveLength(1);
    }
    expect(loadConfig({}).secretKey).toBeUndefined();
  });
});

describe('sealing one value', () => {
  it('opens only with its master key and for its own context; plaintext passes as it is', () => {
    const box = new SecretBox(MasterKey.generate());
    const sealed = box.seal('s3cret', 'issuers/ISSUER_001/webhook_secrets');
    expect(isSealed(sealed)).toBe(true);
    expect(sealed).not.toContain('s3cret');
    expect(box.seal('s3cret', 'issuers/ISSUER_001/webhook_secrets')).not.toBe(sealed); // a fresh data key and IV each time
    expect(box.open(sealed, 'issuers/ISSUER_001/webhook_secrets')).toBe('s3cret');
    expect(() => box.open(sealed, 'issuers/ISSUER_002/webhook_secrets')).toThrow(SecretUnreadable);
    expect(() => new SecretBox(MasterKey.generate()).open(sealed, 'issuers/ISSUER_001/webhook_secrets')).toThrow(SecretUnreadable);
    // A character inside the tag: the last one of a base64 text may carry only spare bits, and changing
    // those changes no byte (the test passed or failed by chance).
    const at = sealed.length - 10;
    const altered = `${sealed.slice(0, at)}${sealed[at] === 'A' ? 'B' : 'A'}${sealed.slice(at + 1)}`;
    expect(() => box.open(altered, 'issuers/ISSUER_001/webhook_secrets')).toThrow(SecretUnreadable);
    expect(box.open('whsec_plain', 'issuers/ISSUER_001/webhook_secrets')).toBe('whsec_plain');
  });
});

describe.each(STORE_KINDS)('secrets at rest on %s', (kind) => {
  let t: TestApp | undefined;
  let store: TestStore | undefined;
  afterEach(async () => {
    await t?.close();
    await store?.close();
    t = undefined;
    store = undefined;
  });

  it('no secret is readable in a dump of every table; the hub still reads them all', async () => {
    t = await testApp(kind);
    const key = await issuerKey();
    const put = await t.app.inject({
      method: 'PUT',
      url: '/admin/v1/issuers/ISSUER_RST',
      headers: auth,
      payload: {
        name: 'Bank at rest',
        notificationBaseUrl: 'https://bank.example',
        jwks: { keys: [key.publicJwk] },
        webhookSecret: WEBHOOK_SECRET,
        notificationAuth: { tokenUrl: 'https://bank.example/token', clientId: 'hub', clientSecret: CLIENT_SECRET },
        notificationTls: { certificatePem, privateKeyPem },
      },
    });
    expect(put.statusCode).toBe(201);
    // A second issuer with a generated secret, and a rotation keeping the previous secret beside the new one.
    const generated = await t.app.inject({ method: 'PUT', url: '/admin/v1/issuers/ISSUER_GEN', headers: auth, payload: { name: 'Bank 2', notificationBaseUrl: 'https://bank2.example', jwks: { keys: [key.publicJwk] } } });
    const generatedSecret = generated.json().webhookSecret as string;
    expect(generatedSecret).toMatch(/^whsec_/);
    const rotated = `whsec_${Buffer.from('rotated-webhook-secret-abcdefghijklmn').toString('base64')}`;
    await t.app.inject({ method: 'PUT', url: '/admin/v1/issuers/ISSUER_GEN', headers: auth, payload: { name: 'Bank 2', notificationBaseUrl: 'https://bank2.example', jwks: { keys: [key.publicJwk] }, webhookSecret: rotated } });
    const tokenKey = Buffer.from(await loadAccessTokenKey(t.store.db)).toString('base64');

    const dump = await dumpTables(t.store.db);
    const secrets = [WEBHOOK_SECRET, WEBHOOK_SECRET.slice(6), CLIENT_SECRET, generatedSecret.slice(6), rotated.slice(6), tokenKey];
    for (const secret of secrets) expect(dump).not.toContain(secret);
    for (const line of privateKeyPem.split('\n').filter((l) => l && !l.startsWith('-----'))) expect(dump).not.toContain(line);
    expect(dump).not.toContain('PRIVATE KEY');
    expect(dump).toContain('hub'); // the clientId and the certificate are not secrets: they stay readable
    expect(dump).toContain(certificatePem.split('\n')[1]);

    // What the hub uses is the secrets themselves.
    const issuer = await getIssuer(t.store.db, 'ISSUER_RST');
    expect(issuer).toMatchObject({ webhookSecrets: [WEBHOOK_SECRET], notificationAuth: { clientSecret: CLIENT_SECRET }, notificationTls: { privateKeyPem } });
    const settings = await loadDeliverySettings(t.store.db);
    expect(settings.find((s) => s.issuerId === 'ISSUER_GEN')?.webhookSecrets).toEqual([rotated, generatedSecret]);
    expect(Buffer.from(await loadAccessTokenKey(t.store.db)).toString('base64')).toBe(tokenKey);
  });

  it('a sealed secret copied into another issuer\'s row does not open there', async () => {
    t = await testApp(kind);
    const key = await issuerKey();
    for (const id of ['ISSUER_AAA', 'ISSUER_BBB']) {
      const res = await t.app.inject({ method: 'PUT', url: `/admin/v1/issuers/${id}`, headers: auth, payload: { name: id, notificationBaseUrl: 'https://bank.example', jwks: { keys: [key.publicJwk] } } });
      expect(res.statusCode).toBe(201);
    }
    const db = t.store.db;
    await sql`update issuers set webhook_secrets = (select webhook_secrets from issuers where issuer_id = 'ISSUER_AAA') where issuer_id = 'ISSUER_BBB'`.execute(db);
    // It does not open: the issuer reads with its secrets absent and marked so (the copy is never used).
    await expect(getIssuer(db, 'ISSUER_BBB')).resolves.toMatchObject({ secretsUnreadable: true, webhookSecrets: [] });
    await expect(getIssuer(db, 'ISSUER_AAA')).resolves.toMatchObject({ webhookSecrets: [expect.stringMatching(/^whsec_/)] });
  });

  it('plaintext rows of an older store are sealed on start, once; the hub reads the same secrets', async () => {
    store = await freshStore(kind); // migrated and unlocked with the test key, holding no secret yet
    const db = store.db;
    await sql`delete from hub_secrets`.execute(db);
    await writePlainRows(db);
    const resolved = { key: MasterKey.generate(), source: 'TRACKHUB_SECRET_KEY' };
    const first = await unlockSecrets(db, resolved);
    expect(first.sealed).toBe(2); // the issuer's row and the token key
    const row = await db.selectFrom('issuers').select(['webhook_secrets', 'notification_auth', 'notification_tls']).where('issuer_id', '=', 'ISSUER_OLD').executeTakeFirstOrThrow();
    const raw = JSON.stringify(row);
    expect(raw).not.toContain(CLIENT_SECRET);
    expect(raw).not.toContain(WEBHOOK_SECRET);
    expect(raw).not.toContain('PRIVATE KEY');
    expect(isSealed((row.webhook_secrets as unknown as string[])[0])).toBe(true);
    expect(row.notification_auth).toMatchObject({ tokenUrl: 'https://old.example/t', clientId: 'hub', clientSecret: expect.stringMatching(/^thsb1\./) });
    expect(await getIssuer(db, 'ISSUER_OLD')).toMatchObject({ webhookSecrets: [WEBHOOK_SECRET], notificationAuth: { clientSecret: CLIENT_SECRET }, notificationTls: { certificatePem, privateKeyPem } });
    expect(Buffer.from(await loadAccessTokenKey(db))).toEqual(Buffer.alloc(32, 7));

    const again = await unlockSecrets(db, resolved);
    expect(again.sealed).toBe(0);
    const after = await db.selectFrom('issuers').select(['webhook_secrets', 'notification_auth', 'notification_tls']).where('issuer_id', '=', 'ISSUER_OLD').executeTakeFirstOrThrow();
    expect(after).toEqual(row);
  });

  it('another master key than the store\'s is refused with one line, and changes nothing', async () => {
    store = await freshStore(kind);
    const db = store.db;
    const before = await dumpTables(db);
    const other = { key: MasterKey.generate(), source: 'TRACKHUB_SECRET_KEY' };
    const refusal = await unlockSecrets(db, other).then(() => undefined, (e: unknown) => e);
    expect(refusal).toBeInstanceOf(SecretKeyError);
    expect((refusal as Error).message.startsWith(KEY_MISMATCH)).toBe(true);
    expect((refusal as Error).message).not.toContain(other.key.toBase64());
    expect((refusal as Error).message.split('\n')).toHaveLength(1);
    expect(await dumpTables(db)).toBe(before);
  });

  it('without TRACKHUB_SECRET_KEY the key is generated once into the data folder (0600 in 0700) and said once, never shown', async () => {
    store = await freshStore(kind, { migrated: false });
    const db = store.db;
    await migrate(db);
    const dataDir = join(tempDir('trackhub-key'), 'data');
    const notices: string[] = [];
    const first = await openSecrets(db, { dataDir }, (m) => notices.push(m));
    const path = join(dataDir, 'secret.key');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    const written = readFileSync(path, 'utf8');
    expect(MasterKey.parse(written)?.equals(first.box.key)).toBe(true);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toContain(path);
    expect(notices[0]).not.toContain(written.trim());
    // The next start reads it, and says nothing.
    const second = await openSecrets(db, { dataDir }, (m) => notices.push(m));
    expect(second.box.key.equals(first.box.key)).toBe(true);
    expect(notices).toHaveLength(1);
    // An instance without the key (another machine, say) is refused rather than given a key of its own.
    const elsewhere = join(tempDir('trackhub-key-elsewhere'), 'data');
    await expect(openSecrets(db, { dataDir: elsewhere }, (m) => notices.push(m))).rejects.toThrow(/TRACKHUB_SECRET_KEY is not set and .*secret\.key does not exist, but this store's secrets are encrypted/);
    expect(notices).toHaveLength(1);
    // A key file that holds no key is named, not quoted.
    writeFileSync(path, 'garbage-that-is-not-a-key\n');
    await expect(openSecrets(db, { dataDir }, () => {})).rejects.toThrow(`${path} does not hold a master key`);
  });

  it('the hub refuses to start with another key, naming TRACKHUB_SECRET_KEY in one line; with its key file it starts and says nothing', async () => {
    store = await freshStore(kind, { migrated: false });
    const dataDir = tempDir('trackhub-hub-key');
    const lines: string[] = [];
    const log = createLogger('info', new Writable({ write: (chunk, _enc, done) => done(void lines.push(String(chunk))) }));
    const env = { TRACKHUB_DATABASE_URL: store.url, TRACKHUB_DATA_DIR: dataDir, TRACKHUB_ROLE: 'api', TRACKHUB_PORT: '0', TRACKHUB_LOG_LEVEL: 'info' };
    const hub = await startHub(loadConfig(env), log);
    await hub.close();
    const generatedNotices = lines.filter((l) => l.includes('generated the master key'));
    expect(generatedNotices).toHaveLength(1);
    const key = readFileSync(join(dataDir, 'secret.key'), 'utf8').trim();
    expect(lines.join('')).not.toContain(key);

    const again = await startHub(loadConfig(env), log);
    await again.close();
    expect(lines.filter((l) => l.includes('generated the master key'))).toHaveLength(1);

    const wrong = startHub(loadConfig({ ...env, TRACKHUB_SECRET_KEY: MasterKey.generate().toBase64() }), log);
    await expect(wrong).rejects.toThrow(KEY_MISMATCH);
  });
});
