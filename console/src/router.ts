import { useEffect, useState } from 'preact/hooks';

// Hash routes (`#/view/part/part?key=value`): the hub serves one page at /console, every view is a link that
// can be bookmarked, shared and opened with the keyboard, and the browser's back button works.

export interface Route {
  view: string;
  parts: string[];
  query: URLSearchParams;
}

export function parseRoute(hash: string): Route {
  const [path, query = ''] = hash.replace(/^#\/?/, '').split('?', 2) as [string, string?];
  const [view = '', ...parts] = path.split('/').map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return { view: view || 'overview', parts, query: new URLSearchParams(query) };
}

/** `href('card', 'ISSUER', 'CARD 1', { from: x })` → `#/card/ISSUER/CARD%201?from=x`. */
export function href(view: string, ...rest: (string | Record<string, string | number | undefined>)[]): string {
  const parts = rest.filter((r): r is string => typeof r === 'string').map(encodeURIComponent);
  const q = rest.find((r): r is Record<string, string | number | undefined> => typeof r === 'object');
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q ?? {})) if (v !== undefined && v !== '') p.set(k, String(v));
  const query = p.toString();
  return `#/${[view, ...parts].join('/')}${query ? `?${query}` : ''}`;
}

export function navigate(to: string): void {
  window.location.hash = to;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
