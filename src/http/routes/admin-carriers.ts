import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { PROVIDER_NAMES, type RateLimit } from '../../carriers/provider.ts';
import type { ProviderSettings } from '../../carriers/settings.ts';
import { windowAt } from '../../domain/call-budget.ts';
import { type CarrierFigures, readCarrierView, type UnknownCodeRow } from '../../store/carrier-view.ts';
import { adminRoute } from '../admin-auth.ts';
import type { RouteDeps } from '../app.ts';
import { errorResponses, oneOf } from '../schemas.ts';

/** Unknown codes listed per provider, newest first; `total` says how many it has in all. */
const CODES_SHOWN = 50;
/** A UPS Track Alert subscription lasts 14 days (UPS Track Alert API); younger ones are still pushing. */
const UPS_SUBSCRIPTION_MS = 14 * 86_400_000;

const Time = Type.Union([Type.String({ description: 'ISO 8601, UTC' }), Type.Null()]);
const Rate = Type.Union([Type.Number(), Type.Null()]);

const CarrierView = Type.Object({
  provider: oneOf(PROVIDER_NAMES),
  usable: Type.Boolean({ description: 'credentials (or an explicit origin, or the sandbox) configured: the poller asks this provider' }),
  budget: Type.Object({
    count: Type.Integer(),
    perMs: Type.Integer(),
    text: Type.String({ description: 'as TRACKHUB_CARRIER_<PROVIDER>_RATE_LIMIT is written, e.g. 1400/10s' }),
    maxBatch: Type.Integer({ description: 'tracking numbers one call carries' }),
  }),
  window: Type.Union([
    Type.Object(
      {
        start: Type.String(),
        end: Type.String(),
        used: Type.Integer({ description: 'calls made in it, and calls granted and still in flight (a call may carry up to maxBatch numbers)' }),
        remaining: Type.Integer({ description: 'calls the budget still allows in it' }),
        wanted: Type.Integer({ description: 'tracking numbers that fell due for a poll in it (numbers, not calls)' }),
      },
      { description: 'the sliding window that ends now (null: the provider was never polled)' },
    ),
    Type.Null(),
  ]),
  lastWindow: Type.Union([
    Type.Object({
      start: Type.String(),
      end: Type.String(),
      used: Type.Integer(),
      wanted: Type.Integer(),
      usedShare: Type.Number({ description: 'used / budget count, 0 to 1' }),
    }),
    Type.Null(),
  ], { description: 'the previous complete window (null until one has ended)' }),
  pausedUntil: Type.Union([Type.String({ description: "the carrier's Retry-After: nothing is asked before then" }), Type.Null()]),
  demand: Type.Object({
    wantedPerSecond: Rate,
    suppliedPerSecond: Type.Number({ description: 'budget count / window seconds x maxBatch: numbers the budget can poll a second' }),
    overloaded: Type.Boolean({ description: 'demand over the window that ends now exceeds what the budget supplies' }),
  }),
  breaker: Type.Object({ state: Type.String({ description: 'closed, open or half-open' }), until: Time, changedAt: Time }),
  totals: Type.Object({ calls: Type.Integer(), fallbacks: Type.Integer(), deadlineWaits: Type.Integer(), pushes: Type.Integer() }, { description: 'since the store was created' }),
  overdue: Type.Object({ parcels: Type.Integer({ description: 'parcels whose poll waited longer than their interval, as the newest round saw them' }), at: Time }),
  push: Type.Object({
    webhookConfigured: Type.Boolean({ description: 'a webhook secret is set (the secret itself is never shown)' }),
    lastPushAt: Time,
    subscriptions: Type.Union([Type.Integer(), Type.Null()], { description: 'UPS: Track Alert subscriptions younger than 14 days; null for the others' }),
  }),
  unknownCodes: Type.Object({
    total: Type.Integer({ description: 'codes recorded for this provider (the table keeps at most 500 in all; later ones count under "other")' }),
    codes: Type.Array(
      Type.Object({
        code: Type.String(),
        seen: Type.Integer(),
        firstSeenAt: Type.String(),
        firstExample: Type.Union([Type.String(), Type.Null()]),
        lastSeenAt: Type.String(),
        lastExample: Type.Union([Type.String(), Type.Null()]),
      }),
      { description: `newest first, at most ${CODES_SHOWN}` },
    ),
  }),
});

/** `1400/10s`, `60/1h`: the budget as its setting is written. */
export function rateLimitText(limit: RateLimit): string {
  const units: [number, string][] = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'm'],
    [1000, 's'],
  ];
  const [size, unit] = units.find(([ms]) => limit.perMs % ms === 0) ?? [1, 'ms'];
  return `${limit.count}/${limit.perMs / size}${unit}`;
}

const round = (n: number) => Math.round(n * 1000) / 1000;
const addMs = (iso: string, ms: number) => new Date(Date.parse(iso) + ms).toISOString();

function viewOf(
  provider: (typeof PROVIDER_NAMES)[number],
  settings: ProviderSettings,
  row: CarrierFigures | undefined,
  codes: { total: number; codes: UnknownCodeRow[] } | undefined,
  upsSubscriptions: number,
  now: Date,
) {
  const { count, perMs } = settings.rateLimit;
  const windowSeconds = perMs / 1000;
  const supplied = (count / windowSeconds) * settings.maxBatch;
  const last = row?.lastWindowStart && row.lastWindowEnd && row.lastUsed !== null && row.lastWanted !== null ? row : undefined;
  // The sliding window that ends now, from its buckets (idle time counts); a row without buckets as written.
  const current = row?.buckets ? windowAt(row.buckets, settings.rateLimit, now.getTime()) : undefined;
  const used = current ? current.calls + current.inFlight : (row?.used ?? 0);
  const wanted = current ? current.wanted : (row?.wanted ?? 0);
  const wantedPerSecond = current ? wanted / windowSeconds : last ? (last.lastWanted as number) / windowSeconds : null;
  return {
    provider,
    usable: settings.usable,
    budget: { count, perMs, text: rateLimitText(settings.rateLimit), maxBatch: settings.maxBatch },
    window: row
      ? current
        ? { start: new Date(now.getTime() - perMs).toISOString(), end: now.toISOString(), used, remaining: Math.max(0, count - used), wanted }
        : { start: row.windowStart, end: addMs(row.windowStart, perMs), used, remaining: Math.max(0, count - used), wanted }
      : null,
    lastWindow: last
      ? {
          start: last.lastWindowStart as string,
          end: last.lastWindowEnd as string,
          used: last.lastUsed as number,
          wanted: last.lastWanted as number,
          usedShare: round((last.lastUsed as number) / count),
        }
      : null,
    pausedUntil: row?.pausedUntil && Date.parse(row.pausedUntil) > now.getTime() ? row.pausedUntil : null,
    demand: { wantedPerSecond: wantedPerSecond === null ? null : round(wantedPerSecond), suppliedPerSecond: round(supplied), overloaded: wantedPerSecond !== null && wantedPerSecond > supplied },
    breaker: { state: row?.breakerState ?? 'closed', until: row?.breakerUntil ?? null, changedAt: row?.breakerChangedAt ?? null },
    totals: { calls: row?.callsTotal ?? 0, fallbacks: row?.fallbacksTotal ?? 0, deadlineWaits: row?.deadlineWaitsTotal ?? 0, pushes: row?.pushesTotal ?? 0 },
    overdue: { parcels: row?.overdue ?? 0, at: row?.overdueAt ?? null },
    push: { webhookConfigured: settings.webhookConfigured, lastPushAt: row?.lastPushAt ?? null, subscriptions: provider === 'ups' ? upsSubscriptions : null },
    unknownCodes: { total: codes?.total ?? 0, codes: codes?.codes ?? [] },
  };
}

/**
 * `GET /admin/v1/carriers`: each provider as every worker and instance left it in the store (budget,
 * demand, breaker, totals, pushes, unknown status codes), beside what this hub is configured with. Built
 * from `RouteDeps.carriers`, which holds whether a secret is set, never a secret.
 */
export function registerAdminCarriers(untyped: FastifyInstance, deps: RouteDeps): void {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/admin/v1/carriers',
    {
      ...adminRoute(app, deps, 'read'),
      schema: {
        tags: ['admin'],
        summary: 'Carrier providers as operators watch them: configured or not, budget and its use, demand against supply, breaker, totals, pushes and unknown status codes',
        security: [{ adminBearer: [] }],
        response: { 200: Type.Object({ at: Type.String(), carriers: Type.Array(CarrierView) }), ...errorResponses(400, 401, 403, 429) },
      },
    },
    async () => {
      const now = deps.hub.now();
      const rows = await readCarrierView(deps.db, { codesPerProvider: CODES_SHOWN, subscriptionsSince: new Date(now.getTime() - UPS_SUBSCRIPTION_MS) });
      return {
        at: now.toISOString(),
        carriers: PROVIDER_NAMES.map((name) => viewOf(name, deps.carriers[name], rows.figures.get(name), rows.unknownCodes.get(name), rows.upsSubscriptions, now)),
      };
    },
  );
}
