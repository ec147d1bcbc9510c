import { useEffect, useRef, useState } from 'preact/hooks';
import { type ApiError, api, qs, seg } from '../api.ts';
import { href } from '../router.ts';
import { shown } from '../text.ts';
import { Badge, count, ErrorNote, Loading, Table, Time, useApi } from '../ui.tsx';
import { type Carried, carriedText, WriteError } from './delivery-parts.tsx';

// The Notifications view's list (dead letters by default): GET /admin/v1/notifications filtered by state and
// issuer, a page at a time; each row can be replayed, and then follows its notification until it is
// delivered or dead again, without reloading the page.

export const STATES = ['dead', 'pending', 'delivered'] as const;

export interface NotificationItem {
  id: string;
  issuerId: string;
  state: 'pending' | 'delivered' | 'dead';
  correlationId: string;
  attempts: number;
  nextAttemptAt: string | null;
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
  operationId: string;
  cards?: { operationId: string; cardId: string | null; trackingType: string | null; carried?: Carried | null }[];
  lastAttempt?: { attempt: number; attemptedAt: string; httpStatus: number | null; error: string | null } | null;
  reason?: string | null;
}

interface Page {
  notifications: NotificationItem[];
  nextCursor: string | null;
}

const TONE = { dead: 'bad', pending: 'info', delivered: 'ok' } as const;
/** How long a replayed row is followed, and how often it is read again. */
const FOLLOW_MS = 120_000;
const FOLLOW_EVERY_MS = 1_000;

function Cards({ n }: { n: NotificationItem }) {
  const cards = n.cards ?? [{ operationId: n.operationId, cardId: null, trackingType: null }];
  return (
    <>
      {cards.map((c) => (
        <div key={c.operationId}>
          {c.cardId ? <a href={href('card', n.issuerId, c.cardId)}>{c.cardId}</a> : <span class="muted">(operation gone)</span>}
          <div class="muted mono long-id">
            {c.operationId}
            {c.trackingType ? ` · ${c.trackingType}` : ''}
          </div>
          {c.carried ? <div class="carried">carried {carriedText(c.carried)}</div> : null}
        </div>
      ))}
    </>
  );
}

/** One notification; after a replay it reads itself again every second until it is no longer pending. */
function Row({ initial, issuerName }: { initial: NotificationItem; issuerName: string | undefined }) {
  const [n, setN] = useState(initial);
  const [note, setNote] = useState('');
  const [error, setError] = useState<ApiError | undefined>();
  const [busy, setBusy] = useState(false);
  const [followUntil, setFollowUntil] = useState(0);
  const noteBox = useRef<HTMLDivElement>(null);
  useEffect(() => setN(initial), [initial]);

  useEffect(() => {
    if (followUntil === 0) return;
    const abort = new AbortController();
    const timer = setInterval(async () => {
      try {
        const fresh = await api<NotificationItem>(`/admin/v1/notifications/${seg(n.id)}`, { signal: abort.signal });
        setN(fresh);
        if (fresh.state !== 'pending' || Date.now() > followUntil) {
          setFollowUntil(0);
          setNote(fresh.state === 'delivered' ? 'Delivered after the replay.' : fresh.state === 'dead' ? 'Dead again after the replay.' : 'Still pending: refresh later.');
        }
      } catch (err) {
        if ((err as Error).name !== 'AbortError') setFollowUntil(0);
      }
    }, FOLLOW_EVERY_MS);
    return () => {
      clearInterval(timer);
      abort.abort();
    };
  }, [followUntil, n.id]);

  async function replay() {
    setBusy(true);
    setError(undefined);
    try {
      const res = await api<{ replayed: boolean }>(`/admin/v1/notifications/${seg(n.id)}/replay`, { method: 'POST' });
      setN({ ...n, state: 'pending' });
      setNote(res.replayed ? 'Replayed: being sent again.' : 'A send of it is under way and is left to finish: replay again once it is recorded.');
      setFollowUntil(Date.now() + FOLLOW_MS);
      // The Replay button goes while the row is pending: focus moves to the row's status note, not <body>.
      noteBox.current?.focus();
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
    }
  }

  return (
    <tr data-id={n.id}>
      <td>
        <Cards n={n} />
      </td>
      <td>
        {issuerName ? <div>{issuerName}</div> : null}
        <code>{n.issuerId}</code>
      </td>
      <td>
        <Badge tone={TONE[n.state]}>{n.state}</Badge>
        <div class="muted mono long-id" title="webhook-id">
          {n.id}
        </div>
      </td>
      <td class="reason">{shown(n.reason ?? n.lastError) ?? <span class="muted">—</span>}</td>
      <td class="num">{count(n.attempts)}</td>
      <td>
        <Time value={n.createdAt} />
        {n.lastAttempt ? (
          <div class="muted">
            last try <Time value={n.lastAttempt.attemptedAt} />
          </div>
        ) : null}
        {n.deliveredAt ? (
          <div class="muted">
            delivered <Time value={n.deliveredAt} />
          </div>
        ) : null}
      </td>
      <td>
        {n.state === 'pending' ? null : (
          <button type="button" class="replay-one" onClick={replay} disabled={busy} aria-label={`Replay notification ${n.id}`}>
            Replay
          </button>
        )}
        <div class="row-note" role="status" tabIndex={-1} ref={noteBox}>
          {note}
        </div>
        <WriteError error={error} action="Replaying a notification" />
      </td>
    </tr>
  );
}

export function NotificationList({
  state,
  issuerId,
  cursor,
  names,
  link,
  tick,
}: {
  state: string;
  issuerId: string | undefined;
  cursor: string | undefined;
  names: Map<string, string>;
  link(changes: Record<string, string | undefined>): string;
  tick: number;
}) {
  const path = `/admin/v1/notifications${qs({ state, issuerId, cursor, limit: 50 })}`;
  const { data, error, loading, reload } = useApi<Page>(path);
  // The issuer replay above changes what this list holds: read it again when it says so.

  useEffect(() => {
    if (tick > 0) reload();
  }, [tick, reload]);
  return (
    <>
      <ErrorNote error={error} />
      <Loading when={loading && !data} />
      {data ? (
        <>
          <Table
            caption={`${state[0]?.toUpperCase()}${state.slice(1)} notifications${issuerId ? ` of ${names.get(issuerId) ?? issuerId}` : ''}, oldest first`}
            head={['Card', 'Issuer', 'State', 'Reason / last error', 'Attempts', 'Time (UTC)', '']}
            empty={data.notifications.length === 0}
          >
            {data.notifications.map((n) => (
              <Row key={n.id} initial={n} issuerName={names.get(n.issuerId)} />
            ))}
          </Table>
          <nav class="pager" aria-label="Pages">
            {cursor ? <a href={link({ cursor: undefined })}>First page</a> : null}
            {data.nextCursor ? <a href={link({ cursor: data.nextCursor })}>Next page</a> : <span class="muted">No more pages.</span>}
          </nav>
        </>
      ) : null}
    </>
  );
}
