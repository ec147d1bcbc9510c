import Fastify, { type FastifyInstance } from 'fastify';
import { ParcelClock } from '../../src/sandbox/scenarios.ts';
import { registerSandbox } from '../../src/sandbox/server.ts';

/** The built-in sandbox on a loopback port, its parcel clock on `now` (a clock the test moves). */
export async function startSandbox(speed: number, now: () => number): Promise<{ app: FastifyInstance; origin: string }> {
  const app = Fastify();
  registerSandbox(app, speed, new ParcelClock(speed, now));
  const origin = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, origin };
}
