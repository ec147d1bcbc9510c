import type { Answer } from '../api-types.ts';
import type { Route } from '../router.ts';
import { Badge, count, duration, ErrorNote, Loading, percent, plural, Stat, Table, Time, useApi, View } from '../ui.tsx';

// Carriers: each provider as GET /admin/v1/carriers reports it (budget and its use, demand against what the
// budget supplies, breaker, fallbacks, pushes, unknown status codes). What needs an operator is listed first.

export type Carrier = Answer<'/admin/v1/carriers'>['carriers'][number];

type Tone = 'bad' | 'warn';

/** What an operator should look at for this carrier, worded; empty when all is well. */
export function problemsOf(c: Carrier): { text: string; tone: Tone; until?: string | null }[] {
  const out: { text: string; tone: Tone; until?: string | null }[] = [];
  if (c.breaker.state === 'open') out.push({ text: 'breaker open', tone: 'bad', until: c.breaker.until });
  else if (c.breaker.state === 'half-open') out.push({ text: 'breaker half-open (trying again)', tone: 'warn' });
  if (c.window && c.window.remaining === 0) out.push({ text: 'budget exhausted in the window ending now', tone: 'bad' });
  if (c.pausedUntil) out.push({ text: 'paused by the carrier (Retry-After)', tone: 'warn', until: c.pausedUntil });
  if (c.demand.overloaded) out.push({ text: 'demand over what the budget supplies', tone: 'warn' });
  if (c.overdue.parcels > 0) out.push({ text: `${plural(c.overdue.parcels, 'parcel')} polled late`, tone: 'warn' });
  return out;
}

function BreakerBadge({ breaker }: { breaker: Carrier['breaker'] }) {
  if (breaker.state === 'open') {
    return (
      <Badge tone="bad">
        breaker open{breaker.until ? ' until ' : ''}
        {breaker.until ? <Time value={breaker.until} /> : null}
      </Badge>
    );
  }
  if (breaker.state === 'half-open') return <Badge tone="warn">breaker half-open</Badge>;
  return <Badge tone="ok">breaker {breaker.state}</Badge>;
}

/** Calls used against the budget, as a bar with its figures in words (the bar alone says nothing to a screen reader). */
function UseBar({ label, used, budget, wanted, from, to }: { label: string; used: number; budget: number; wanted: number; from: string; to: string }) {
  const share = budget > 0 ? used / budget : 0;
  const tone = share >= 1 ? 'bad' : share >= 0.8 ? 'warn' : '';
  return (
    <div class={`use ${tone}`}>
      <div class="use-label">
        {label}: <strong>{count(used)}</strong> of {count(budget)} calls ({percent(share)}), {plural(wanted, 'number')} due
      </div>
      <div class="use-track" role="img" aria-label={`${count(used)} of ${count(budget)} calls used`}>
        <span class="use-fill" style={{ width: `${Math.min(100, share * 100)}%` }} />
      </div>
      <div class="muted subtle">
        <Time value={from} /> to <Time value={to} />
      </div>
    </div>
  );
}

function CodesTable({ codes }: { codes: Carrier['unknownCodes'] }) {
  return (
    <Table
      caption={`Unknown status codes: ${count(codes.total)} recorded${codes.total > codes.codes.length ? `, the ${codes.codes.length} newest shown` : ''}`}
      head={['Code', 'Seen', 'First seen', 'First example', 'Last seen', 'Last example']}
      empty={codes.codes.length === 0}
    >
      {codes.codes.map((u) => (
        <tr key={u.code}>
          <td>
            <code>{u.code}</code>
          </td>
          <td class="num">{count(u.seen)}</td>
          <td>
            <Time value={u.firstSeenAt} />
          </td>
          <td class="example">{u.firstExample === null ? <span class="muted">—</span> : <code>{u.firstExample}</code>}</td>
          <td>
            <Time value={u.lastSeenAt} />
          </td>
          <td class="example">{u.lastExample === null ? <span class="muted">—</span> : <code>{u.lastExample}</code>}</td>
        </tr>
      ))}
    </Table>
  );
}

function CarrierCard({ c }: { c: Carrier }) {
  const problems = problemsOf(c);
  const windowText = duration(c.budget.perMs / 1000);
  return (
    <article class="card carrier" data-provider={c.provider} aria-labelledby={`carrier-${c.provider}`}>
      <div class="carrier-head">
        <h3 id={`carrier-${c.provider}`}>{c.provider}</h3>
        {c.usable ? <Badge tone="info">configured</Badge> : <Badge>not configured: not polled</Badge>}
        <BreakerBadge breaker={c.breaker} />
        {problems
          .filter((p) => !p.text.startsWith('breaker'))
          .map((p) => (
            <Badge key={p.text} tone={p.tone}>
              {p.text}
            </Badge>
          ))}
      </div>
      <p class="muted subtle">
        Budget <code>{c.budget.text}</code> ({plural(c.budget.count, 'call')} per {windowText}, up to {plural(c.budget.maxBatch, 'number')} a call)
      </p>
      {c.window ? (
        <UseBar label={`Window ending now (${windowText})`} used={c.window.used} budget={c.budget.count} wanted={c.window.wanted} from={c.window.start} to={c.window.end} />
      ) : (
        <p class="muted">Never polled: no window yet.</p>
      )}
      {c.lastWindow ? <UseBar label="Previous window" used={c.lastWindow.used} budget={c.budget.count} wanted={c.lastWindow.wanted} from={c.lastWindow.start} to={c.lastWindow.end} /> : null}
      <dl class="carrier-facts">
        <div>
          <dt>Demand</dt>
          <dd>
            {c.demand.wantedPerSecond === null ? '—' : `${c.demand.wantedPerSecond} numbers/s`} wanted, {c.demand.suppliedPerSecond} numbers/s supplied{' '}
            {c.demand.overloaded ? <Badge tone="warn">over budget</Badge> : <Badge tone="ok">within budget</Badge>}
          </dd>
        </div>
        <div>
          <dt>Breaker</dt>
          <dd>
            <BreakerBadge breaker={c.breaker} />
            {c.breaker.changedAt ? (
              <>
                {' '}
                since <Time value={c.breaker.changedAt} />
              </>
            ) : null}
          </dd>
        </div>
        <div>
          <dt>Paused</dt>
          <dd>{c.pausedUntil ? <>until <Time value={c.pausedUntil} /></> : 'no'}</dd>
        </div>
        <div>
          <dt>Fallbacks</dt>
          <dd>{plural(c.totals.fallbacks, 'poll')} handed on to the next provider of the carrier's route</dd>
        </div>
        <div>
          <dt>Calls</dt>
          <dd>
            {count(c.totals.calls)} in all, {plural(c.totals.deadlineWaits, 'wait')} for a deadline
          </dd>
        </div>
        <div>
          <dt>Polled late</dt>
          <dd>
            {plural(c.overdue.parcels, 'parcel')}{c.overdue.at ? <> at <Time value={c.overdue.at} /></> : null}
          </dd>
        </div>
        <div>
          <dt>Push</dt>
          <dd>
            {c.push.webhookConfigured ? <Badge tone="info">webhook enabled</Badge> : <Badge>no webhook</Badge>} {plural(c.totals.pushes, 'push', 'pushes')}, last{' '}
            <Time value={c.push.lastPushAt} />
            {c.push.subscriptions !== null ? `, ${plural(c.push.subscriptions, 'Track Alert subscription')}` : ''}
          </dd>
        </div>
      </dl>
      <CodesTable codes={c.unknownCodes} />
    </article>
  );
}

export function CarriersView(_props: { route: Route }) {
  const { data, error, loading, reload } = useApi<{ at: string; carriers: Carrier[] }>('/admin/v1/carriers');
  const carriers = data?.carriers ?? [];
  const attention = carriers.flatMap((c) => problemsOf(c).map((p) => ({ ...p, provider: c.provider })));
  return (
    <View
      title="Carriers"
      intro="Each carrier provider's call budget and its use, demand against what the budget supplies, breaker, fallbacks, pushes and status codes the hub does not know."
      actions={
        <button type="button" class="quiet" onClick={reload}>
          Refresh
        </button>
      }
    >
      <ErrorNote error={error} />
      <Loading when={loading && !data} />
      {data ? (
        <>
          <p class="muted">
            As of <Time value={data.at} />
          </p>
          {attention.length > 0 ? (
            <section class="needs-attention" aria-label="Needs attention">
              <h3>Needs attention</h3>
              <ul>
                {attention.map((a) => (
                  <li key={`${a.provider} ${a.text}`} class={a.tone}>
                    <strong>{a.provider}</strong>: {a.text}
                    {a.until ? <> until <Time value={a.until} /></> : null}
                  </li>
                ))}
              </ul>
            </section>
          ) : (
            <p class="ok-text" id="carriers-all-well">
              No carrier needs attention: breakers closed, budgets not exhausted.
            </p>
          )}
          <div class="stats">
            <Stat label="Configured providers" value={`${carriers.filter((c) => c.usable).length} of ${carriers.length}`} />
            <Stat label="Breakers open" value={count(carriers.filter((c) => c.breaker.state === 'open').length)} tone={carriers.some((c) => c.breaker.state === 'open') ? 'bad' : undefined} />
            <Stat label="Fallbacks (all time)" value={count(carriers.reduce((n, c) => n + c.totals.fallbacks, 0))} />
            <Stat label="Unknown codes" value={count(carriers.reduce((n, c) => n + c.unknownCodes.total, 0))} />
          </div>
          <div class="carrier-grid">
            {carriers.map((c) => (
              <CarrierCard key={c.provider} c={c} />
            ))}
          </div>
        </>
      ) : null}
    </View>
  );
}
