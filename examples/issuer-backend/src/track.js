import { clientFor, configOrExit } from './config.js';

// `npm run track -- <cardId> [trackingNumber]`: asks the hub to track a card (SHIPMENT with a number,
// PRODUCTION without); `npm run track -- <cardId> --status` prints its operations.
const [cardId, arg] = process.argv.slice(2);
if (!cardId) {
  console.error('usage: npm run track -- <cardId> [trackingNumber | --status]');
  process.exit(2);
}
const config = configOrExit();
try {
  const client = clientFor(config);
  if (arg === '--status') console.log(JSON.stringify(await client.trackingStatus(cardId), null, 2));
  else {
    const body = arg ? { trackingType: 'SHIPMENT', trackingNumber: arg } : { trackingType: 'PRODUCTION' };
    const { operationId } = await client.track(cardId, body);
    console.log(`${body.trackingType} of ${cardId}: operation ${operationId}`);
  }
} catch (err) {
  // A TrackhubApiError's message names the hub's errorCode and the correlation id to quote.
  console.error(err.message);
  process.exit(1);
}
