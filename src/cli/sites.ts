import { statSync, writeFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import type { Config } from '../config.ts';
import { CARRIER_CODES, isCarrierCode } from '../domain/carriers.ts';
import { checkDisplayName } from '../domain/text.ts';
import type { HubContext } from '../operations/context.ts';
import type { EventSink, ImportSummary } from '../sites/batch-file.ts';
import { SITE_ID, SITE_ID_RULE } from '../sites/events.ts';
import type { Db } from '../store/db.ts';
import type { SavedSite } from '../store/production-sites.ts';
import { auditCli, type CliHelpers, fail, printable } from './common.ts';
import { fetchFailure, headerValueProblem, hubClientFor, hubUrlOption, listPages } from './hub-client.ts';

// What the commands run (the store, ingestion, carriers, the progress bar) is imported inside their
// actions: registering them stays light, so `trackhub --help` does not load the hub.

/** `trackhub sites add|list|import` (docs/contract.md §7). Registered on the program by main.ts. */

const LISTED_REJECTIONS = 20;
/** Rejected lines kept for the report file; the count stays exact beyond it. */
const KEPT_REJECTIONS = 100_000;



/** The hub's use-case context for a command that works on the store directly; no workers to wake. */
async function cliContext(db: Db, config: Config): Promise<HubContext> {
  const [{ buildContext }, { createLogger }, { policyOf }] = await Promise.all([import('../operations/context.ts'), import('../logger.ts'), import('../config.ts')]);
  return buildContext({ db, log: createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel), policy: policyOf(config) });
}

/** A hub's 429 (the site's event budget spent) is waited out this many times per chunk at most. */
const MAX_RATE_LIMITED_WAITS = 30;

/** Sends chunks to a hub's Site API (one running elsewhere) instead of opening the store. */
export function httpSink(baseUrl: string, siteId: string, apiKey: string): EventSink {
  const url = `${baseUrl.replace(/\/+$/, '')}/sites/v1/production-sites/${encodeURIComponent(siteId)}/events`;
  return async (events, chunk) => {
    if (events.length === 0) return { accepted: 0, duplicates: 0 };
    const send = async () => {
      try {
        return await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': apiKey }, body: JSON.stringify({ events }), redirect: 'error' });
      } catch (err) {
        // fetch's own message can quote a header (the key): only the connection error's code is said.
        fail(`could not reach the hub at ${baseUrl}: ${fetchFailure(err, [apiKey])}`, 1);
      }
    };
    let res = await send();
    // A refused batch was not taken at all: wait as long as Retry-After says (1 to 60 s) and send it again.
    for (let waits = 0; res.status === 429 && waits < MAX_RATE_LIMITED_WAITS; waits++) {
      await res.body?.cancel();
      const seconds = Math.min(60, Math.max(1, Number(res.headers.get('retry-after')) || 1));
      await new Promise((r) => setTimeout(r, seconds * 1000));
      res = await send();
    }
    const body = (await res.json().catch(() => ({}))) as { accepted?: number; duplicates?: number; rejected?: { index: number; errorCode: never; error: string }[]; error?: string };
    if (res.status !== 202) throw new Error(`the hub answered ${res.status}: ${printable(String(body.error ?? 'no error text'))}`);
    for (const r of body.rejected ?? []) chunk.rejected.push({ line: chunk.lines[r.index], errorCode: r.errorCode, error: r.error });
    return { accepted: body.accepted ?? 0, duplicates: body.duplicates ?? 0 };
  };
}

function printSummary(file: string, s: ImportSummary, seconds: number, opts: { json?: boolean; report?: string }): void {
  const perSecond = Math.round(s.records / Math.max(seconds, 0.001));
  const sorted = [...s.rejected].sort((a, b) => a.line - b.line);
  let reportFile: string | undefined;
  if (s.rejectedCount > LISTED_REJECTIONS) {
    reportFile = opts.report ?? `${file}.rejected.json`;
    writeFileSync(reportFile, `${JSON.stringify({ file, lines: s.records, lastLine: s.lines, accepted: s.accepted, duplicates: s.duplicates, rejectedCount: s.rejectedCount, rejected: sorted }, null, 1)}\n`, { mode: 0o600 });
  }
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ lines: s.records, lastLine: s.lines, accepted: s.accepted, duplicates: s.duplicates, rejectedCount: s.rejectedCount, rejected: sorted.slice(0, LISTED_REJECTIONS), ...(reportFile ? { reportFile } : {}), seconds, eventsPerSecond: perSecond })}\n`);
    return;
  }
  process.stdout.write(`${file}: ${s.records} line${s.records === 1 ? '' : 's'} read (a CSV header is not counted) in ${seconds.toFixed(1)} s (${perSecond} events/s)\n  accepted:   ${s.accepted}\n  duplicates: ${s.duplicates}\n  rejected:   ${s.rejectedCount}\n`);
  for (const r of sorted.slice(0, LISTED_REJECTIONS)) process.stdout.write(`    line ${r.line}: ${r.errorCode} ${printable(r.error)}\n`);
  if (reportFile) process.stdout.write(`  every rejected line with its reason: ${reportFile}\n`);
}

export function registerSiteCommands(program: Command, h: CliHelpers): void {
  const sites = program.command('sites').description('Manage production sites and import their batch files');

  sites
    .command('add <siteId>')
    .description('Register or update a production site; a generated API key is printed once')
    .requiredOption('--name <name>', 'display name')
    .option('--carriers <codes>', `the site's usual carriers, comma-separated (${CARRIER_CODES.join(', ')})`)
    .option('--api-key <key>', 'use this API key (at least 24 characters) instead of generating one')
    .option('--rotate-key', 'replace the stored API key with a generated one, printed once')
    .addOption(hubUrlOption())
    .action(async (siteId: string, opts: { name: string; carriers?: string; apiKey?: string; rotateKey?: boolean; url?: string }) => {
      if (!SITE_ID.test(siteId)) fail(`siteId must be ${SITE_ID_RULE}`);
      const nameProblem = checkDisplayName('--name', opts.name);
      if (nameProblem) fail(nameProblem);
      const carriers = opts.carriers ? opts.carriers.split(',').map((c) => c.trim()).filter(Boolean) : undefined;
      const unknown = carriers?.filter((c) => !isCarrierCode(c));
      if (unknown?.length) fail(`--carriers: unknown carrier code(s) ${unknown.join(', ')}`);
      if (opts.apiKey !== undefined && (opts.apiKey.length < 24 || opts.apiKey.length > 200)) fail('--api-key must be 24 to 200 characters');
      if (opts.apiKey !== undefined && opts.rotateKey) fail('--rotate-key and --api-key exclude each other');
      const hub = hubClientFor(opts.url);
      if (hub) {
        const body = { name: opts.name, ...(carriers ? { carriers } : {}), ...(opts.apiKey !== undefined ? { apiKey: opts.apiKey } : {}), ...(opts.rotateKey ? { generateApiKey: true } : {}) };
        const res = await hub.request<{ siteId: string; name: string; carriers: string[]; apiKey?: string }>('PUT', `/admin/v1/production-sites/${encodeURIComponent(siteId)}`, body);
        const { apiKey, ...rest } = res.body;
        process.stdout.write(`${JSON.stringify({ ...rest, created: res.status === 201, ...(apiKey ? { apiKey } : {}) }, null, 2)}\n`);
        if (apiKey) process.stderr.write('The API key is shown this once; the hub keeps only its hash.\n');
        return;
      }
      const { getSiteRow, SiteKeyTaken, upsertSite } = await import('../store/production-sites.ts');
      await h.withStore(async (db) => {
        let saved: SavedSite;
        const before = await getSiteRow(db, siteId);
        try {
          saved = await upsertSite(db, { siteId, name: opts.name, apiKey: opts.apiKey, generateApiKey: opts.rotateKey, carriers });
        } catch (err) {
          if (err instanceof SiteKeyTaken) fail(`--api-key ${err.message.replace(/^apiKey: /, '')}`);
          throw err;
        }
        const shown = (r: typeof before) => r && { name: r.name, carriers: r.carriers, hasApiKey: r.api_key_hash !== null };
        const keyChanged = opts.apiKey !== undefined || opts.rotateKey === true;
        await auditCli(db, 'sites add', { status: before ? 200 : 201, targetId: siteId, before: shown(before), after: { ...shown(await getSiteRow(db, siteId)), ...(keyChanged ? { apiKey: '***' } : {}) } });
        process.stdout.write(`${JSON.stringify(saved, null, 2)}\n`);
        if (saved.apiKey) process.stderr.write('The API key is shown this once; the hub keeps only its hash.\n');
        // Registering a site may come before the hub's first start: this command may create the store.
      }, { create: true });
    });

  sites
    .command('list')
    .description('List production sites (tab-separated: id, key or no-key, carriers, name; keys are never shown)')
    .addOption(hubUrlOption())
    .action(async (opts: { url?: string }) => {
      const hub = hubClientFor(opts.url);
      if (hub) {
        for await (const r of listPages<{ siteId: string; name: string; carriers: string[]; hasApiKey: boolean }>(hub, '/admin/v1/production-sites', 'sites', {})) {
          process.stdout.write(`${r.siteId}\t${r.hasApiKey ? 'key' : 'no-key'}\t${r.carriers.join(',') || '-'}\t${printable(r.name)}\n`);
        }
        return;
      }
      const { listSiteRows } = await import('../store/production-sites.ts');
      await h.withStore(async (db) => {
        const rows = await listSiteRows(db);
        for (const r of rows) {
          process.stdout.write(`${r.site_id}\t${r.api_key_hash ? 'key' : 'no-key'}\t${r.carriers.join(',') || '-'}\t${printable(r.name)}\n`);
        }
      });
    });

  sites
    .command('import <file>')
    .description('Import a batch file of site events (CSV with a header row, or JSON Lines), streaming')
    .addHelpText(
      'after',
      '\nGood lines are imported even when others are rejected; the command then exits 1 and lists each rejected line\n' +
        'by its line number in the file (a CSV header is line 1). Exit 0: every line taken (or a duplicate of one\n' +
        'taken before); 2: the command or the file as a whole is unusable (bad option, unknown site, bad CSV header).\n' +
        'With --url the events go through that hub\'s Site API with the site\'s own key, not the Admin API.',
    )
    .requiredOption('--site <siteId>', 'the production site the events come from')
    .option('--url <hubUrl>', "send through a hub's Site API (e.g. one on another machine) instead of opening the store")
    .addOption(new Option('--api-key <key>', 'the site API key, with --url').env('TRACKHUB_SITE_API_KEY'))
    .option('--chunk <lines>', 'lines committed per transaction', '1000')
    .option('--report <file>', 'where to write every rejected line when there are many (default FILE.rejected.json)')
    .option('--json', 'print the summary as one JSON line')
    .action(async (file: string, opts: { site: string; url?: string; apiKey?: string; chunk: string; report?: string; json?: boolean }) => {
      // As the Site API answers a malformed id: said to be one, not looked up.
      if (!SITE_ID.test(opts.site)) fail(`--site must be ${SITE_ID_RULE}`);
      if (opts.url !== undefined) {
        if (!URL.canParse(opts.url) || !/^https?:$/.test(new URL(opts.url).protocol)) fail("--url must be the hub's http(s) URL, e.g. http://127.0.0.1:8080");
        if (!opts.apiKey) fail('--url needs --api-key (or TRACKHUB_SITE_API_KEY)');
        const problem = headerValueProblem('--api-key (or TRACKHUB_SITE_API_KEY)', opts.apiKey);
        if (problem) fail(problem);
      }
      const chunkLines = Number(opts.chunk);
      if (!Number.isInteger(chunkLines) || chunkLines < 1 || chunkLines > 1000) fail('--chunk must be an integer from 1 to 1000');
      let size: number;
      try {
        size = statSync(file).size;
      } catch (err) {
        fail(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
      }
      const { BatchFileError, importFile } = await import('../sites/batch-file.ts');
      const { default: cliProgress } = await import('cli-progress');
      const bar = process.stdout.isTTY && !opts.json ? new cliProgress.SingleBar({ format: 'importing [{bar}] {percentage}% | accepted {accepted} | duplicates {duplicates} | rejected {rejected}', hideCursor: true }, cliProgress.Presets.shades_classic) : undefined;
      bar?.start(size, 0, { accepted: 0, duplicates: 0, rejected: 0 });
      const progress = {
        onBytes: (bytes: number) => bar?.update(bytes),
        onChunk: (s: ImportSummary) => bar?.update({ accepted: s.accepted, duplicates: s.duplicates, rejected: s.rejectedCount }),
        chunkLines,
        keepRejected: KEPT_REJECTIONS,
      };
      const run = async (sink: EventSink): Promise<ImportSummary> => {
        try {
          return await importFile(file, sink, progress);
        } catch (err) {
          bar?.stop();
          if (err instanceof BatchFileError) fail(`${file}: ${err.message}`);
          throw err;
        } finally {
          bar?.stop();
        }
      };
      let summary: ImportSummary;
      const started = performance.now();
      if (opts.url !== undefined) {
        summary = await run(httpSink(opts.url, opts.site, opts.apiKey as string));
      } else {
        const config = h.config();
        const { siteExists } = await import('../store/production-sites.ts');
        summary = await h.withStore(async (db) => {
          if (!(await siteExists(db, opts.site))) fail(`no production site ${opts.site} in ${h.storeName()}; register it with: trackhub sites add ${opts.site} --name NAME`);
          const ctx = await cliContext(db, config);
          const { ingestEvents } = await import('../sites/ingest.ts');
          return run(async (events, chunk) => {
            const result = await ingestEvents(ctx, opts.site, events);
            for (const r of result.rejected) chunk.rejected.push({ line: chunk.lines[r.index], errorCode: r.errorCode, error: r.error });
            return result;
          });
        });
      }
      printSummary(file, summary, (performance.now() - started) / 1000, opts);
      // A script sees that something was left out: the good lines are in, the rejected ones are listed.
      if (summary.rejectedCount > 0) process.exitCode = 1;
    });
}
