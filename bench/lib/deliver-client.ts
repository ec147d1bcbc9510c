/**
 * The receiver's ceiling for bench/deliver.ts: a plain loop of POSTs into the bench's receiver, run as its
 * own process (as a worker is), sending what a worker sends (the same body, signed per request with
 * HMAC-SHA256, a fresh webhook-id each) over the same number of keep-alive connections, and nothing else
 * (no store, no claims, no records, no logs). What the receiver and such a client reach together on this
 * machine is the most the worker processes could deliver into it.
 *
 *   node --import tsx bench/lib/deliver-client.ts <url> <count> <connections>   → prints "sent <count> in <ms>"
 */
import { Agent, request } from 'undici';
import { signatureHeader } from '../../src/delivery/signing.ts';
import { newId } from '../../src/domain/ids.ts';

const [url, countArg, connectionsArg] = process.argv.slice(2);
const count = Number(countArg);
const connections = Number(connectionsArg);
const body = JSON.stringify({ operations: [{ operationId: 'op_bench', status: 'PENDING', sequenceNumber: 1 }] });
const secrets = ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'];
const agent = new Agent({ connections });

let next = 0;
async function lane(): Promise<void> {
  while (next < count) {
    next++;
    const id = newId('msg');
    const timestamp = Math.floor(Date.now() / 1000);
    const res = await request(url, {
      method: 'POST',
      dispatcher: agent,
      body,
      headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': signatureHeader(secrets, id, timestamp, body) },
    });
    await res.body.dump();
  }
}

const started = performance.now();
await Promise.all(Array.from({ length: connections }, lane));
console.log(`sent ${count} in ${(performance.now() - started).toFixed(0)}`);
await agent.close();
