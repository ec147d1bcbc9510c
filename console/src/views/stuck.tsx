import { qs } from '../api.ts';
import type { Answer } from '../api-types.ts';
import { href, navigate, type Route } from '../router.ts';
import { shown } from '../text.ts';
import { Badge, count, ErrorNote, Loading, plural, Stat, Table, Time, useApi, View } from '../ui.tsx';

// Stuck: what should have moved and has not. Open shipments the carrier has not spoken of for N days,
// parcels a production site reported shipped N days ago that the carrier never scanned, and notifications
// still pending after N hours. The thresholds are in the URL, so a list can be shared as a link.

type Stuck = Answer<'/admin/v1/insights/stuck'>;

/** Rows per list: the API's own bound is 500; a page of this many is as far as anyone reads. */
export const STUCK_LIMIT = 100;

const FIELDS = [
  { key: 'scanDays', label: 'No carrier scan for (days)', min: 1, max: 365, fallback: 3 },
  { key: 'siteDays', label: 'Shipped by a site, unscanned after (days)', min: 1, max: 365, fallback: 2 },
  { key: 'pendingHours', label: 'Notification pending longer than (hours)', min: 1, max: 720, fallback: 1 },
] as const;

function CardLink({ issuerId, cardId }: { issuerId: string; cardId: string | null }) {
  if (cardId === null) return <span class="muted">(operation no longer stored)</span>;
  return (
    <a class="mono card-link" href={href('card', issuerId, cardId)}>
      {cardId}
    </a>
  );
}

/** "12" or "100+" when the list is cut at its limit. */
const listed = (n: number) => `${count(n)}${n >= STUCK_LIMIT ? '+' : ''}`;

export function StuckView({ route }: { route: Route }) {
  // What the URL holds is sent as it is: the API checks it and answers a 400 that the page shows.
  const asked = Object.fromEntries(FIELDS.map((f) => [f.key, route.query.get(f.key) ?? undefined]));
  const { data, error, loading } = useApi<Stuck>(`/admin/v1/insights/stuck${qs({ ...asked, limit: STUCK_LIMIT })}`);
  function submit(e: Event) {
    e.preventDefault();
    const form = new FormData(e.target as HTMLFormElement);
    navigate(href('stuck', Object.fromEntries(FIELDS.map((f) => [f.key, (form.get(f.key) ?? '').toString().trim()]))));
  }
  const noScanTotal = data?.noScan.byStatus.reduce((sum, s) => sum + s.count, 0) ?? 0;
  const th = data?.thresholds;
  return (
    <View title="Stuck parcels" intro="Open shipments the carrier has gone quiet on, parcels a production site shipped that the carrier never scanned, and notifications the issuer has not taken yet.">
      <form id="stuck-form" class="filters" onSubmit={submit} key={route.query.toString()}>
        {FIELDS.map((f) => (
          <label key={f.key} for={`stuck-${f.key}`}>
            {f.label}
            <input id={`stuck-${f.key}`} name={f.key} type="number" inputMode="numeric" min={f.min} max={f.max} step={1} required defaultValue={asked[f.key] ?? String(f.fallback)} />
          </label>
        ))}
        <button type="submit">Show</button>
      </form>
      <ErrorNote error={error} />
      <Loading when={loading && !data} />
      {data && th && !error ? (
        <>
          <p class="muted">
            As of <Time value={data.at} />
          </p>
          <div class="stats">
            <Stat label={`No carrier scan for ${th.scanDays} d`} value={count(noScanTotal)} tone={noScanTotal > 0 ? 'warn' : 'ok'} hint="Every open shipment quiet that long, counted" />
            <Stat label={`Site-shipped, unscanned after ${th.siteDays} d`} value={listed(data.siteShippedNoScan.items.length)} tone={data.siteShippedNoScan.items.length > 0 ? 'warn' : 'ok'} />
            <Stat label={`Notifications pending over ${th.pendingHours} h`} value={listed(data.pendingNotifications.items.length)} tone={data.pendingNotifications.items.length > 0 ? 'bad' : 'ok'} />
          </div>
          <h3 id="no-scan">No carrier scan for {plural(th.scanDays, 'day')} or more</h3>
          {data.noScan.byStatus.length > 0 ? (
            <p class="by-status">
              By status:{' '}
              {data.noScan.byStatus.map((s) => (
                <span key={s.status}>
                  <Badge>{s.status}</Badge> {count(s.count)}{' '}
                </span>
              ))}
            </p>
          ) : null}
          <Table caption={`Longest silent first${noScanTotal > data.noScan.items.length ? ` (the first ${data.noScan.items.length} of ${count(noScanTotal)})` : ''}`} head={['Card', 'Issuer', 'Status', 'Carrier', 'Tracking number', 'Last carrier scan', 'Asked']} empty={data.noScan.items.length === 0}>
            {data.noScan.items.map((i) => (
              <tr key={i.operationId} class="stuck-no-scan">
                <td>
                  <CardLink issuerId={i.issuerId} cardId={i.cardId} />
                </td>
                <td class="mono">{i.issuerId}</td>
                <td>
                  <Badge>{i.status}</Badge>
                </td>
                <td>{i.carrier ?? <span class="muted">—</span>}</td>
                <td class="mono">{i.trackingNumber ?? <span class="muted">—</span>}</td>
                <td>{i.lastScanAt ? <Time value={i.lastScanAt} /> : <span class="muted">never</span>}</td>
                <td>
                  <Time value={i.createdAt} />
                </td>
              </tr>
            ))}
          </Table>
          <h3 id="site-shipped">Shipped by a site {plural(th.siteDays, 'day')} ago or more, never scanned</h3>
          <Table caption="Oldest report first" head={['Card', 'Issuer', 'Site', 'Shipped', 'Status', 'Carrier', 'Tracking number']} empty={data.siteShippedNoScan.items.length === 0}>
            {data.siteShippedNoScan.items.map((i) => (
              <tr key={i.operationId} class="stuck-site">
                <td>
                  <CardLink issuerId={i.issuerId} cardId={i.cardId} />
                </td>
                <td class="mono">{i.issuerId}</td>
                <td class="mono">{i.siteId}</td>
                <td>
                  <Time value={i.shippedAt} />
                </td>
                <td>
                  <Badge>{i.status}</Badge>
                </td>
                <td>{i.carrier ?? <span class="muted">—</span>}</td>
                <td class="mono">{i.trackingNumber ?? <span class="muted">—</span>}</td>
              </tr>
            ))}
          </Table>
          <h3 id="pending">Notifications pending longer than {plural(th.pendingHours, 'hour')}</h3>
          <Table caption="Oldest first" head={['Card', 'Issuer', 'Webhook-id', 'Pending since', 'Attempts', 'Last error']} empty={data.pendingNotifications.items.length === 0}>
            {data.pendingNotifications.items.map((i) => (
              <tr key={`${i.notificationId}/${i.operationId}`} class="stuck-pending">
                <td>
                  <CardLink issuerId={i.issuerId} cardId={i.cardId} />
                </td>
                <td class="mono">{i.issuerId}</td>
                <td class="mono">{i.notificationId}</td>
                <td>
                  <Time value={i.pendingSince} />
                </td>
                <td class="num">{i.attempts}</td>
                <td>{shown(i.lastError) ?? <span class="muted">—</span>}</td>
              </tr>
            ))}
          </Table>
        </>
      ) : null}
    </View>
  );
}
