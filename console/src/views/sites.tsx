import { useEffect, useState } from 'preact/hooks';
import { api, qs, seg } from '../api.ts';
import type { Answer } from '../api-types.ts';
import { Bars } from '../chart.tsx';
import { ID_RULES, SITE_ID } from '../ids.ts';
import { href, type Route } from '../router.ts';
import { shown } from '../text.ts';
import { Badge, count, duration, ErrorNote, Loading, Stat, Table, Time, useApi, View } from '../ui.tsx';
import { WINDOWS, WindowPicker, windowOf } from './overview.tsx';

// Sites: each production site's request → CARD_SHIPPED latency, timeouts, inbox files and whether it has
// gone quiet while requests wait (GET /admin/v1/insights/sites and /insights/site-silence); a site's page
// (#/sites/<siteId>) lists its inbox files with their reports and rejected lines.

interface SiteFigures {
  productionSite: string;
  registered: boolean;
  requested: number;
  shipped: { count: number; p50Seconds: number | null; p90Seconds: number | null };
  productionTimeouts: number;
  inboxFiles: { files: number; processing: number; done: number; rejected: number; accepted: number; duplicates: number; rejectedLines: number };
}
interface Silence {
  at: string;
  silentAfterSeconds: number;
  sites: { productionSite: string; requestsWaiting: number; silentSeconds: number; silent: boolean }[];
}
interface SiteRow {
  siteId: string;
  name: string;
}
type InboxFile = Answer<'/admin/v1/production-sites/{siteId}/inbox-files'>['files'][number];

const SILENCE_PATH = '/admin/v1/insights/site-silence';

/** "1 request waits", "3 requests wait". */
function waitingText(n: number): string {
  return n === 1 ? '1 request waits' : `${count(n)} requests wait`;
}

function windowKey(route: Route): string {
  const key = route.query.get('window') ?? '24h';
  return key in WINDOWS ? key : '24h';
}

/** Silence in words: "12.0 h" under the look-back, "over 2.0 d" when capped at it. */
function silenceText(s: { silentSeconds: number }, lookback: number | undefined): string {
  return lookback !== undefined && s.silentSeconds >= lookback ? `over ${duration(lookback)}` : duration(s.silentSeconds);
}

/** The newest report as a UTC time with its age beside it; silent sites say so in words. */
function NewestReport({ q, at, lookback }: { q: { silentSeconds: number; silent: boolean }; at: string | undefined; lookback: number | undefined }) {
  const capped = lookback !== undefined && q.silentSeconds >= lookback;
  const when = at && !capped ? new Date(Date.parse(at) - q.silentSeconds * 1000).toISOString() : undefined;
  const age = when ? <span class="muted">({silenceText(q, lookback)} ago)</span> : null;
  if (q.silent) {
    return (
      <>
        <Badge tone="bad">silent {silenceText(q, lookback)}</Badge>
        {when ? (
          <div>
            <Time value={when} />
          </div>
        ) : null}
      </>
    );
  }
  return when ? (
    <>
      <Time value={when} /> {age}
    </>
  ) : (
    <span>none for {silenceText(q, lookback)}</span>
  );
}

function SitesList({ route }: { route: Route }) {
  const key = windowKey(route);
  const w = windowOf(key);
  const figures = useApi<{ from: string; to: string; sites: SiteFigures[]; unregisteredSitesOmitted?: number }>(`/admin/v1/insights/sites${qs({ from: w.from, to: w.to })}`);
  const omitted = figures.data?.unregisteredSitesOmitted ?? 0;
  const names = useApi<{ sites: SiteRow[] }>('/admin/v1/production-sites?limit=500');
  const silence = useApi<Silence & { lookbackSeconds: number }>(SILENCE_PATH);
  const nameOf = new Map((names.data?.sites ?? []).map((s) => [s.siteId, s.name]));
  const quiet = new Map((silence.data?.sites ?? []).map((s) => [s.productionSite, s]));
  const sites = figures.data?.sites ?? [];
  const silent = (silence.data?.sites ?? []).filter((s) => s.silent);
  const lookback = silence.data?.lookbackSeconds;
  const withLatency = sites.filter((s) => s.shipped.p90Seconds !== null);
  return (
    <View
      title="Sites"
      intro="Per production site: time from a PRODUCTION request to CARD_SHIPPED, PRODUCTION timeouts, inbox files and their rejected lines over the window (UTC); requests waiting and the newest report now."
      actions={<WindowPicker value={key} view="sites" />}
    >
      <ErrorNote error={figures.error} />
      <ErrorNote error={silence.error} />
      <Loading when={figures.loading && !figures.data} />
      {silent.length > 0 ? (
        <section class="needs-attention" aria-label="Needs attention">
          <h3>Needs attention</h3>
          <ul>
            {silent.map((s) => (
              <li key={s.productionSite} class="bad">
                <a href={href('sites', s.productionSite)}>{s.productionSite}</a>: no report for {silenceText(s, lookback)} while {waitingText(s.requestsWaiting)}
              </li>
            ))}
          </ul>
        </section>
      ) : null}
      {figures.data ? (
        <>
          <p class="muted">
            From <Time value={figures.data.from} /> to <Time value={figures.data.to} />
          </p>
          <div class="stats">
            <Stat label="Production requests" value={count(sites.reduce((n, s) => n + s.requested, 0))} />
            <Stat label="Shipped (CARD_SHIPPED)" value={count(sites.reduce((n, s) => n + s.shipped.count, 0))} tone="ok" />
            <Stat label="Production timeouts" value={count(sites.reduce((n, s) => n + s.productionTimeouts, 0))} tone={sites.some((s) => s.productionTimeouts > 0) ? 'bad' : undefined} />
            <Stat label="Rejected lines" value={count(sites.reduce((n, s) => n + s.inboxFiles.rejectedLines, 0))} tone={sites.some((s) => s.inboxFiles.rejectedLines > 0) ? 'warn' : undefined} />
            <Stat label="Sites silent with requests waiting" value={silence.data ? count(silent.length) : '—'} tone={silent.length > 0 ? 'bad' : undefined} />
          </div>
          <Table
            caption="Sites"
            head={['Site', 'Requests', 'Shipped', 'p50 to shipped', 'p90 to shipped', 'Timeouts', 'Inbox files', 'Accepted', 'Duplicates', 'Rejected lines', 'Waiting now', 'Newest report']}
            num={[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}
            empty={sites.length === 0}
          >
            {sites.map((s) => {
              const q = quiet.get(s.productionSite);
              const f = s.inboxFiles;
              return (
                <tr key={s.productionSite} data-site={s.productionSite}>
                  <td class="site-id">
                    <a href={href('sites', s.productionSite)}>{s.productionSite}</a>
                    {nameOf.get(s.productionSite) ? <div class="muted subtle">{nameOf.get(s.productionSite)}</div> : null}
                    {s.registered ? null : <Badge tone="warn">not registered</Badge>}
                  </td>
                  <td class="num">{count(s.requested)}</td>
                  <td class="num">{count(s.shipped.count)}</td>
                  <td class="num">{duration(s.shipped.p50Seconds)}</td>
                  <td class="num">{duration(s.shipped.p90Seconds)}</td>
                  <td class="num">{s.productionTimeouts > 0 ? <Badge tone="bad">{count(s.productionTimeouts)} timed out</Badge> : '0'}</td>
                  <td class="num" title={`${f.done} done, ${f.rejected} rejected, ${f.processing} processing`}>
                    {count(f.files)}
                    {f.rejected > 0 ? (
                      <>
                        {' '}
                        <Badge tone="bad">{count(f.rejected)} rejected</Badge>
                      </>
                    ) : null}
                    {f.processing > 0 ? (
                      <>
                        {' '}
                        <Badge tone="info">{count(f.processing)} processing</Badge>
                      </>
                    ) : null}
                  </td>
                  <td class="num">{count(f.accepted)}</td>
                  <td class="num">{count(f.duplicates)}</td>
                  <td class="num">{f.rejectedLines > 0 ? <Badge tone="warn">{count(f.rejectedLines)}</Badge> : '0'}</td>
                  <td class="num">{q ? count(q.requestsWaiting) : '—'}</td>
                  <td class="newest-report">{q ? <NewestReport q={q} at={silence.data?.at} lookback={lookback} /> : '—'}</td>
                </tr>
              );
            })}
          </Table>
          {omitted > 0 ? (
            <p class="cut-note muted">
              Every registered site is listed; {omitted} more site names that requests gave and no registered site bears are not shown (a request names its site in free text).
            </p>
          ) : null}
          {withLatency.length > 0 ? (
            <Bars
              title="Request → CARD_SHIPPED, p90 per site"
              rows={withLatency.map((s) => ({ label: s.productionSite, value: (s.shipped.p90Seconds ?? 0) / 3600, tone: s.productionTimeouts > 0 ? 'bad' : undefined }))}
              format={(h) => duration(h * 3600)}
            />
          ) : null}
        </>
      ) : null}
    </View>
  );
}

/** A site's inbox files, newest first, a page at a time, each with its rejected lines and their reasons. */
function InboxFiles({ siteId }: { siteId: string }) {
  const first = useApi<{ files: InboxFile[]; nextCursor: string | null }>(`/admin/v1/production-sites/${seg(siteId)}/inbox-files?limit=50`);
  const [more, setMore] = useState<{ files: InboxFile[]; nextCursor: string | null }>({ files: [], nextCursor: null });
  const [moreError, setMoreError] = useState<Parameters<typeof ErrorNote>[0]['error']>(undefined);
  useEffect(() => setMore({ files: [], nextCursor: null }), [siteId, first.data]);
  if (first.error) return <ErrorNote error={first.error} />;
  if (!first.data) return <Loading when={first.loading} />;
  const files = [...first.data.files, ...more.files];
  const cursor = more.files.length > 0 ? more.nextCursor : first.data.nextCursor;
  async function loadMore() {
    try {
      const page = await api<{ files: InboxFile[]; nextCursor: string | null }>(`/admin/v1/production-sites/${seg(siteId)}/inbox-files${qs({ limit: 50, cursor: cursor ?? undefined })}`);
      setMore((m) => ({ files: [...m.files, ...page.files], nextCursor: page.nextCursor }));
    } catch (err) {
      setMoreError(err as typeof moreError);
    }
  }
  return (
    <>
      <Table caption="Inbox files, newest first" head={['File', 'State', 'Received', 'Finished', 'Lines read', 'Accepted', 'Duplicates', 'Rejected lines']} empty={files.length === 0}>
        {files.map((f) => (
          <tr key={`${f.receivedAt} ${f.name}`} data-file={f.name}>
            <td class="file-name">
              <code>{shown(f.name)}</code>
            </td>
            <td>
              <Badge tone={f.state === 'done' ? 'ok' : f.state === 'rejected' ? 'bad' : 'info'}>{f.state}</Badge>
            </td>
            <td>
              <Time value={f.receivedAt} />
            </td>
            <td>
              <Time value={f.finishedAt} />
            </td>
            <td class="num">{count(f.linesRead)}</td>
            <td class="num">{count(f.accepted)}</td>
            <td class="num">{count(f.duplicates)}</td>
            <td>
              {count(f.rejectedLines)}
              {f.rejected.length > 0 ? (
                <ul class="rejections">
                  {f.rejected.map((r) => (
                    <li key={r.line}>
                      line {r.line}: <code>{r.errorCode}</code> {shown(r.error)}
                    </li>
                  ))}
                  {f.rejectedLines > f.rejected.length ? <li class="muted">and {count(f.rejectedLines - f.rejected.length)} more (in the report beside the file)</li> : null}
                </ul>
              ) : null}
            </td>
          </tr>
        ))}
      </Table>
      <ErrorNote error={moreError} />
      {cursor ? (
        <button type="button" class="quiet older-files" onClick={loadMore}>
          Older files
        </button>
      ) : null}
      <p class="hint">Why a whole file was rejected (unreadable, nothing usable in it) is in the report written beside it in the site's rejected/ folder.</p>
    </>
  );
}

function SiteDetail({ siteId, route }: { siteId: string; route: Route }) {
  const key = windowKey(route);
  const w = windowOf(key);
  const site = useApi<{ siteId: string; name: string; carriers: string[]; hasApiKey: boolean; createdAt: string }>(`/admin/v1/production-sites/${seg(siteId)}`);
  const figures = useApi<{ sites: SiteFigures[] }>(`/admin/v1/insights/sites${qs({ from: w.from, to: w.to })}`);
  const silence = useApi<Silence & { lookbackSeconds: number }>(SILENCE_PATH);
  const s = figures.data?.sites.find((x) => x.productionSite === siteId);
  const q = silence.data?.sites.find((x) => x.productionSite === siteId);
  return (
    <View title={`Site ${siteId}`} intro={site.data ? site.data.name : undefined} actions={<a href={href('sites', { window: key })}>All sites</a>}>
      <ErrorNote error={site.error} />
      {q?.silent ? (
        <p class="needs-attention error" role="status">
          No report for {silenceText(q, silence.data?.lookbackSeconds)} while {waitingText(q.requestsWaiting)}.
        </p>
      ) : null}
      {site.data ? (
        <p class="muted">
          Carriers: {site.data.carriers.length > 0 ? site.data.carriers.join(', ') : 'none set'}; {site.data.hasApiKey ? 'has a Site API key' : 'no Site API key'}; registered <Time value={site.data.createdAt} />
        </p>
      ) : null}
      {s ? (
        <div class="stats">
          <Stat label={`Requests (${key})`} value={count(s.requested)} />
          <Stat label="p50 to shipped" value={duration(s.shipped.p50Seconds)} />
          <Stat label="p90 to shipped" value={duration(s.shipped.p90Seconds)} />
          <Stat label="Production timeouts" value={count(s.productionTimeouts)} tone={s.productionTimeouts > 0 ? 'bad' : undefined} />
          <Stat label="Rejected lines" value={count(s.inboxFiles.rejectedLines)} tone={s.inboxFiles.rejectedLines > 0 ? 'warn' : undefined} />
          <Stat label="Waiting now" value={q ? count(q.requestsWaiting) : '—'} tone={q?.silent ? 'bad' : undefined} />
        </div>
      ) : null}
      {site.error?.status === 404 ? null : <InboxFiles siteId={siteId} />}
    </View>
  );
}

export function SitesView({ route }: { route: Route }) {
  const siteId = route.parts[0];
  if (!siteId) return <SitesList route={route} />;
  // A crafted link's text never reaches the heading: the API would refuse the id anyway.
  if (!SITE_ID.test(siteId)) {
    return (
      <View title="Not a valid site id" actions={<a href={href('sites')}>All sites</a>}>
        <p class="error" role="alert">
          This link's site id is not a valid site id ({ID_RULES.site}).
        </p>
      </View>
    );
  }
  return <SiteDetail siteId={siteId} route={route} />;
}
