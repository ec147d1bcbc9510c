import { createBackend } from './backend.js';
import { clientFor, configOrExit } from './config.js';

// `npm start`: receive notifications; with the issuer's key, first pull what was missed while down.
const config = configOrExit();
if (config.secrets.length === 0 && config.publicKeys.length === 0) {
  console.error('give WEBHOOK_SECRETS (whsec_…) or WEBHOOK_PUBLIC_KEYS (whpk_…), or ISSUER_FILE');
  process.exit(2);
}
const { server, handler } = createBackend(config);
server.listen(config.port, config.host, async () => {
  console.log(`issuer ${config.issuerId}: notifications at http://${config.host}:${server.address().port}/notifications/d1/v2/issuers/${config.issuerId}/cards`);
  if (!config.privateKey) return;
  // The catch-up feed gives every notification the hub kept, the pushes' webhook-ids included, so what
  // was already applied comes back as a duplicate and what was missed is applied in order.
  const client = clientFor(config);
  try {
    const r = await client.syncNotifications({ handler });
    console.log(`caught up: ${r.applied} updates applied, ${r.duplicates} already had, ${r.stale} stale`);
  } catch (err) {
    console.error(`catch-up failed (${err.message}); notifications are still received`);
  }
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
