import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchFailure } from '../src/cli/hub-client.ts';
import { ADMIN_TOKEN, type TestApp, testApp } from './helpers/app.ts';
import { runCli } from './helpers/processes.ts';
import { childProcessStore, tempDir } from './helpers/stores.ts';

// The CLI's refusals: a clear line and exit 2, nothing secret printed, no store made or left running by
// mistake. Runs the built CLI (npm run build first).

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  const p = runCli(args, env);
  const code = await new Promise<number | null>((r) => p.child.once('exit', (c) => r(c)));
  return { code, out: p.output() };
}

/** No store for these commands: they must refuse before opening one. */
const NO_STORE = { TRACKHUB_DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' };

describe('a token or key that cannot be a header value is refused before any request, never printed', () => {
  const secret = 'admintok_supersecret';
  it('TRACKHUB_ADMIN_TOKEN with a line break, a space or a non-ASCII character', async () => {
    for (const token of [`${secret}\r\nX: 1`, `${secret} x`, `${secret}\u0100`, `${secret}\u0007`]) {
      const run = await cli(['issuers', 'list', '--url', 'http://127.0.0.1:9'], { ...NO_STORE, TRACKHUB_ADMIN_TOKEN: token });
      expect(run.code, run.out).toBe(2);
      expect(run.out).toMatch(/TRACKHUB_ADMIN_TOKEN holds a character no token has/);
      expect(run.out).not.toContain(secret);
    }
  });

  it('sites import --url with such an API key', async () => {
    const dir = tempDir('cli-refusals');
    const file = join(dir, 'cards.csv');
    writeFileSync(file, 'eventId,issuerId,cardId,type,occurredAt\ne-1,BANK000001,card-1,CARD_SHIPPED,2026-05-01T10:00:00Z\n');
    const run = await cli(['sites', 'import', '--site', 'SITE-A', file, '--url', 'http://127.0.0.1:9'], { ...NO_STORE, TRACKHUB_SITE_API_KEY: `sk_${secret}\r\nX: 1` });
    expect(run.code, run.out).toBe(2);
    expect(run.out).not.toContain(secret);
  });

  it('a fetch failure is told by its code, never by fetch’s message (which quotes a refused header whole)', async () => {
    const thrown = await fetch('http://127.0.0.1:9/', { headers: { authorization: `Bearer ${secret}\r\nX: 1` } }).catch((e: unknown) => e);
    expect(String((thrown as Error).message)).toContain(secret); // what undici says, and why it is not printed
    expect(fetchFailure(thrown, [secret])).not.toContain(secret);
    expect(fetchFailure(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED', message: `connect ECONNREFUSED ${secret}` } }), [secret])).toBe('ECONNREFUSED');
    expect(fetchFailure(Object.assign(new TypeError('fetch failed'), { cause: { message: `bad ${secret}` } }), [secret])).toBe('the request could not be sent');
  });
});

describe('a --jwks file that is no JWKS: a clear refusal (exit 2), its content never printed', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir('cli-jwks');
  });
  const add = (file: string, extra: string[] = [], env: Record<string, string> = NO_STORE) =>
    cli(['issuers', 'add', '--id', 'JWKSBANK01', '--name', 'Bank', '--notification-url', 'https://bank.example', '--jwks', file, ...extra], env);

  it('on the store and through a hub alike', async () => {
    const cases: [string, string, RegExp][] = [
      ['object.json', '{"foo":1}', /has no "keys" array/],
      ['generated.json', JSON.stringify({ issuerId: 'JWKSBANK01', jwks: { keys: [{ kty: 'EC' }] }, privateJwk: { d: 'private-d-value' } }), /looks like what `issuers add --generate-key` prints[\s\S]*jq \.jwks/],
      ['one-key.json', '{"kty":"EC","crv":"P-256","x":"a","y":"b"}', /holds one key, not a key set/],
      ['keys-not-objects.json', '{"keys":[1]}', /keys\[0\] is not a JSON object/],
      ['array.json', '[]', /is not a JSON object/],
      ['shadow', 'root:$y$j9T$shadowsecrethash:19000:0:99999:7:::\n', /is not JSON .*its content is not printed/],
    ];
    for (const [name, content, said] of cases) {
      const file = join(dir, name);
      writeFileSync(file, content);
      for (const env of [NO_STORE, { ...NO_STORE, TRACKHUB_ADMIN_TOKEN: ADMIN_TOKEN }]) {
        const run = await add(file, 'TRACKHUB_ADMIN_TOKEN' in env ? ['--url', 'http://127.0.0.1:9'] : [], env);
        expect(run.code, run.out).toBe(2);
        expect(run.out).toMatch(said);
        expect(run.out).not.toMatch(/Cannot read properties|TypeError|at .*\.js:\d+/);
        expect(run.out).not.toContain('shadowsecrethash');
        expect(run.out).not.toContain('private-d-value');
      }
    }
    const missing = await add(join(dir, 'absent.json'));
    expect(missing.code).toBe(2);
    expect(missing.out).toMatch(/cannot read --jwks .*absent\.json: ENOENT/);
  });

  it('secrets rotate-key --new-key-file that is missing, a device or no key: exit 2, the content never printed', async () => {
    const shadow = join(dir, 'not-a-key');
    writeFileSync(shadow, 'root:$y$j9T$shadowsecrethash:19000:0:99999:7:::\n');
    const cases: [string, RegExp][] = [
      [join(dir, 'absent.key'), /cannot read --new-key-file .*absent\.key: ENOENT/],
      ['/dev/zero', /--new-key-file \/dev\/zero is not a key file/],
      [shadow, /not-a-key does not hold a master key/],
    ];
    for (const [file, said] of cases) {
      const run = await cli(['secrets', 'rotate-key', '--new-key-file', file], NO_STORE);
      expect(run.code, run.out).toBe(2);
      expect(run.out).toMatch(said);
      expect(run.out).not.toContain('shadowsecrethash');
    }
  });

  it('sites import of a file that is no batch file does not print its first line', async () => {
    const file = join(dir, 'shadow.csv');
    writeFileSync(file, 'root:$y$j9T$shadowsecrethash:19000:0:99999:7:::\n');
    const run = await cli(['sites', 'import', '--site', 'SITE-A', file, '--url', 'http://127.0.0.1:9', '--api-key', 'sk_0123456789abcdefghijklmn'], NO_STORE);
    expect(run.code, run.out).toBe(2);
    expect(run.out).toMatch(/unknown column\(s\) \(a name that is no column name\)/);
    expect(run.out).not.toContain('shadowsecrethash');
  });
});

describe('commander usage errors exit 2, as every refusal', () => {
  it('unknown option or command, missing argument or required option, a bad choice, a group without its subcommand; help exits 0', async () => {
    for (const args of [
      ['issuers', 'list', '--nope'],
      ['nosuchcommand'],
      ['sites', 'add'],
      ['sites', 'import', 'x.csv'],
      ['issuers', 'add', '--id', 'X', '--name', 'X', '--notification-url', 'https://x', '--signing', 'rsa'],
      ['notifications'],
    ]) {
      const run = await cli(args, NO_STORE);
      expect(run.code, `${args.join(' ')}: ${run.out}`).toBe(2);
    }
    expect((await cli(['sites', 'import', '--help'])).code).toBe(0);
    expect((await cli(['--version'])).code).toBe(0);
  });

  it('secrets rotate-key --help lists the issuers\' ed25519 signing keys among the secrets it re-encrypts', async () => {
    const help = await cli(['secrets', 'rotate-key', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/ed25519 private keys that sign\s+their notifications \(whsk_\)/);
  });
});

describe('ids are checked against their format on the store as through a hub', () => {
  it('notifications list --issuer bad: the Admin API error, exit 2, with and without --url', async () => {
    for (const extra of [[], ['--url', 'http://127.0.0.1:9']]) {
      const run = await cli(['notifications', 'list', '--issuer', 'bad', ...extra], { ...NO_STORE, TRACKHUB_ADMIN_TOKEN: ADMIN_TOKEN });
      expect(run.code, run.out).toBe(2);
      expect(run.out).toContain('--issuer: FIELD_INVALID_FORMAT: issuerId: must be 10 of [A-Za-z0-9_-]');
    }
    const site = await cli(['sites', 'import', '--site', '.hidden', 'x.csv'], NO_STORE);
    expect(site.code).toBe(2);
    expect(site.out).toMatch(/--site must be 1 to 64/);
  });
});

describe('notifications list --issuer of no issuer: an empty list, said on stderr, locally and through a hub', () => {
  let t: TestApp;
  let url: string;
  beforeAll(async () => {
    t = await testApp('postgres');
    url = await t.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => t?.close());

  it('exit 0 and "(no issuer NOSUCHBANK)"', async () => {
    const local = await cli(['notifications', 'list', '--issuer', 'NOSUCHBANK'], { TRACKHUB_DATABASE_URL: t.store.url });
    const remote = await cli(['notifications', 'list', '--issuer', 'NOSUCHBANK', '--url', url], { ...NO_STORE, TRACKHUB_ADMIN_TOKEN: ADMIN_TOKEN });
    for (const run of [local, remote]) {
      expect(run.code, run.out).toBe(0);
      expect(run.out.trim()).toBe('(no issuer NOSUCHBANK)');
    }
  });
});

describe('a notification id not of the Admin API\'s form is refused by its form, before any store or hub is asked', () => {
  it('notifications show and replay, on the store and through a hub alike', async () => {
    const problem = 'trackhub: the id must be a webhook-id: 1 to 64 of [A-Za-z0-9_-] (e.g. msg_0PNZ4XK2Qa7fGh3JkMnPqRsTv)';
    // An unreachable store and an unreachable hub: a lookup would end with exit 1, not this exit 2.
    for (const id of ['msg 1', 'msg_é', `msg_${'x'.repeat(61)}`, 'msg_1;drop']) {
      for (const command of ['show', 'replay']) {
        for (const extra of [[], ['--url', 'http://127.0.0.1:9']]) {
          const run = await cli(['notifications', command, id, ...extra], { ...NO_STORE, TRACKHUB_ADMIN_TOKEN: 'some-token-0123456789' });
          expect(run.code, `${command} ${id} ${extra.join(' ')}: ${run.out}`).toBe(2);
          expect(run.out.trim()).toBe(problem);
        }
      }
    }
  });
});

describe('trackhub migrate in a folder with no store', { timeout: 120_000 }, () => {
  let store: Awaited<ReturnType<typeof childProcessStore>>;
  beforeAll(async () => {
    store = await childProcessStore('embedded', 'cli-migrate');
  });
  afterAll(async () => store?.cleanup());

  it('creates one, saying so on stderr with the folder; once made, says nothing of the kind', async () => {
    const env = { TRACKHUB_DATABASE_URL: store.url, TRACKHUB_LOG_LEVEL: 'warn' };
    const folder = join(store.dir, 'pg');
    const first = await cli(['migrate'], env);
    expect(first.code, first.out).toBe(0);
    expect(first.out).toContain(`trackhub: creating a new embedded store in ${folder}`);
    expect(first.out).toMatch(/applied: /);
    expect(existsSync(join(folder, 'PG_VERSION'))).toBe(true);
    const again = await cli(['migrate'], env);
    expect(again.code, again.out).toBe(0);
    expect(again.out.trim()).toBe('up to date');
    expect(existsSync(join(folder, 'postmaster.pid'))).toBe(false);
  });
});

describe('an embedded store URL naming a file', () => {
  it('migrate, serve and the store commands refuse it (exit 2), before saying they create a store or making anything', async () => {
    const dir = tempDir('cli-afile');
    const file = join(dir, 'afile');
    writeFileSync(file, 'not a store');
    for (const url of [`embedded://${file}`, `embedded://${file}/pg`]) {
      const env = { TRACKHUB_DATABASE_URL: url, TRACKHUB_LOG_LEVEL: 'warn', TRACKHUB_PORT: '0' };
      for (const args of [['migrate'], ['serve'], ['notifications', 'list'], ['sites', 'add', 'BUREAU-F', '--name', 'F']]) {
        const run = await cli(args, env);
        expect(run.code, `${args.join(' ')}: ${run.out}`).toBe(2);
        expect(run.out.trim()).toBe(`trackhub: ${file} is a file, not a folder: the embedded store needs a folder (TRACKHUB_DATABASE_URL=embedded://FOLDER)`);
      }
    }
    expect(readdirSync(dir)).toEqual(['afile']);
    expect(readFileSync(file, 'utf8')).toBe('not a store');
  });
});

describe('a one-off command in a folder with no store', { timeout: 120_000 }, () => {
  let store: Awaited<ReturnType<typeof childProcessStore>>;
  let env: Record<string, string>;
  let folder: string;
  const postmaster = () => join(folder, 'postmaster.pid');
  beforeAll(async () => {
    store = await childProcessStore('embedded', 'cli-nostore');
    folder = join(store.dir, 'pg');
    env = { TRACKHUB_DATABASE_URL: store.url, TRACKHUB_LOG_LEVEL: 'warn' };
  });
  // Also stops a server a failed run of this test left behind.
  afterAll(async () => store?.cleanup());

  it('a lookup refuses to create one; a registration creates it and says so; a refusal inside the store stops the server it started', async () => {
    const list = await cli(['notifications', 'list'], env);
    expect(list.code, list.out).toBe(2);
    expect(list.out).toContain(`no store in ${folder}`);
    expect(list.out).toMatch(/run the command in the hub's folder, set TRACKHUB_DATABASE_URL .* or give --url/);
    expect(existsSync(folder)).toBe(false);

    const add = await cli(['sites', 'add', 'BUREAU-A', '--name', 'A'], env);
    expect(add.code, add.out).toBe(0);
    expect(add.out).toContain(`creating a new embedded store in ${folder}`);
    expect(existsSync(postmaster())).toBe(false);

    // fail() inside withStore: the command ends with exit 2 and the server it started is stopped.
    const file = join(store.dir, 'cards.csv');
    writeFileSync(file, 'eventId,issuerId,cardId,type,occurredAt\n');
    const unknownSite = await cli(['sites', 'import', '--site', 'BUREAU-LON', file], env);
    expect(unknownSite.code, unknownSite.out).toBe(2);
    expect(unknownSite.out).toContain(`no production site BUREAU-LON in the embedded store in ${folder}`);
    expect(unknownSite.out).not.toContain('creating a new embedded store');
    expect(existsSync(postmaster())).toBe(false);
  });
});
