import type { Command } from 'commander';
import type { NotificationState, NotificationSummary } from '../store/notifications.ts';
import { auditCli, type CliHelpers, fail, printable } from './common.ts';
import { hubClientFor, hubUrlOption, listPages } from './hub-client.ts';

/** What a replay of a notification whose send is under way says: it is left to that send, never sent twice at once. */
const IN_FLIGHT = 'not replayed: its send is under way (it is retried on its schedule if that send fails; replay again once it is delivered or dead)';

/**
 * The store's notification states, named here so that registering the commands (for `--help`) does not load
 * the store; notifications.test.ts checks it against the store's NOTIFICATION_STATES.
 */
export const NOTIFICATION_STATES: readonly NotificationState[] = ['pending', 'delivered', 'dead'];

/**
 * A webhook-id in the form the Admin API takes (1 to 64 of [A-Za-z0-9_-]), checked before any store or hub
 * is asked, so the CLI on the store and with --url refuse the same ids the same way (one the hub never
 * made, well formed, is then "no such notification").
 */
const NOTIFICATION_ID = /^[A-Za-z0-9_-]{1,64}$/;
const NOTIFICATION_ID_PROBLEM = 'the id must be a webhook-id: 1 to 64 of [A-Za-z0-9_-] (e.g. msg_0PNZ4XK2Qa7fGh3JkMnPqRsTv)';
/** The Admin API's refusal of a malformed issuer id, word for word. */
const ISSUER_ID_PROBLEM = 'FIELD_INVALID_FORMAT: issuerId: must be 10 of [A-Za-z0-9_-]';

/** `trackhub notifications list|show|replay`: the Admin API's dead-letter views, on the store or (`--url`) through a hub's Admin API. */
export function registerNotificationCommands(program: Command, { withStore, storeName }: CliHelpers): void {
  const cmd = program.command('notifications').description('Inspect and replay issuer notifications');
  cmd
    .command('list')
    .description('List notifications, oldest first (tab-separated: id, issuer, state, attempts, created, last error)')
    .option('--state <state>', `one of ${NOTIFICATION_STATES.join(', ')}`)
    .option('--issuer <issuerId>', 'only this issuer')
    .option('--limit <n>', 'at most this many', '100')
    .option('--json', 'one JSON object per line')
    .addOption(hubUrlOption())
    .action(async (opts: { state?: string; issuer?: string; limit: string; json?: boolean; url?: string }) => {
      if (opts.state !== undefined && !NOTIFICATION_STATES.includes(opts.state as NotificationState)) fail(`--state must be one of ${NOTIFICATION_STATES.join(', ')}`);
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1) fail('--limit must be a positive integer');
      // Checked here, for the store and --url alike, in the Admin API's words: a malformed id is an error,
      // not a filter that matches nothing. A well-formed id of no issuer is a filter (nothing listed), said on stderr.
      const { ISSUER_ID } = await import('../domain/track-request.ts');
      if (opts.issuer !== undefined && !ISSUER_ID.test(opts.issuer)) fail(`--issuer: ${ISSUER_ID_PROBLEM}`);
      const noSuchIssuer = (issuerId: string) => process.stderr.write(`(no issuer ${issuerId})\n`);
      const print = (n: NotificationSummary) =>
        process.stdout.write(opts.json ? `${JSON.stringify(n)}\n` : `${n.id}\t${n.issuerId}\t${n.state}\t${n.attempts}\t${n.createdAt}\t${printable(n.lastError ?? '')}\n`);
      const hub = hubClientFor(opts.url);
      if (hub) {
        if (opts.issuer !== undefined && (await hub.request('GET', `/admin/v1/issuers/${opts.issuer}`, undefined, [404])).status === 404) noSuchIssuer(opts.issuer);
        for await (const n of listPages<NotificationSummary>(hub, '/admin/v1/notifications', 'notifications', { state: opts.state, issuerId: opts.issuer }, limit)) print(n);
        return;
      }
      const [{ listNotifications }, { getIssuer }] = await Promise.all([import('../store/notifications.ts'), import('../store/issuers.ts')]);
      await withStore(async (db) => {
        if (opts.issuer !== undefined && !(await getIssuer(db, opts.issuer))) noSuchIssuer(opts.issuer);
        let after: string | undefined;
        let left = limit;
        while (left > 0) {
          const page = await listNotifications(db, { state: opts.state as NotificationState | undefined, issuerId: opts.issuer, after, limit: Math.min(left, 500) });
          for (const n of page.notifications) print(n);
          left -= page.notifications.length;
          after = page.notifications.at(-1)?.id;
          if (!page.more) break;
        }
      });
    });
  cmd
    .command('show <id>')
    .description('Show one notification as JSON: its operations and every delivery attempt')
    .addOption(hubUrlOption())
    .action(async (id: string, opts: { url?: string }) => {
      // A mistyped id is said to be one, not looked up.
      if (!NOTIFICATION_ID.test(id)) fail(NOTIFICATION_ID_PROBLEM);
      const hub = hubClientFor(opts.url);
      let found: unknown;
      if (hub) found = (await hub.request('GET', `/admin/v1/notifications/${id}`)).body;
      else {
        const { getNotification } = await import('../store/notifications.ts');
        found = await withStore((db) => getNotification(db, id));
        if (!found) fail(`no such notification: ${id} (in ${storeName()})`);
      }
      process.stdout.write(`${JSON.stringify(found, null, 2)}\n`);
    });
  cmd
    .command('replay [id]')
    .description(
      "Send a notification again (same webhook-id), or all of an issuer's dead ones since a time. Exits 1, saying why, when a notification's send is under way (it is left to that send, not replayed)",
    )
    .option('--issuer <issuerId>', 'replay this issuer\'s dead notifications (with --since)')
    .option('--since <time>', 'ISO 8601 time with its offset, e.g. 2026-12-01T00:00:00Z')
    .option('--include-delivered', 'with --issuer: resend delivered ones too')
    .addOption(hubUrlOption())
    .action(async (id: string | undefined, opts: { issuer?: string; since?: string; includeDelivered?: boolean; url?: string }) => {
      if (id && opts.issuer) fail('give a notification id or --issuer, not both');
      if (id !== undefined && !NOTIFICATION_ID.test(id)) fail(NOTIFICATION_ID_PROBLEM);
      const hub = hubClientFor(opts.url);
      if (hub && id) {
        const { body } = await hub.request<{ replayed?: boolean }>('POST', `/admin/v1/notifications/${id}/replay`);
        // Not done as asked: exit 1, with the reason.
        if (body.replayed === false) fail(`${id}: ${IN_FLIGHT}`, 1);
        process.stdout.write(`replayed ${id}\n`);
        return;
      }
      const { replayIssuerSince, replayNotificationOutcome } = await import('../store/notifications.ts');
      if (id) {
        const outcome = await withStore(async (db) => {
          const result = await replayNotificationOutcome(db, id);
          // A refused write is audited too, as the Admin API does.
          await auditCli(db, 'notifications replay', result === 'not_found' ? { status: 404, targetId: id } : { status: 202, targetId: id, after: { replayed: result === 'replayed' ? 1 : 0 } });
          return result;
        });
        if (outcome === 'not_found') fail(`no such notification: ${id} (in ${storeName()})`);
        if (outcome === 'in_flight') fail(`${id}: ${IN_FLIGHT}`, 1);
        process.stdout.write(`replayed ${id}\n`);
        return;
      }
      if (!opts.issuer || !opts.since) fail('give a notification id, or --issuer and --since');
      // The Admin API's reading of a time (an offset, at most milliseconds), on the store as through the hub.
      const { timeParam } = await import('../http/time-params.ts');
      let since: Date;
      try {
        since = timeParam('--since', opts.since);
      } catch (err) {
        fail((err as Error).message);
      }
      const issuerId = opts.issuer;
      const [{ ISSUER_ID }, { getIssuer }] = await Promise.all([import('../domain/track-request.ts'), import('../store/issuers.ts')]);
      if (!ISSUER_ID.test(issuerId)) fail(`--issuer: ${ISSUER_ID_PROBLEM}`);
      if (hub) {
        // The hub answers 404 "no such issuer" for a mistyped one, which ends the command with exit 2.
        const { body } = await hub.request<{ replayed: number }>('POST', `/admin/v1/issuers/${issuerId}/replay`, { since: since.toISOString(), includeDelivered: opts.includeDelivered ?? false });
        process.stdout.write(`replayed ${body.replayed} notification${body.replayed === 1 ? '' : 's'} of ${issuerId}\n`);
        return;
      }
      const n = await withStore(async (db) => {
        // As the Admin API answers 404: a mistyped issuer is "no such issuer", not "nothing to replay".
        if (!(await getIssuer(db, issuerId))) {
          await auditCli(db, 'notifications replay', { status: 404, targetId: issuerId });
          return undefined;
        }
        const includeDelivered = opts.includeDelivered ?? false;
        const replayed = await replayIssuerSince(db, issuerId, since, includeDelivered);
        await auditCli(db, 'notifications replay', { status: 202, targetId: issuerId, after: { since: since.toISOString(), includeDelivered, replayed } });
        return replayed;
      });
      if (n === undefined) fail(`no such issuer: ${issuerId} (in ${storeName()})`);
      process.stdout.write(`replayed ${n} notification${n === 1 ? '' : 's'} of ${opts.issuer}\n`);
    });
}
