import { qs } from '../api.ts';
import type { Answer } from '../api-types.ts';
import { href, navigate, type Route } from '../router.ts';
import { Badge, ErrorNote, Loading, Table, Time, useApi, View } from '../ui.tsx';

// Audit log: every Admin API write (refusals included), newest first, as GET /admin/v1/audit answers it,
// filtered by token name and target, a page at a time. Filters and page are in the URL
// (#/audit?tokenName&targetId&cursor). Before and after are shown as JSON text, secrets already masked by the hub.

type AuditEntry = Answer<'/admin/v1/audit'>['entries'][number];

/** The outcome in words: the status alone says little to someone who does not read HTTP codes. */
function Outcome({ status }: { status: number }) {
  if (status < 300) return <Badge tone="ok">{status} done</Badge>;
  if (status === 401 || status === 403) return <Badge tone="bad">{status} refused: not allowed</Badge>;
  if (status === 404) return <Badge tone="warn">{status} refused: not found</Badge>;
  if (status < 500) return <Badge tone="warn">{status} refused</Badge>;
  return <Badge tone="bad">{status} failed</Badge>;
}

/** What changed, as indented JSON text; nothing when the write left no before or after. */
function Change({ e }: { e: AuditEntry }) {
  if (e.before == null && e.after == null) return <span class="muted">—</span>;
  return (
    <details>
      <summary>before / after</summary>
      <pre class="json">{JSON.stringify({ before: e.before ?? null, after: e.after ?? null }, null, 2)}</pre>
    </details>
  );
}

export function AuditView({ route }: { route: Route }) {
  const q = route.query;
  const tokenName = q.get('tokenName') || undefined;
  const targetId = q.get('targetId') || undefined;
  const cursor = q.get('cursor') || undefined;
  const link = (changes: Record<string, string | undefined>) => href('audit', { ...Object.fromEntries(q.entries()), ...changes });
  const { data, error, loading } = useApi<{ entries: AuditEntry[]; nextCursor: string | null }>(`/admin/v1/audit${qs({ tokenName, targetId, cursor, limit: 50 })}`);

  function filter(e: Event) {
    e.preventDefault();
    const form = new FormData(e.target as HTMLFormElement);
    const value = (name: string) => String(form.get(name) ?? '').trim() || undefined;
    navigate(href('audit', { tokenName: value('tokenName'), targetId: value('targetId') }));
  }

  return (
    <View title="Audit log" intro="Every write through the Admin API, refused ones included: who (the admin token's name), what, on which subject, the outcome, and its correlation id. Newest first; times UTC.">
      <form class="filters" onSubmit={filter} aria-label="Filter the audit log" key={`${tokenName}/${targetId}`}>
        <label>
          Token name
          <input name="tokenName" type="text" defaultValue={tokenName ?? ''} placeholder="env, ops-alice…" autocomplete="off" />
        </label>
        <label>
          Subject (issuer, site, notification or token id)
          <input name="targetId" type="text" defaultValue={targetId ?? ''} autocomplete="off" />
        </label>
        <button type="submit">Filter</button>
        {tokenName || targetId ? <a href={href('audit')}>Clear filters</a> : null}
      </form>
      <ErrorNote error={error} />
      <Loading when={loading && !data} />
      {data ? (
        <>
          <Table head={['Time (UTC)', 'Actor (token)', 'Action', 'Subject', 'Outcome', 'Correlation id', 'Change']} empty={data.entries.length === 0}>
            {data.entries.map((e) => (
              <tr key={e.id} data-audit-id={e.id}>
                <td>
                  <Time value={e.at} />
                </td>
                <td>
                  <a href={link({ tokenName: e.tokenName, cursor: undefined })}>{e.tokenName}</a>
                </td>
                <td>
                  <code>
                    {e.method} {e.route}
                  </code>
                </td>
                <td>{e.targetId ? <a href={link({ targetId: e.targetId, cursor: undefined })}>{e.targetId}</a> : <span class="muted">—</span>}</td>
                <td>
                  <Outcome status={e.status} />
                </td>
                <td>
                  <code>{e.correlationId}</code>
                </td>
                <td>
                  <Change e={e} />
                </td>
              </tr>
            ))}
          </Table>
          <nav class="pager" aria-label="Pages">
            {cursor ? <a href={link({ cursor: undefined })}>Newest first page</a> : null}
            {data.nextCursor ? <a href={link({ cursor: data.nextCursor })}>Older entries</a> : <span class="muted">No older entries.</span>}
          </nav>
        </>
      ) : null}
    </View>
  );
}
