/**
 * Load for the scale-out runs. Each card gets two SHIPMENT track requests naming different tracking
 * numbers: the second supersedes the first, so a card makes three notifications (the first operation's
 * sequence 1 and 2, the second's sequence 1), and per-operation order has something to keep.
 */
import autocannon from 'autocannon';
import { request } from 'undici';
import type { Issuer } from './cluster.ts';
import { TRACKING_NUMBERS } from './cluster.ts';

const trackPath = (issuer: string, card: string) => `/banking/v1/issuers/${issuer}/physicalCards/${card}/track`;
const body = (n: number) => JSON.stringify({ trackingType: 'SHIPMENT', carrier: 'fedex', trackingNumber: TRACKING_NUMBERS[n % 2] });

export interface BurstResult {
  accepted: number;
  non2xx: number;
  errors: number;
  /** The highest p99 of the api processes' loads (each api gets its own autocannon), ms. */
  p99: number;
  p50: number;
}

/**
 * `connections` autocannon connections spread evenly over the api processes for `seconds`, as a load
 * balancer would spread them. Request n is for card n/2 (two requests a card).
 */
export async function autocannonLoad(apiUrls: string[], issuers: Issuer[], prefix: string, connections: number, seconds: number): Promise<BurstResult> {
  const results = await Promise.all(
    apiUrls.map((url, a) => {
      let n = 0;
      return new Promise<autocannon.Result>((resolve, reject) => {
        autocannon(
          {
            url,
            connections: Math.max(1, Math.round(connections / apiUrls.length)),
            duration: seconds,
            requests: [
              {
                method: 'POST',
                setupRequest: (req) => {
                  const i = n++;
                  const issuer = issuers[(i >> 1) % issuers.length];
                  return {
                    ...req,
                    path: trackPath(issuer.id, `${prefix}-${a}-${i >> 1}`),
                    headers: { authorization: `Bearer ${issuer.token}`, 'content-type': 'application/json' },
                    body: body(i),
                  };
                },
              },
            ],
          },
          (err, res) => (err ? reject(err) : resolve(res)),
        );
      });
    }),
  );
  const sum = (f: (r: autocannon.Result) => number) => results.reduce((s, r) => s + f(r), 0);
  return {
    accepted: sum((r) => r['2xx']),
    non2xx: sum((r) => r.non2xx),
    errors: sum((r) => r.errors),
    p99: Math.max(...results.map((r) => r.latency.p99)),
    p50: Math.max(...results.map((r) => r.latency.p50)),
  };
}

export interface FeedResult {
  /** Operation ids answered 202. */
  accepted: Set<string>;
  requests: number;
  /** Requests sent again on another api process after a refused or reset connection (or a 503 while it stopped). */
  failedOver: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Track requests at `rate` per second (two per card, the second after the first's 202) until `done()`
 * says stop, `concurrency` at once, round-robin over the api processes. A request whose connection was
 * refused or reset, or answered 503 by a stopping process, is sent again on the next process, as a load
 * balancer would (the same body for an open operation is idempotent: the retry of a request whose 202
 * was lost names the same operation). Any other refusal is a bug and throws.
 */
export async function failoverFeed(apiUrls: string[], issuers: Issuer[], prefix: string, rate: number, done: () => boolean, concurrency = 16): Promise<FeedResult> {
  const accepted = new Set<string>();
  let requests = 0;
  let failedOver = 0;
  let nextCard = 0;
  const started = performance.now();
  const send = async (card: number, n: number) => {
    const issuer = issuers[card % issuers.length];
    for (let tries = 0; ; tries++) {
      if (tries > 200) throw new Error(`track request for card ${card} not accepted after ${tries} tries`);
      const url = apiUrls[(card + n + tries) % apiUrls.length];
      requests++;
      try {
        const res = await request(`${url}${trackPath(issuer.id, `${prefix}-${card}`)}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${issuer.token}`, 'content-type': 'application/json' },
          body: body(n),
        });
        if (res.statusCode === 202) {
          accepted.add(((await res.body.json()) as { operationId: string }).operationId);
          return;
        }
        const text = await res.body.text();
        if (res.statusCode !== 503) throw new Error(`track request for card ${card}: HTTP ${res.statusCode} ${text}`);
      } catch (err) {
        if ((err as Error).message.startsWith('track request')) throw err;
        // refused, reset or closed: the process is restarting; the next one takes it
      }
      failedOver++;
      await sleep(20);
    }
  };
  const sender = async () => {
    while (!done()) {
      const card = nextCard++;
      const due = started + ((card * 2) / rate) * 1000;
      if (due > performance.now()) await sleep(due - performance.now());
      await send(card, 0);
      await send(card, 1);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, sender));
  return { accepted, requests, failedOver };
}
