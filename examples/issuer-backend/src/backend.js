import { createServer } from 'node:http';
import { MemoryNotificationStore, NotificationHandler, nodeHttpListener } from '@trackhub/issuer';
import { CardBook } from './cards.js';

const CARD_PATH = /^\/cards\/([A-Za-z0-9_-]{1,48})$/;

/**
 * How an update reached the back-end, for its log line. A push carries the hub's signature, checked by
 * the handler; a feed item carries none: it is trusted because it was read from the hub over TLS with
 * the issuer's own access token, so it must not be labelled "verified".
 */
export function howItCame(source) {
  return source === 'push' ? 'push, signature verified' : "sync, from the hub's feed: not signed, read with the issuer's token";
}

/**
 * The issuer back-end: an HTTP server that receives the hub's notifications at
 * `/notifications/d1/v2/issuers/{issuerId}/cards` (through the SDK: verified, de-duplicated by
 * webhook-id, each operation's updates in sequenceNumber order) and shows a card's state at
 * `GET /cards/{cardId}`. `log` gets one line per event.
 */
export function createBackend({ issuerId, secrets = [], publicKeys = [], store = new MemoryNotificationStore(), log = (line) => console.log(line) }) {
  const cards = new CardBook();
  const counts = { applied: 0, stale: 0 };
  const handler = new NotificationHandler({
    secrets,
    publicKeys,
    store,
    onUpdate: (op, meta) => {
      const view = cards.apply(op, meta);
      counts.applied++;
      log(`${op.cardId} ${view.trackingType} #${op.sequenceNumber} ${op.status} ${view.detail ?? ''} (${howItCame(meta.source)})`);
    },
    onStale: (op) => {
      counts.stale++;
      log(`${op.cardId} #${op.sequenceNumber} of ${op.operationId} is older than the update applied: dropped`);
    },
  });
  const notifications = nodeHttpListener(handler);
  const notificationPath = `/notifications/d1/v2/issuers/${issuerId}/cards`;
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://backend').pathname;
    if (path === notificationPath) return notifications(req, res);
    const card = req.method === 'GET' ? CARD_PATH.exec(path) : null;
    const found = card && cards.get(card[1]);
    res.writeHead(found ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(found ?? { error: 'not found' }));
  });
  return { server, cards, handler, counts };
}
