import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseDuration, policyOf } from './config.ts';

describe('configuration', () => {
  it('has the contract defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      databaseUrl: 'embedded://./data/pg', host: '127.0.0.1', port: 8080, role: 'all', publicUrl: 'http://127.0.0.1:8080',
      allowPrivateTargets: false, pollMinIntervalMs: 15 * 60_000, pollMaxIntervalMs: 12 * 3_600_000, notFoundAfterMs: 7 * 86_400_000,
      expireAfterMs: 30 * 86_400_000, productionTimeoutMs: 30 * 86_400_000, returnTimeoutMs: 90 * 86_400_000, sandbox: false, logLevel: 'info',
      deliveryTimeoutMs: 15_000, // docs/contract.md §3.1: a notification attempt times out at 15 s
    });
    expect(c.retryScheduleMs).toEqual([5e3, 3e5, 18e5, 72e5, 18e6, 36e6, 504e5, 72e6, 864e5]);
    expect(c.carriers.fedex.baseUrl).toBe('https://apis.fedex.com');
    expect(loadConfig({ TRACKHUB_SANDBOX: 'true' }).allowPrivateTargets).toBe(true);
  });

  it.each([
    ['TRACKHUB_PORT', 'eighty'],
    ['TRACKHUB_ROLE', 'boss'],
    ['TRACKHUB_DATABASE_URL', 'mysql://x'],
    ['TRACKHUB_DATABASE_URL', 'pglite://./data/trackhub'],
    ['TRACKHUB_DATABASE_URL', 'postgres://[bad'],
    ['TRACKHUB_RETRY_SCHEDULE', '5s,soon'],
    ['TRACKHUB_POLL_MIN_INTERVAL', '15 minutes'],
    ['TRACKHUB_SANDBOX', 'maybe'],
    ['TRACKHUB_ADMIN_TOKEN', 'short'],
    ['TRACKHUB_LOG_LEVEL', 'loud'],
    ['TRACKHUB_CARRIER_FEDEX_BASE_URL', 'not a url'],
    ['TRACKHUB_TLS_CERT', '/tmp/cert.pem'],
    ['TRACKHUB_CARRIER_ROUTES', 'royal-mail=aftership'],
    ['TRACKHUB_CARRIER_ROUTES', 'ups=ups|shipengine'],
    ['TRACKHUB_CARRIER_ROUTES', 'ups='],
    ['TRACKHUB_CARRIER_ROUTES', 'ups'],
    // Longer than a stopping worker waits for its sends: they would be cut and sent twice.
    ['TRACKHUB_DELIVERY_TIMEOUT', '16s'],
  ])('a bad %s stops start-up with one line naming it', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    try {
      loadConfig({ [name]: value });
    } catch (err) {
      expect((err as Error).message).toMatch(/^TRACKHUB_/);
      expect((err as Error).message).toContain(name === 'TRACKHUB_TLS_CERT' ? 'TRACKHUB_TLS_KEY' : name);
      expect((err as Error).message).not.toContain('\n');
    }
  });

  it('routes carriers as the issue says by default, and TRACKHUB_CARRIER_ROUTES replaces only the codes it names', () => {
    const defaults = loadConfig({}).carrierRoutes;
    expect(defaults.fedex).toEqual(['fedex', 'aftership']);
    expect(defaults['deutsch-post']).toEqual(['dhl', 'aftership']);
    expect(defaults['chronopost-france']).toEqual(['laposte', 'aftership']);
    expect(defaults.nacex).toEqual(['aftership']);
    const routes = loadConfig({ TRACKHUB_CARRIER_ROUTES: 'nacex=aftership, ups = aftership|ups ,dhl=dhl' }).carrierRoutes;
    expect(routes.ups).toEqual(['aftership', 'ups']);
    expect(routes.dhl).toEqual(['dhl']);
    expect(routes.nacex).toEqual(['aftership']);
    expect(routes.fedex).toEqual(['fedex', 'aftership']);
    expect(() => loadConfig({ TRACKHUB_CARRIER_ROUTES: 'nacex=aftership|aftership' })).toThrow(/^TRACKHUB_CARRIER_ROUTES: "nacex" names a provider twice$/);
    expect(() => loadConfig({ TRACKHUB_CARRIER_ROUTES: 'ups=ups|shipengine' })).toThrow(/"shipengine" is not a provider/);
    expect(() => loadConfig({ TRACKHUB_CARRIER_ROUTES: 'royal-mail=aftership' })).toThrow(/"royal-mail" is not a carrier code/);
  });

  it('parses every duration unit', () => {
    expect([parseDuration('250ms'), parseDuration('5s'), parseDuration('2m'), parseDuration('1.5h'), parseDuration('7d')]).toEqual([250, 5000, 120000, 5400000, 604800000]);
    expect(parseDuration('5')).toBeUndefined();
  });

  it('puts the data folder (site inboxes) beside the embedded store folder unless TRACKHUB_DATA_DIR says otherwise', () => {
    expect(loadConfig({}).dataDir).toBe(resolve('data'));
    expect(loadConfig({ TRACKHUB_DATABASE_URL: 'embedded:///srv/hub/pg' }).dataDir).toBe('/srv/hub');
    expect(loadConfig({ TRACKHUB_DATABASE_URL: 'embedded://./state/pg' }).dataDir).toBe(resolve('state'));
    expect(loadConfig({ TRACKHUB_DATABASE_URL: 'postgres://db/hub' }).dataDir).toBe(resolve('data'));
    expect(loadConfig({ TRACKHUB_DATA_DIR: '/var/lib/trackhub' }).dataDir).toBe('/var/lib/trackhub');
    expect(loadConfig({}).inboxScanIntervalMs).toBe(2000);
    // Past 2^31 - 1 ms Node's timers fire after 1 ms: a 30-day scan interval would scan without pause.
    expect(() => loadConfig({ TRACKHUB_INBOX_SCAN_INTERVAL: '30d' })).toThrow(/TRACKHUB_INBOX_SCAN_INTERVAL: "30d" is longer than 24d/);
    expect(() => loadConfig({ TRACKHUB_KEEP_ALIVE_TIMEOUT: '25d' })).toThrow(/TRACKHUB_KEEP_ALIVE_TIMEOUT/);
    expect(loadConfig({ TRACKHUB_INBOX_SCAN_INTERVAL: '24d' }).inboxScanIntervalMs).toBe(24 * 86_400_000);
    // Past 100 years `now + value` is no longer a date.
    expect(() => loadConfig({ TRACKHUB_EXPIRE_AFTER: '99999999999999999999d' })).toThrow(/TRACKHUB_EXPIRE_AFTER: .* is longer than 36500d/);
    expect(() => loadConfig({ TRACKHUB_INBOX_SCAN_INTERVAL: 'often' })).toThrow(/TRACKHUB_INBOX_SCAN_INTERVAL/);
    expect(loadConfig({}).inboxSettleMs).toBe(5000);
    expect(loadConfig({ TRACKHUB_INBOX_SETTLE: '30s' }).inboxSettleMs).toBe(30_000);
    expect(() => loadConfig({ TRACKHUB_INBOX_SETTLE: 'soon' })).toThrow(/TRACKHUB_INBOX_SETTLE/);
  });
});

describe('policyOf: what the use cases are given', () => {
  it('carries deadlines, poll bounds and the lease, and no secret of the configuration', () => {
    const secrets = {
      TRACKHUB_ADMIN_TOKEN: 'admin-token-0123456789abcdefghijklmnop',
      TRACKHUB_METRICS_TOKEN: 'metrics-token-0123456789abcdefghijklmno',
      TRACKHUB_CARRIER_FEDEX_CLIENT_SECRET: 'fedex-client-secret-value',
      TRACKHUB_CARRIER_DHL_API_KEY: 'dhl-api-key-value',
      TRACKHUB_CARRIER_UPS_WEBHOOK_SECRET: 'ups-webhook-secret-value',
    };
    const config = loadConfig({ ...secrets, TRACKHUB_NOT_FOUND_AFTER: '3d', TRACKHUB_LEASE: '45s' });
    const policy = policyOf(config);
    expect(Object.keys(policy).sort()).toEqual(
      ['expireAfterMs', 'leaseMs', 'notFoundAfterMs', 'notFoundAnswers', 'pollMaxIntervalMs', 'pollMinIntervalMs', 'productionTimeoutMs', 'pushSafetyIntervalMs', 'returnTimeoutMs'].sort(),
    );
    expect(policy.notFoundAfterMs).toBe(3 * 86_400_000);
    expect(policy.leaseMs).toBe(45_000);
    const text = JSON.stringify(policy);
    for (const value of Object.values(secrets)) expect(text).not.toContain(value);
  });

describe('carrier outcome and push settings', () => {
  it('reads TRACKHUB_NOT_FOUND_ANSWERS (1 to 100) and TRACKHUB_PUSH_SAFETY_POLL, and names the variable of a bad value', () => {
    expect(loadConfig({}).notFoundAnswers).toBe(3);
    expect(loadConfig({}).pushSafetyIntervalMs).toBe(12 * 3_600_000);
    expect(loadConfig({ TRACKHUB_NOT_FOUND_ANSWERS: '5', TRACKHUB_PUSH_SAFETY_POLL: '6h' })).toMatchObject({ notFoundAnswers: 5, pushSafetyIntervalMs: 6 * 3_600_000 });
    for (const bad of ['0', '101', '2.5', 'three', '-1']) expect(() => loadConfig({ TRACKHUB_NOT_FOUND_ANSWERS: bad })).toThrow(/TRACKHUB_NOT_FOUND_ANSWERS.*whole number from 1 to 100/);
    expect(() => loadConfig({ TRACKHUB_PUSH_SAFETY_POLL: 'never' })).toThrow(/TRACKHUB_PUSH_SAFETY_POLL/);
    expect(() => loadConfig({ TRACKHUB_NOT_FOUND_AFTER: '0s' })).toThrow(/TRACKHUB_NOT_FOUND_AFTER: "0s" must be longer than zero/);
  });

  it('refuses a carrier budget beyond a year or a billion calls, which no carrier publishes', () => {
    expect(() => loadConfig({ TRACKHUB_CARRIER_DHL_RATE_LIMIT: '1/999999999999d' })).toThrow(/TRACKHUB_CARRIER_DHL_RATE_LIMIT.*up to 366d/);
    expect(() => loadConfig({ TRACKHUB_CARRIER_DHL_RATE_LIMIT: '99999999999999999999999/1s' })).toThrow(/TRACKHUB_CARRIER_DHL_RATE_LIMIT/);
    expect(loadConfig({ TRACKHUB_CARRIER_DHL_RATE_LIMIT: '17000/1d' }).carriers.dhl.rateLimit).toEqual({ count: 17_000, perMs: 86_400_000 });
  });
});


describe('variables nothing reads', () => {
  it('names each TRACKHUB_ variable the hub does not read, with the nearest setting when one is close', () => {
    const c = loadConfig({
      TRACKHUB_CARRIER_FEDX_RATE_LIMIT: '2/1s',
      TRACKHUB_CARRIER_fedex_RATE_LIMIT: '2/1s',
      TRACKHUB_NOT_FOUND_ANSWER: '5',
      TRACKHUB_SOMETHING_ELSE: '1',
      TRACKHUB_SITE_API_KEY: 'read by trackhub sites',
      TRACKHUB_NOT_FOUND_AFTER: '3d',
      OTHER_APP_SETTING: 'x',
    });
    expect(c.unknownVariables).toEqual([
      { name: 'TRACKHUB_CARRIER_FEDX_RATE_LIMIT', nearest: 'TRACKHUB_CARRIER_FEDEX_RATE_LIMIT' },
      { name: 'TRACKHUB_CARRIER_fedex_RATE_LIMIT', nearest: 'TRACKHUB_CARRIER_FEDEX_RATE_LIMIT' },
      { name: 'TRACKHUB_NOT_FOUND_ANSWER', nearest: 'TRACKHUB_NOT_FOUND_ANSWERS' },
      { name: 'TRACKHUB_SOMETHING_ELSE' },
    ]);
    expect(loadConfig({ TRACKHUB_NOT_FOUND_AFTER: '3d', TRACKHUB_CARRIER_UPS_CLIENT_ID: 'x' }).unknownVariables).toEqual([]);
    // --sandbox decides over TRACKHUB_SANDBOX, which is still a known setting; test tools' variables are not the hub's.
    expect(loadConfig({ TRACKHUB_SANDBOX: 'true', TRACKHUB_CHILD_NODE_ARGS: '--inspect', TRACKHUB_TEST_DATABASE_URL: 'x' }, { sandbox: true }).unknownVariables).toEqual([]);
  });
});

});
