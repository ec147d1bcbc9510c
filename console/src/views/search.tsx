import { useEffect, useRef } from 'preact/hooks';
import { qs } from '../api.ts';
import type { Answer } from '../api-types.ts';
import { href, navigate, type Route } from '../router.ts';
import { Badge, ErrorNote, Loading, Table, useApi, View } from '../ui.tsx';

// Search: one box for whatever an operator was handed (a card id or its start, a tracking number, an
// operation id, a correlation id, a webhook-id); each match names the field it was found in and links to
// the card's timeline. The text is in the URL (#/search?q=…), so a search can be sent as a link.

type Match = Answer<'/admin/v1/search'>['matches'][number];

/** Matches asked for at most: the API's exact kinds come first, then card ids by their start. */
export const SEARCH_LIMIT = 50;
/** A shorter card-id start matches a large part of the store and says little; exact ids are all longer. */
export const MIN_QUERY = 3;

const KIND_LABEL: Record<Match['kind'], string> = {
  operation: 'operation id',
  notification: 'webhook-id (notification id)',
  tracking_number: 'tracking number',
  correlation_id: 'correlation id',
  card: 'card id (start)',
};

/** Why a query is not sent, in words; null when it is fit to send. */
function refusal(q: string): string | null {
  if (q === '') return 'Type what you have, then press Enter: a card id or its first characters, a tracking number, an operation id, a correlation id or a webhook-id.';
  if (q.length < MIN_QUERY) return `Type at least ${MIN_QUERY} characters: a shorter start of a card id would match too many cards to be useful.`;
  return null;
}

export function SearchView({ route }: { route: Route }) {
  const q = (route.query.get('q') ?? '').trim();
  const why = refusal(q);
  const { data, error, loading, reload } = useApi<{ matches: Match[] }>(why ? null : `/admin/v1/search${qs({ q, limit: SEARCH_LIMIT })}`);
  // After Enter, focus goes to what the search answered (the count or the hint), not back to <body>.
  const submitted = useRef(false);
  useEffect(() => {
    if (!submitted.current || loading) return;
    // Until the answer is drawn (the request may not have started yet), there is nothing to focus.
    const answer = document.getElementById(why ? 'search-hint' : 'search-count');
    if (!answer && !error) return;
    submitted.current = false;
    answer?.focus();
  }, [loading, why, data, error]);
  function submit(e: Event) {
    e.preventDefault();
    submitted.current = true;
    const text = (new FormData(e.target as HTMLFormElement).get('q') ?? '').toString().trim();
    // The same text again leaves the URL as it is: asked again, as a new search would be.
    if (text === q && !why) reload();
    else navigate(href('search', { q: text }));
  }
  const matches = why ? [] : (data?.matches ?? []);
  return (
    <View title="Search" intro="Find a card by what you were given about it. Exact ids and numbers are matched first, then cards whose id starts with the text.">
      <form id="search-form" class="filters search-form" onSubmit={submit}>
        <label for="search-q">
          Card id (or its start), tracking number, operation id, correlation id or webhook-id
          {/* Keyed by the URL's text: the box shows what the page answers, also after Back. */}
          <input id="search-q" key={q} name="q" type="search" defaultValue={q} maxLength={128} autocomplete="off" spellcheck={false} />
        </label>
        <button type="submit">Search</button>
      </form>
      {why ? (
        <p id="search-hint" class="hint" aria-live="polite" tabIndex={-1}>
          {why}
        </p>
      ) : (
        <>
          <ErrorNote error={error} />
          <Loading when={loading} />
          {data && !loading ? (
            <>
              <p id="search-count" aria-live="polite" tabIndex={-1}>
                {matches.length === 0 ? `Nothing matches “${q}”.` : `${matches.length}${matches.length === SEARCH_LIMIT ? '+' : ''} match${matches.length === 1 ? '' : 'es'} for “${q}”`}
                {matches.length === SEARCH_LIMIT ? ` (the first ${SEARCH_LIMIT}; type more of the id to narrow it)` : ''}
              </p>
              {matches.length > 0 ? (
                <Table caption="Matches" head={['Card', 'Issuer', 'Matched as', 'Operation']}>
                  {matches.map((m, i) => (
                    <tr key={`${m.kind}/${m.issuerId}/${m.cardId}/${m.operationId ?? i}`} class="search-match">
                      <td>
                        <a class="mono card-link" href={href('card', m.issuerId, m.cardId)}>
                          {m.cardId}
                        </a>
                      </td>
                      <td class="mono">{m.issuerId}</td>
                      <td>
                        <Badge tone={m.kind === 'card' ? undefined : 'info'}>{KIND_LABEL[m.kind] ?? m.kind}</Badge>
                      </td>
                      <td class="mono">{m.operationId ?? <span class="muted">—</span>}</td>
                    </tr>
                  ))}
                </Table>
              ) : null}
            </>
          ) : null}
        </>
      )}
    </View>
  );
}
