import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { type ApiError, api, SIGNED_OUT_EVENT, storedToken, storeToken } from './api.ts';
import { CARD_ID, ID_RULES, ISSUER_ID } from './ids.ts';
import { href, type Route, useRoute } from './router.ts';
import './styles.css';
import { View } from './ui.tsx';
import { AuditView } from './views/audit.tsx';
import { CardView } from './views/card.tsx';
import { CarriersView } from './views/carriers.tsx';
import { IssuersView } from './views/issuers.tsx';
import { NotificationsView } from './views/notifications.tsx';
import { OverviewView } from './views/overview.tsx';
import { SearchView } from './views/search.tsx';
import { SitesView } from './views/sites.tsx';
import { StuckView } from './views/stuck.tsx';

// The shell: sign-in with an admin token, the navigation, and the view the URL's hash names.

const VIEWS: { id: string; label: string; render(route: Route): preact.JSX.Element }[] = [
  { id: 'overview', label: 'Overview', render: (r) => <OverviewView route={r} /> },
  { id: 'search', label: 'Search', render: (r) => <SearchView route={r} /> },
  { id: 'notifications', label: 'Notifications', render: (r) => <NotificationsView route={r} /> },
  { id: 'carriers', label: 'Carriers', render: (r) => <CarriersView route={r} /> },
  { id: 'sites', label: 'Sites', render: (r) => <SitesView route={r} /> },
  { id: 'stuck', label: 'Stuck', render: (r) => <StuckView route={r} /> },
  { id: 'issuers', label: 'Issuers', render: (r) => <IssuersView route={r} /> },
  { id: 'audit', label: 'Audit log', render: (r) => <AuditView route={r} /> },
];

const sandbox = document.body.dataset.sandbox === 'true';

function SignIn({ onSignedIn, reason }: { onSignedIn(): void; reason: string }) {
  const [error, setError] = useState(reason);
  const [busy, setBusy] = useState(false);
  async function submit(e: Event) {
    e.preventDefault();
    const token = (new FormData(e.target as HTMLFormElement).get('token') ?? '').toString().trim();
    setBusy(true);
    try {
      // Any Admin API read proves the token; a `read` token is enough to look around.
      await api('/admin/v1/issuers', { token });
      storeToken(token);
      onSignedIn();
    } catch (err) {
      const e2 = err as ApiError;
      setError(e2.status === 401 ? 'The hub refused this token.' : e2.status === 403 ? 'This token may not read the Admin API.' : e2.message);
    } finally {
      setBusy(false);
    }
  }
  return (
    <main id="content" class="sign-in" tabIndex={-1}>
      <form id="login-form" onSubmit={submit}>
        <h2>Sign in</h2>
        <label for="token">Admin token</label>
        <input id="token" name="token" type="password" autocomplete="off" required />
        <button type="submit" disabled={busy}>
          Open the console
        </button>
        <p class="hint">
          An admin token from <code>trackhub admin-tokens create</code> (a <code>read</code> one is enough to look), or the hub's{' '}
          <code>TRACKHUB_ADMIN_TOKEN</code>. It stays in this browser tab only.
        </p>
        <p id="login-error" class="error" role="alert">
          {error}
        </p>
      </form>
    </main>
  );
}

function Shell({ onSignOut }: { onSignOut(): void }) {
  const route = useRoute();
  const view = route.view === 'card' ? undefined : (VIEWS.find((v) => v.id === route.view) ?? VIEWS[0]);
  // Keyboard and screen-reader users land on the new view's heading.

  useEffect(() => {
    document.getElementById('view-title')?.focus({ preventScroll: true });
  }, [route.view, route.parts.join('/')]);
  return (
    <>
      <nav id="tabs" aria-label="Views">
        {VIEWS.map((v) => (
          <a key={v.id} href={href(v.id)} aria-current={(view?.id ?? 'search') === v.id ? 'page' : undefined}>
            {v.label}
          </a>
        ))}
        <button id="sign-out" type="button" class="quiet" onClick={onSignOut}>
          Sign out
        </button>
      </nav>
      <main id="content" tabIndex={-1}>
        {view ? (
          view.render(route)
        ) : route.parts.length >= 2 ? (
          cardLink(route.parts[0] as string, route.parts[1] as string)
        ) : (
          <View title="Not found">The link is incomplete.</View>
        )}
      </main>
    </>
  );
}

/** A card link's page, once both ids have their formats (a crafted link's text never reaches the heading). */
function cardLink(issuerId: string, cardId: string) {
  const bad = !ISSUER_ID.test(issuerId) ? 'issuer' : !CARD_ID.test(cardId) ? 'card' : undefined;
  if (!bad) return <CardView issuerId={issuerId} cardId={cardId} />;
  return (
    <View title={`Not a valid ${bad} id`}>
      <p class="error" role="alert">
        This link's {bad} id is not a valid {bad} id ({ID_RULES[bad]}). Find the card with Search.
      </p>
    </View>
  );
}

function App() {
  const [signedIn, setSignedIn] = useState(storedToken() !== '');
  const [reason, setReason] = useState('');
  useEffect(() => {
    const onRefused = (e: Event) => {
      storeToken('');
      setReason(`Signed out: ${(e as CustomEvent<string>).detail}`);
      setSignedIn(false);
    };
    window.addEventListener(SIGNED_OUT_EVENT, onRefused);
    return () => window.removeEventListener(SIGNED_OUT_EVENT, onRefused);
  }, []);
  return (
    <>
      {/* A button, not a #content link: the hash is the route. */}
      <button type="button" class="skip" onClick={() => document.getElementById('content')?.focus()}>
        Skip to content
      </button>
      <header>
        <h1>Trackhub</h1>
        {sandbox ? (
          <span id="sandbox-banner" class="banner">
            SANDBOX carriers: no real carrier is called
          </span>
        ) : null}
      </header>
      {signedIn ? (
        <Shell
          onSignOut={() => {
            storeToken('');
            setReason('');
            setSignedIn(false);
          }}
        />
      ) : (
        <SignIn onSignedIn={() => setSignedIn(true)} reason={reason} />
      )}
    </>
  );
}

render(<App />, document.getElementById('app') as HTMLElement);
