import type { Command } from 'commander';
import type { AdminTokenView } from '../store/admin-tokens.ts';
import { auditCli, type CliHelpers, fail } from './common.ts';
import { hubClientFor, hubUrlOption } from './hub-client.ts';

// Named here, not imported from the store module, so that registering the commands (for `--help`) loads
// nothing; admin.tokens.cli.test.ts checks them against the store's ADMIN_SCOPES.
export const CLI_ADMIN_SCOPES = ['read', 'operate', 'admin'] as const;

/**
 * `trackhub admin-tokens create|list|revoke`: named Admin API tokens, straight on the store (like
 * `issuers add`), so they work with the hub running or stopped; or, with `--url`, through a running hub's
 * Admin API (an `admin` token in TRACKHUB_ADMIN_TOKEN). Creating and revoking are audited either way.
 */
export function registerAdminTokenCommands(program: Command, { withStore, storeName }: CliHelpers): void {
  const cmd = program.command('admin-tokens').description('Named tokens for the Admin API, the console and /metrics');
  cmd
    .command('create')
    .description('Create a token and print it once (the hub keeps only its SHA-256)')
    .requiredOption('--name <name>', 'who the audit log will name: 1 to 64 of [A-Za-z0-9_.-]')
    .requiredOption('--scope <scope>', `one of ${CLI_ADMIN_SCOPES.join(', ')}: read (every GET but the token list), operate (read and replays), admin (everything)`)
    .addOption(hubUrlOption())
    .action(async (opts: { name: string; scope: string; url?: string }) => {
      const store = await import('../store/admin-tokens.ts');
      if (!store.ADMIN_TOKEN_NAME.test(opts.name)) fail(`--name must be ${store.ADMIN_TOKEN_NAME_RULE}`);
      if (!store.isAdminScope(opts.scope)) fail(`--scope must be one of ${store.ADMIN_SCOPES.join(', ')}`);
      const scope = opts.scope;
      const hub = hubClientFor(opts.url);
      if (hub) {
        const { body } = await hub.request<{ name: string; scope: string; token: string }>('POST', '/admin/v1/admin-tokens', { name: opts.name, scope });
        process.stderr.write(`admin token ${body.name} (scope ${body.scope}) created; it is printed only this once:\n`);
        process.stdout.write(`${body.token}\n`);
        return;
      }
      // The first token of a new hub may come before its first start: this command may create the store.
      const taken = await withStore(async (db) => {
        let created: Awaited<ReturnType<typeof store.createAdminToken>>;
        try {
          created = await store.createAdminToken(db, opts.name, scope);
        } catch (err) {
          if (err instanceof store.AdminTokenNameTaken) return err.message.replace(/^name: /, '');
          throw err;
        }
        await auditCli(db, 'admin-tokens create', { status: 201, targetId: created.name, after: { ...created, token: '***' } });
        process.stderr.write(`admin token ${created.name} (scope ${created.scope}) created; it is printed only this once:\n`);
        process.stdout.write(`${created.token}\n`);
        return undefined;
      }, { create: true });
      if (taken) fail(taken);
    });
  cmd
    .command('list')
    .description('List tokens (tab-separated: name, scope, created, last used, state); never the tokens')
    .option('--json', 'one JSON object per line')
    .addOption(hubUrlOption())
    .action(async (opts: { json?: boolean; url?: string }) => {
      const print = (t: AdminTokenView) =>
        process.stdout.write(
          opts.json ? `${JSON.stringify(t)}\n` : `${t.name}\t${t.scope}\t${t.createdAt}\t${t.lastUsedAt ?? 'never'}\t${t.revokedAt ? `revoked ${t.revokedAt}` : 'active'}\n`,
        );
      const hub = hubClientFor(opts.url);
      if (hub) {
        for (const t of (await hub.request<{ tokens: AdminTokenView[] }>('GET', '/admin/v1/admin-tokens')).body.tokens) print(t);
        return;
      }
      const { listAdminTokens } = await import('../store/admin-tokens.ts');
      await withStore(async (db) => {
        for (const t of await listAdminTokens(db)) print(t);
      });
    });
  cmd
    .command('revoke')
    .description('Revoke a token: running hubs refuse it within 5 s')
    .argument('<name>', 'the token name')
    .addOption(hubUrlOption())
    .action(async (name: string, opts: { url?: string }) => {
      const [store, { ADMIN_TOKEN_CACHE_TTL_MS }] = await Promise.all([import('../store/admin-tokens.ts'), import('../http/admin-auth.ts')]);
      if (!store.ADMIN_TOKEN_NAME.test(name)) fail(`the name must be ${store.ADMIN_TOKEN_NAME_RULE}`);
      const hub = hubClientFor(opts.url);
      if (hub) {
        // No active token of that name: exit 1, as on the store.
        if ((await hub.request('DELETE', `/admin/v1/admin-tokens/${name}`, undefined, [404])).status === 404) fail(`no active admin token named ${name}`, 1);
        process.stdout.write(`revoked ${name}: running hubs refuse it within ${ADMIN_TOKEN_CACHE_TTL_MS / 1000} s\n`);
        return;
      }
      const revoked = await withStore(async (db) => {
        const before = await store.getAdminToken(db, name);
        if (!(await store.revokeAdminToken(db, name))) return false;
        await auditCli(db, 'admin-tokens revoke', { status: 204, targetId: name, before, after: await store.getAdminToken(db, name) });
        process.stdout.write(`revoked ${name}: running hubs refuse it within ${ADMIN_TOKEN_CACHE_TTL_MS / 1000} s\n`);
        return true;
      });
      if (!revoked) fail(`no active admin token named ${name} in ${storeName()}`, 1);
    });
}
