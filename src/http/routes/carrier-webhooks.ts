import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Counter } from 'prom-client';
import { Type } from 'typebox';
import { notePush } from '../../carriers/figures.ts';
import { shapeError } from '../../carriers/parse-util.ts';
import { isProviderName, type ProviderName } from '../../carriers/provider.ts';
import type { PushEvent } from '../../carriers/push.ts';
import { PROVIDERS } from '../../carriers/registry.ts';
import type { CarrierCode } from '../../domain/carriers.ts';
import { ApiError } from '../../domain/errors.ts';
import type { OperationState } from '../../domain/operation.ts';
import type { CarrierSnapshot, TrackResult } from '../../domain/shipment.ts';
import { advanceOperation } from '../../operations/advance.ts';
import { openOperationsByTrackingNumber } from '../../store/operations.ts';
import type { HttpDeps } from '../app.ts';
import { declaresUtf8, JSON_ONLY, NOT_UTF8, utf8Text } from '../media-types.ts';

const pushes = new Counter({
  name: 'trackhub_carrier_pushes_total',
  help: 'Carrier webhook requests by provider and outcome',
  labelNames: ['provider', 'outcome'],
});

/**
 * `POST /carriers/v1/{provider}/webhook`: carrier pushes, verified with the provider's webhook secret and
 * fed through the same parsers and state machine as polling. Every open operation that tracks the pushed
 * number with a carrier this provider serves is advanced.
 */
export function registerCarrierWebhooks(app: FastifyInstance, deps: HttpDeps): void {
  void app.register(async (untypedScope) => {
    const scope = untypedScope.withTypeProvider<TypeBoxTypeProvider>();
    // Signatures are over the exact bytes sent, so the body is kept as bytes and parsed here.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 1024 * 1024 }, (_req, body, done) => done(null, body));

    /** The provider's push reader and secret, or a 404 when it takes no push here. */
    const configured = (provider: string) => {
      if (!isProviderName(provider)) return undefined;
      const reader = PROVIDERS[provider].push;
      const secret = deps.config.carriers[provider].webhookSecret;
      return reader && secret ? { name: provider, reader, secret } : undefined;
    };
    const notConfigured = (provider: string) => new ApiError('NOT_FOUND', `no carrier push is configured for "${provider}"`);

    scope.post(
      '/carriers/v1/:provider/webhook',
      {
        schema: { tags: ['carriers'], summary: 'Carrier push (UPS Track Alert, FedEx AIV, DHL Unified Push, AfterShip)', params: Type.Object({ provider: Type.String() }) },
        // Before the body is read: a provider that takes no push here never gets 1 MiB read.
        onRequest: async (req) => {
          if (!configured(req.params.provider)) throw notConfigured(req.params.provider);
        },
      },
      async (req) => {
        const push = configured(req.params.provider);
        if (!push) throw notConfigured(req.params.provider);
        const { name: provider, reader, secret } = push;
        const bytes = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        if (!reader.verify(req.headers, bytes, secret)) {
          pushes.inc({ provider, outcome: 'unauthorized' });
          throw new ApiError('AUTHORIZER_UNAUTHORIZED', `missing or wrong ${reader.header}`);
        }
        // Carriers push JSON in UTF-8; text in another encoding would be stored with U+FFFD in checkpoints.
        const contentType = req.headers['content-type'];
        if (contentType !== undefined && !declaresUtf8(contentType)) {
          pushes.inc({ provider, outcome: 'bad_body' });
          throw new ApiError('UNSUPPORTED_MEDIA_TYPE', JSON_ONLY);
        }
        const raw = utf8Text(bytes);
        if (raw === undefined) {
          pushes.inc({ provider, outcome: 'bad_body' });
          throw new ApiError('PARSING_ERROR', NOT_UTF8);
        }
        let body: unknown;
        try {
          body = JSON.parse(raw);
        } catch {
          pushes.inc({ provider, outcome: 'bad_body' });
          throw new ApiError('PARSING_ERROR', 'body is not valid JSON');
        }
        const badField = shapeError(body, reader.shape);
        if (badField) {
          pushes.inc({ provider, outcome: 'bad_body' });
          throw new ApiError('FIELD_INVALID_FORMAT', `${badField}: wrong type for a ${provider} push`);
        }
        const now = deps.hub.now().toISOString();
        // Everything is read before anything is applied: a body the parsers still choke on is refused as
        // bad input (400: carriers would retry a 500 forever) and leaves no operation half-advanced.
        const unreadable = (err: unknown): ApiError => {
          pushes.inc({ provider, outcome: 'bad_body' });
          req.log.warn({ err, provider }, 'carrier push could not be read');
          return new ApiError('FIELD_INVALID_FORMAT', `body: unreadable ${provider} push`);
        };
        let events: PushEvent[] | undefined;
        try {
          events = reader.events(body);
        } catch (err) {
          throw unreadable(err);
        }
        if (!events) {
          pushes.inc({ provider, outcome: 'bad_body' });
          throw new ApiError('FIELD_INVALID_FORMAT', `body: not a ${provider} push`);
        }
        const updates: { operationId: string; snapshot: CarrierSnapshot }[] = [];
        for (const event of events) {
          for (const op of await openOperationsOf(deps, provider, event.trackingNumber)) {
            let result: TrackResult;
            try {
              result = event.read(op.parcel?.carrier as CarrierCode);
            } catch (err) {
              throw unreadable(err);
            }
            if (result.kind === 'found') updates.push({ operationId: op.operationId, snapshot: result.snapshot });
          }
        }
        for (const u of updates) {
          await advanceOperation(deps.hub, u.operationId, { kind: 'carrier-found', snapshot: u.snapshot, now, partial: true });
        }
        const advanced = updates.length;
        pushes.inc({ provider, outcome: advanced > 0 ? 'applied' : 'unmatched' });
        // Accepted (verified, read, applied): the operators' view counts it; refusals above never reach here.
        notePush(provider, new Date(now));
        // Carriers retry anything but a 2xx; an event for a number we do not track is still received.
        return { received: events.length, operations: advanced };
      },
    );
  });
}

async function openOperationsOf(deps: HttpDeps, provider: ProviderName, trackingNumber: string): Promise<OperationState[]> {
  return (await openOperationsByTrackingNumber(deps.db, trackingNumber))
    // A parcel a provider already serves takes pushes from that provider only: another's report of the
    // same scans comes under other codes and would show twice among its checkpoints.
    .filter((s) => s.parcel && deps.config.carrierRoutes[s.parcel.carrier].includes(provider) && (!s.parcel.provider || s.parcel.provider === provider));
}

