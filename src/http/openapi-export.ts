import { loadConfig, policyOf } from '../config.ts';
import { createLogger } from '../logger.ts';
import { buildContext } from '../operations/context.ts';
import { buildApp } from './app.ts';

/** Objects' keys sorted at every depth (arrays keep their order): the same document prints the same bytes. */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
  );
}

/**
 * The hub's OpenAPI document as committed in openapi.json: the app is built and never listens, so no store
 * is needed (no route touches its dependencies until a request comes), and the environment is not read,
 * so no host's settings end up in the document.
 */
export async function exportOpenApi(): Promise<string> {
  const config = loadConfig({ TRACKHUB_ADMIN_TOKEN: 'openapi-export-token-0123456789ab', TRACKHUB_LOG_LEVEL: 'silent' });
  const log = createLogger('silent');
  const db = {} as never;
  const app = await buildApp({
    config,
    db,
    storeKind: 'postgres',
    hub: buildContext({ db, log, policy: policyOf(config) }),
    issuers: {} as never,
    tokens: {} as never,
    accessTokenKey: new Uint8Array(32),
    log,
    carriers: {} as never,
  });
  try {
    await app.ready();
    return `${JSON.stringify(sortKeys(app.swagger()), null, 2)}\n`;
  } finally {
    await app.close();
  }
}
