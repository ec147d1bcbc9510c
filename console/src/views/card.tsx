import { useEffect, useState } from 'preact/hooks';
import { type ApiError, api, seg } from '../api.ts';
import type { Answer } from '../api-types.ts';
import { href } from '../router.ts';
import { shown } from '../text.ts';
import { Badge, ErrorNote, Loading, Table, Time, useApi, View } from '../ui.tsx';
import { type Carried, carriedStatus } from './delivery-parts.tsx';

// A card's whole story on one page: every operation (newest first) with its shipment, the carrier's
// checkpoints in time order, and each notification that carried an update with every delivery attempt.
// A dead notification can be replayed from here; the page then reads the card again, so what it shows is
// the store's state after the replay, never the state before it.

type Timeline = Answer<'/admin/v1/issuers/{issuerId}/cards/{cardId}/timeline'>;
type TimelineOperation = Timeline['operations'][number];
type Notification = TimelineOperation['notifications'][number];
type Attempt = Notification['attemptLog'][number];
type Shipment = NonNullable<TimelineOperation['operation']['details']['shipment']>;
type Checkpoint = NonNullable<Shipment['checkpoints']>[number];

/** After a replay the page reads the card again every so often while that notification is pending. */
const FOLLOW_MS = 1500;
const FOLLOW_FOR_MS = 30_000;

const tone = (status: string): 'ok' | 'bad' | 'warn' | 'info' =>
  status === 'SUCCESSFUL' || status === 'delivered' || status === 'DELIVERED' ? 'ok' : status === 'FAILED' || status === 'dead' || status === 'EXCEPTION' ? 'bad' : status === 'pending' ? 'warn' : 'info';

/** Only a web address is made a link: a `javascript:` URL from a misconfigured carrier must not run. */
const webUrl = (url: string | undefined): string | undefined => (url && /^https?:\/\//i.test(url) ? url : undefined);

/** A date the carrier gave without a time is shown as that day, not as midnight UTC. */
function DateOrTime({ value }: { value: string | undefined }) {
  if (!value) return <span class="muted">—</span>;
  return value.includes('T') ? <Time value={value} /> : <span>{value}</span>;
}

function place(c: Checkpoint): string {
  return [c.city, c.postalCode, c.countryName ?? c.countryCode].filter((p) => p).join(', ');
}

function byTime(checkpoints: Checkpoint[]): Checkpoint[] {
  return [...checkpoints].sort((a, b) => (Date.parse(a.checkpointTime) || 0) - (Date.parse(b.checkpointTime) || 0));
}

function Checkpoints({ list }: { list: Checkpoint[] }) {
  return (
    <Table caption={`Carrier checkpoints (${list.length}, oldest first)`} head={['Time', 'Status', 'Carrier code', 'Carrier description', 'Location']} empty={list.length === 0}>
      {byTime(list).map((c, i) => (
        <tr key={i} class="checkpoint">
          <td>
            <Time value={c.checkpointTime} />
          </td>
          <td>
            <Badge tone={tone(c.status)}>{c.status}</Badge>
            {c.subStatus ? <span class="muted"> {c.subStatus}</span> : null}
          </td>
          <td class="mono">{c.raw.code}</td>
          <td class="cp-description">{shown(c.raw.description || c.message)}</td>
          <td>{shown(place(c)) || <span class="muted">—</span>}</td>
        </tr>
      ))}
    </Table>
  );
}

function ReplayButton({ id, onReplayed }: { id: string; onReplayed(id: string, note: string): void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | undefined>();
  async function replay() {
    setBusy(true);
    setError(undefined);
    try {
      const res = await api<{ replayed: boolean }>(`/admin/v1/notifications/${seg(id)}/replay`, { method: 'POST' });
      onReplayed(id, res.replayed ? 'Replay queued: it is pending again.' : 'A send of it was under way and is left to finish; replay again once it is recorded.');
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
    }
  }
  return (
    <span class="replay">
      <button type="button" class="replay-button" disabled={busy} onClick={replay}>
        Replay
      </button>
      {error?.status === 403 ? (
        <p class="error" role="alert">
          This admin token may only read: replaying needs a token with the <code>operate</code> scope.
        </p>
      ) : (
        <ErrorNote error={error} />
      )}
    </span>
  );
}

function attemptResult(a: Attempt): string {
  if (a.httpStatus === null) return 'no answer';
  return `HTTP ${a.httpStatus} ${a.httpStatus >= 200 && a.httpStatus < 300 ? '(accepted)' : '(refused)'}`;
}

interface Replays {
  /** What the last replay of each notification answered, kept by the page: the button goes with "dead". */
  notes: Record<string, string>;
  onReplayed(id: string, note: string): void;
}

function NotificationBlock({ n, replays }: { n: Notification; replays: Replays }) {
  return (
    <div class="notification" data-id={n.notificationId} data-state={n.state}>
      <p class="notification-head">
        <span>Update {n.sequenceNumber}</span>{' '}
        {n.carried ? (
          <span class="carried" title="the sequence number and statuses this notification carried">
            carried {carriedStatus(n.carried)}
          </span>
        ) : null}{' '}
        <code>{n.notificationId}</code>{' '}
        <Badge tone={tone(n.state)}>
          <span class="notification-state">{n.state}</span>
        </Badge>
        {n.batched ? <span class="muted"> (carried in a batch)</span> : null} <span class="muted">· created</span> <Time value={n.createdAt} />
        {n.deliveredAt ? (
          <>
            <span class="muted"> · delivered</span> <Time value={n.deliveredAt} />
          </>
        ) : null}
        {n.nextAttemptAt ? (
          <>
            <span class="muted"> · next attempt</span> <Time value={n.nextAttemptAt} />
          </>
        ) : null}{' '}
        {n.state === 'dead' ? <ReplayButton id={n.notificationId} onReplayed={replays.onReplayed} /> : null}
        {replays.notes[n.notificationId] ? (
          <span class="replay-note muted" role="status" tabIndex={-1}>
            {' '}
            {replays.notes[n.notificationId]}
          </span>
        ) : null}
      </p>
      {n.lastError ? <p class="last-error">Last error: {shown(n.lastError)}</p> : null}
      <Table caption={`Delivery attempts (${n.attempts})`} head={['#', 'Time', 'Result', 'Error', 'Duration']} empty={n.attemptLog.length === 0}>
        {n.attemptLog.map((a) => (
          <tr key={a.attempt} class="attempt">
            <td class="num">{a.attempt}</td>
            <td>
              <Time value={a.attemptedAt} />
            </td>
            <td>{attemptResult(a)}</td>
            <td class="attempt-error">{shown(a.error) ?? <span class="muted">—</span>}</td>
            <td class="num">{a.latencyMs} ms</td>
          </tr>
        ))}
      </Table>
      <OlderNote count={n.attemptsOmitted} what="attempt" />
    </div>
  );
}

function OperationCard({ o, replays }: { o: TimelineOperation; replays: Replays }) {
  const op = o.operation;
  const sh = op.details.shipment;
  const trackingUrl = webUrl(sh?.trackingUrl);
  const trackingNumber = sh?.trackingNumber ?? o.trackingNumber;
  return (
    <article class="card operation" data-operation={op.operationId}>
      <h3>
        {op.details.trackingType} <Badge tone={tone(op.status)}>{op.status}</Badge> {o.open ? <Badge tone="info">open</Badge> : <Badge>closed</Badge>}
      </h3>
      <dl class="facts">
        <dt>Operation</dt>
        <dd class="mono">{op.operationId}</dd>
        <dt>Started</dt>
        <dd>
          <Time value={op.startTime} />
          {op.endTime ? (
            <>
              {' '}
              <span class="muted">ended</span> <Time value={op.endTime} />
            </>
          ) : null}
        </dd>
        {op.errorCode ? (
          <>
            <dt>Error</dt>
            <dd class="op-error">
              <code>{op.errorCode}</code> {shown(op.error)}
            </dd>
          </>
        ) : null}
        {op.details.productionSite ? (
          <>
            <dt>Production site</dt>
            <dd class="mono">{op.details.productionSite}</dd>
          </>
        ) : null}
        {(sh?.carrier ?? o.carrier) ? (
          <>
            <dt>Carrier</dt>
            <dd>
              {sh?.carrier ?? o.carrier} {trackingNumber ? <code class="tracking-number">{trackingNumber}</code> : null}{' '}
              {trackingUrl ? (
                <a class="tracking-link" href={trackingUrl} target="_blank" rel="noopener noreferrer">
                  track at the carrier
                </a>
              ) : null}
            </dd>
          </>
        ) : null}
        {sh ? (
          <>
            <dt>Shipment</dt>
            <dd>
              <Badge tone={tone(sh.status)}>{sh.status}</Badge> {sh.subStatus ? <span class="muted">{shown(sh.subStatus)}</span> : null} {shown(sh.message)}
            </dd>
            <dt>Estimated delivery</dt>
            <dd>
              <DateOrTime value={sh.estimatedDeliveryDate} />
            </dd>
            <dt>Last carrier update</dt>
            <dd>
              <DateOrTime value={sh.lastUpdatedAt} />
            </dd>
          </>
        ) : null}
      </dl>
      {sh ? <Checkpoints list={sh.checkpoints ?? []} /> : null}
      <h4>Notifications ({o.notifications.length + (o.notificationsOmitted ?? 0)})</h4>
      {o.notifications.length === 0 ? <p class="muted">No notification carried this operation.</p> : null}
      <OlderNote count={o.notificationsOmitted} what="notification" />
      {o.notifications.map((n) => (
        <NotificationBlock key={`${n.sequenceNumber}/${n.notificationId}`} n={n} replays={replays} />
      ))}
    </article>
  );
}

/** What the API left out of a long list: the newest are shown, these older ones are not. */
function OlderNote({ count, what }: { count: number | undefined; what: string }) {
  if (!count) return null;
  return (
    <p class="older-note muted">
      {count} older {what}
      {count === 1 ? '' : 's'} not shown
    </p>
  );
}

export function CardView({ issuerId, cardId }: { issuerId: string; cardId: string }) {
  const { data, error, loading, reload } = useApi<Timeline>(`/admin/v1/issuers/${seg(issuerId)}/cards/${seg(cardId)}/timeline`);
  // The notification last replayed and until when to follow it: read again while it is still pending.
  const [follow, setFollow] = useState<{ id: string; until: number } | undefined>();
  const followed = follow && data?.operations.flatMap((o) => o.notifications).find((n) => n.notificationId === follow.id);
  useEffect(() => {
    if (!follow || loading || followed?.state !== 'pending' || Date.now() > follow.until) return;
    const timer = setTimeout(reload, FOLLOW_MS);
    return () => clearTimeout(timer);
  }, [follow, loading, followed?.state, reload]);
  const [notes, setNotes] = useState<Record<string, string>>({});
  // The Replay button goes once the notification is pending: focus moves to what the replay answered.
  const [focusNote, setFocusNote] = useState<string | undefined>();
  useEffect(() => {
    const note = focusNote && document.querySelector<HTMLElement>(`.notification[data-id="${CSS.escape(focusNote)}"] .replay-note`);
    if (!note) return;
    note.focus();
    setFocusNote(undefined);
  });
  function onReplayed(id: string, note: string) {
    setFocusNote(id);
    setNotes((n) => ({ ...n, [id]: note }));
    setFollow({ id, until: Date.now() + FOLLOW_FOR_MS });
    reload();
  }
  const actions = (
    <span class="card-actions">
      <button type="button" id="card-refresh" class="quiet" onClick={reload} disabled={loading}>
        {loading ? 'Reading…' : 'Refresh'}
      </button>{' '}
      <a href={href('search', { q: cardId })}>Search this card</a>
    </span>
  );
  return (
    <View title={`Card ${cardId}`} intro={`Issuer ${issuerId}. Every operation, newest first, with the carrier's checkpoints and each notification with its delivery attempts.`} actions={actions}>
      {error?.status === 404 ? <p class="error" role="alert">The hub holds no operation of this card.</p> : <ErrorNote error={error} />}
      <Loading when={loading && !data} />
      {/* useApi keeps the last answer while the next loads: another card's is never shown under this title. */}
      {data && !error && data.issuerId === issuerId && data.cardId === cardId
        ? data.operations.map((o) => <OperationCard key={o.operation.operationId} o={o} replays={{ notes, onReplayed }} />)
        : null}
    </View>
  );
}
