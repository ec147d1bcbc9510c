/**
 * The ceiling the hub's routes are compared with: a bare Fastify 5 server in a process of its own, with a
 * GET answering `{"status":"ok"}` (as the hub's /healthz) and a POST parsing a JSON body and answering 202
 * with an id (as the hub's track route does), no hooks, no logging, no database.
 *
 *   npx tsx bench/lib/bare-fastify.ts PORT
 */
import Fastify from 'fastify';

const app = Fastify({ logger: false });
let n = 0;
app.get('/healthz', async () => ({ status: 'ok' }));
app.post('/banking/v1/issuers/:issuerId/physicalCards/:cardId/track', async (_req, reply) => {
  reply.code(202);
  return { operationId: `op_${(n++).toString(36)}` };
});
await app.listen({ port: Number(process.argv[2]), host: '127.0.0.1' });
console.log('listening');
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
