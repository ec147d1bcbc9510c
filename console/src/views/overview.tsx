import { qs } from '../api.ts';
import type { Answer } from '../api-types.ts';
import { Bars, type Series, TimeChart } from '../chart.tsx';
import { href, navigate, type Route } from '../router.ts';
import { count, duration, ErrorNote, Loading, percent, plural, Stat, Table, Time, useApi, View } from '../ui.tsx';

// Overview: what the hub did over a window (24 h, 7 d or 31 d, ending now): operations opened and finished
// per hour, the shipment funnel, time from request to delivery, exception and failure rates.

type Summary = Answer<'/admin/v1/insights/summary'>;
/** The percentile figures every delivery-time row has, whatever it is per. */
type Pct = Pick<Summary['deliveryTime']['byCarrier'][number], 'count' | 'p50Seconds' | 'p90Seconds'>;

export const WINDOWS: Record<string, number> = { '24h': 24, '7d': 7 * 24, '31d': 31 * 24 };

/** The window ending at the current hour's end, so the hour under way is in the charts. */
export function windowOf(key: string): { from: string; to: string; hours: string[] } {
  const hours = WINDOWS[key] ?? 24;
  const end = new Date();
  end.setUTCMinutes(0, 0, 0);
  end.setUTCHours(end.getUTCHours() + 1);
  const start = new Date(end.getTime() - hours * 3_600_000);
  const list: string[] = [];
  for (let t = start.getTime(); t < end.getTime(); t += 3_600_000) list.push(new Date(t).toISOString());
  return { from: start.toISOString(), to: end.toISOString(), hours: list };
}

/** One series per key, a value for every hour of the window (0 where nothing happened). */
function perHour<T extends { hour: string; count: number }>(rows: T[], hours: string[], keyOf: (r: T) => string): Series[] {
  const index = new Map(hours.map((h, i) => [h.slice(0, 13), i]));
  const byKey = new Map<string, number[]>();
  for (const r of rows) {
    const i = index.get(new Date(r.hour).toISOString().slice(0, 13));
    if (i === undefined) continue;
    const key = keyOf(r);
    const values = byKey.get(key) ?? hours.map(() => 0);
    values[i] = (values[i] ?? 0) + r.count;
    byKey.set(key, values);
  }
  return [...byKey.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([label, values]) => ({ label, values }));
}

export function WindowPicker({ value, view }: { value: string; view: string }) {
  return (
    <label class="window">
      Window{' '}
      <select value={value} onChange={(e) => navigate(href(view, { window: (e.target as HTMLSelectElement).value }))}>
        <option value="24h">last 24 hours</option>
        <option value="7d">last 7 days</option>
        <option value="31d">last 31 days</option>
      </select>
    </label>
  );
}

function PctTable({ caption, first, rows }: { caption: string; first: string; rows: (Pct & { name: string })[] }) {
  return (
    <Table caption={caption} head={[first, 'Delivered', 'p50', 'p90']} num={[1, 2, 3]} empty={rows.length === 0}>
      {rows.map((r) => (
        <tr key={r.name}>
          <td>{r.name}</td>
          <td class="num">{count(r.count)}</td>
          <td class="num">{duration(r.p50Seconds)}</td>
          <td class="num">{duration(r.p90Seconds)}</td>
        </tr>
      ))}
    </Table>
  );
}

export function OverviewView({ route }: { route: Route }) {
  const key = route.query.get('window') ?? '24h';
  const w = windowOf(key in WINDOWS ? key : '24h');
  // The window is rounded to the hour, so the path (and the request) changes once an hour, not per render.
  const { data, error, loading } = useApi<Summary>(`/admin/v1/insights/summary${qs({ from: w.from, to: w.to })}`);
  const f = data?.funnel;
  return (
    <View title="Overview" intro="Operations opened and finished per hour, the shipment funnel, and time from request to delivery, over the window (UTC)." actions={<WindowPicker value={key} view="overview" />}>
      <ErrorNote error={error} />
      <Loading when={loading && !data} />
      {data && f ? (
        <>
          <p class="muted">
            From <Time value={data.from} /> to <Time value={data.to} />
          </p>
          <div class="stats">
            <Stat label="Shipments opened" value={count(data.rates.shipments)} />
            <Stat label="Delivered" value={count(f.DELIVERED)} tone="ok" />
            <Stat label="Exception rate" value={percent(data.rates.exceptionRate)} tone={(data.rates.exceptionRate ?? 0) > 0.05 ? 'warn' : undefined} hint="Shipments with a carrier exception / shipments opened" />
            <Stat label="Failure rate" value={percent(data.rates.failureRate)} tone={(data.rates.failureRate ?? 0) > 0.02 ? 'bad' : undefined} hint="Shipments failed / shipments opened" />
            <Stat label="Finished operations" value={count(data.rates.finished)} />
            <Stat label="Failed of finished" value={percent(data.rates.failureRateFinished)} />
          </div>
          <div class="grid2">
            <TimeChart title="Operations opened per hour, by type" times={w.hours} series={perHour(data.opened, w.hours, (r) => r.trackingType)} bars />
            <TimeChart title="Operations finished per hour, by type and outcome" times={w.hours} series={perHour(data.finished, w.hours, (r) => `${r.trackingType} ${r.status}${r.errorCode ? ` ${r.errorCode}` : ''}`)} bars />
          </div>
          <div class="grid2">
            <Bars
              title={`Shipment funnel (${plural(f.shipments, 'shipment')} opened in the window)`}
              rows={[
                { label: 'PENDING', value: f.PENDING },
                { label: 'INFO_RECEIVED', value: f.INFO_RECEIVED },
                { label: 'IN_TRANSIT', value: f.IN_TRANSIT },
                { label: 'OUT_FOR_DELIVERY', value: f.OUT_FOR_DELIVERY },
                { label: 'DELIVERED', value: f.DELIVERED },
                { label: 'exceptions', value: f.exceptions, tone: 'warn' },
                { label: 'failures', value: f.failures, tone: 'bad' },
              ]}
            />
            <div>
              <PctTable caption="Request → delivery, per carrier" first="Carrier" rows={data.deliveryTime.byCarrier.map((r) => ({ ...r, name: r.carrier ?? '(none)' }))} />
              <PctTable caption="Request → delivery, per production site" first="Site" rows={data.deliveryTime.bySite.map((r) => ({ ...r, name: r.productionSite ?? '(no site)' }))} />
              {data.deliveryTime.unregisteredSitesOmitted ? (
                <p class="cut-note muted">
                  Every registered site is listed; {data.deliveryTime.unregisteredSitesOmitted} more site names that requests gave and no registered site bears are not shown.
                </p>
              ) : null}
            </div>
          </div>
        </>
      ) : null}
    </View>
  );
}
