import { useState } from 'preact/hooks';
import { qs } from '../api.ts';
import { href, navigate, type Route } from '../router.ts';
import { count, duration, ErrorNote, Loading, percent, Table, Time, useApi, View } from '../ui.tsx';
import { EndpointBadge, type IssuerInsight, type NotificationInsights } from './delivery-parts.tsx';
import { IssuerReplay } from './issuer-replay.tsx';
import { NotificationList, STATES } from './notification-list.tsx';
import { WINDOWS, windowOf } from './overview.tsx';

// Notifications: per issuer, how delivery went over the window and how it stands now (backlog, dead
// letters, the endpoint's state); the notifications themselves (dead ones first), each replayable; and a
// replay of an issuer's notifications since a UTC time, confirmed against the hub's own count.
// Everything the view shows is in the URL (#/notifications?window&issuer&state&cursor), so it can be shared.

function HealthTable({ rows, link }: { rows: IssuerInsight[]; link(changes: Record<string, string | undefined>): string }) {
  return (
    <Table
      caption="Per issuer: notifications created in the window and what became of them; backlog, oldest pending, dead and endpoint as they stand now"
      head={['Issuer', 'Created', 'Success rate', 'Latency p50', 'Latency p99', 'Backlog', 'Oldest pending', 'Dead now', 'Endpoint']}
      num={[1, 2, 3, 4, 5, 7]}
      empty={rows.length === 0}
    >
      {rows.map((r) => (
        <tr key={r.issuerId} data-issuer={r.issuerId}>
          <td>
            <a href={link({ issuer: r.issuerId, cursor: undefined })}>{r.name}</a>
            <div class="muted mono">{r.issuerId}</div>
          </td>
          <td class="num" title={`${r.delivered} delivered, ${r.dead} dead, ${r.pending} pending`}>
            {count(r.created)}
          </td>
          <td class="num">{percent(r.successRate)}</td>
          <td class="num">{duration(r.latency.p50Seconds)}</td>
          <td class="num">{duration(r.latency.p99Seconds)}</td>
          <td class="num">{count(r.backlog)}</td>
          <td>
            {r.oldestPendingAt ? (
              <>
                <Time value={r.oldestPendingAt} />
                <div class="muted">{duration(r.oldestPendingAgeSeconds)} ago</div>
              </>
            ) : (
              <span class="muted">none</span>
            )}
          </td>
          <td class={`num ${r.deadNow > 0 ? 'error' : ''}`}>
            {r.deadNow > 0 ? <a href={link({ issuer: r.issuerId, state: 'dead', cursor: undefined })}>{count(r.deadNow)}</a> : '0'}
          </td>
          <td>
            <EndpointBadge endpoint={r.endpoint} health={r} />
          </td>
        </tr>
      ))}
    </Table>
  );
}

export function NotificationsView({ route }: { route: Route }) {
  const q = route.query;
  const windowKey = (q.get('window') ?? '24h') in WINDOWS ? (q.get('window') ?? '24h') : '24h';
  const issuer = q.get('issuer') || undefined;
  const state = STATES.find((s) => s === q.get('state')) ?? 'dead';
  const cursor = q.get('cursor') || undefined;
  const link = (changes: Record<string, string | undefined>) => href('notifications', { ...Object.fromEntries(q.entries()), ...changes });
  const w = windowOf(windowKey);
  const insights = useApi<NotificationInsights>(`/admin/v1/insights/notifications${qs({ from: w.from, to: w.to })}`);
  // Bumped after an issuer replay: the list and the table read the store again.
  const [tick, setTick] = useState(0);
  const issuers = insights.data?.issuers ?? [];
  const names = new Map(issuers.map((i) => [i.issuerId, i.name]));

  function filter(e: Event) {
    e.preventDefault();
    const form = new FormData(e.target as HTMLFormElement);
    navigate(link({ issuer: String(form.get('issuer') ?? '') || undefined, state: String(form.get('state') ?? 'dead'), cursor: undefined }));
  }

  return (
    <View
      title="Notifications"
      intro="Delivery to each issuer's back-end: success rate and latency over the window, what waits now, dead letters to replay. Times are UTC."
      actions={
        <label class="window">
          Window{' '}
          <select value={windowKey} onChange={(e) => navigate(link({ window: (e.target as HTMLSelectElement).value }))}>
            <option value="24h">last 24 hours</option>
            <option value="7d">last 7 days</option>
            <option value="31d">last 31 days</option>
          </select>
        </label>
      }
    >
      <ErrorNote error={insights.error} />
      <Loading when={insights.loading && !insights.data} />
      {insights.data ? (
        <>
          <p class="muted">
            Window from <Time value={insights.data.from} /> to <Time value={insights.data.to} />
          </p>
          <HealthTable rows={issuers} link={link} />
        </>
      ) : null}

      <h3 id="list-title">Notifications</h3>
      <form class="filters" onSubmit={filter} aria-labelledby="list-title" key={`${issuer}/${state}/${issuers.length}`}>
        <label>
          State
          {/* A select has no defaultValue in the DOM: the option is marked selected (the form is new for each URL). */}
          <select name="state">
            {STATES.map((s) => (
              <option key={s} value={s} selected={s === state}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Issuer
          <select name="issuer">
            <option value="">all issuers</option>
            {issuer && !names.has(issuer) ? (
              <option value={issuer} selected>
                {issuer}
              </option>
            ) : null}
            {issuers.map((i) => (
              <option key={i.issuerId} value={i.issuerId} selected={i.issuerId === issuer}>
                {i.name} ({i.issuerId})
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Show</button>
      </form>
      <NotificationList state={state} issuerId={issuer} cursor={cursor} names={names} link={link} tick={tick} />

      <h3 id="replay-title">Replay an issuer's notifications</h3>
      <p class="hint">
        Sends again every dead notification (and delivered ones when asked) of one issuer created since a UTC time, under their own webhook-ids. You see how
        many first, and confirm.
      </p>
      {insights.data ? (
        <IssuerReplay
          key={issuer ?? ''}
          issuers={issuers}
          defaultIssuer={issuer}
          onReplayed={() => {
            setTick((t) => t + 1);
            insights.reload();
          }}
        />
      ) : null}
    </View>
  );
}
