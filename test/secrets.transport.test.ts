import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, type TestApp, testApp } from './helpers/app.ts';
import { issuerKey } from './helpers/issuer.ts';
import { freshDatabase, STORE_KINDS, tempDir } from './helpers/stores.ts';

const ROOT = join(import.meta.dirname, '..');
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
// A public address literal: the SSRF guard lets it through without DNS, so only the scheme is at stake.
const PLAIN = 'http://93.184.215.14';
const WHY = 'must be https (http:// only with TRACKHUB_ALLOW_PRIVATE_TARGETS)';

/** The real `trackhub` command, run from the sources (tsx), so the test needs no build; the ceiling only bounds a hang. */
function trackhub(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, TRACKHUB_SECRET_KEY: '', TRACKHUB_ALLOW_PRIVATE_TARGETS: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => {
    output += d;
  });
  child.stderr.on('data', (d) => {
    output += d;
  });
  const ceiling = setTimeout(() => child.kill('SIGKILL'), 120_000);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(ceiling);
      resolve({ code, output });
    }),
  );
}

describe.each(STORE_KINDS)('plain http:// for notifications on %s', (kind) => {
  let t: TestApp | undefined;
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await t?.close();
    t = undefined;
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function put(app: TestApp['app'], body: Record<string, unknown>) {
    const key = await issuerKey();
    return app.inject({ method: 'PUT', url: '/admin/v1/issuers/ISSUER_HTP', headers: auth, payload: { name: 'Bank', jwks: { keys: [key.publicJwk] }, ...body } });
  }

  it('the Admin API refuses an http:// notification URL or token URL, naming the field; https is taken', async () => {
    t = await testApp(kind);
    const url = await put(t.app, { notificationBaseUrl: PLAIN });
    expect(url.statusCode).toBe(400);
    expect(url.json()).toEqual({ errorCode: 'FIELD_INVALID_VALUE', error: `notificationBaseUrl: ${WHY}` });
    const token = await put(t.app, { notificationBaseUrl: 'https://bank.example', notificationAuth: { tokenUrl: `${PLAIN}/token`, clientId: 'hub', clientSecret: 'client-secret-in-clear' } });
    expect(token.statusCode).toBe(400);
    expect(token.json()).toEqual({ errorCode: 'FIELD_INVALID_VALUE', error: `notificationAuth.tokenUrl: ${WHY}` });
    expect(token.body).not.toContain('client-secret-in-clear');
    const https = await put(t.app, { notificationBaseUrl: 'https://bank.example', notificationAuth: { tokenUrl: 'https://bank.example/token', clientId: 'hub', clientSecret: 's' } });
    expect(https.statusCode).toBe(201);
  });

  it('with private targets allowed (the sandbox, tests) http:// is taken', async () => {
    t = await testApp(kind, { TRACKHUB_ALLOW_PRIVATE_TARGETS: 'true' });
    const res = await put(t.app, { notificationBaseUrl: PLAIN, notificationAuth: { tokenUrl: `${PLAIN}/token`, clientId: 'hub', clientSecret: 's' } });
    expect(res.statusCode).toBe(201);
  });

  it('trackhub issuers add refuses an http:// URL naming the field, and takes it when private targets are allowed', async () => {
    const database = await freshDatabase(kind);
    cleanups.push(() => database.drop());
    const env = { TRACKHUB_DATABASE_URL: database.url, TRACKHUB_DATA_DIR: join(tempDir('trackhub-http'), 'data') };
    const args = ['issuers', 'add', '--id', 'ISSUER_HTP', '--name', 'Bank', '--notification-url', PLAIN, '--generate-key'];
    const refused = await trackhub(args, env);
    expect(refused.code).toBe(2);
    expect(refused.output.trim()).toBe(`trackhub: --notification-url: ${WHY}`);
    const allowed = await trackhub(args, { ...env, TRACKHUB_ALLOW_PRIVATE_TARGETS: 'true' });
    expect(allowed.code).toBe(0);
    expect(allowed.output).toContain(`"notificationBaseUrl": "${PLAIN}"`);
  });
});
