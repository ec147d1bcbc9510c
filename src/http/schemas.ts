import { type TLiteral, type TSchema, type TUnion, Type } from 'typebox';
import { CARRIER_CODES } from '../domain/carriers.ts';
import { ERROR_STATUS, type ErrorCode } from '../domain/errors.ts';
import { SHIPMENT_STATUSES } from '../domain/shipment.ts';

/**
 * One of the given strings: `anyOf` of constants, typed as the union of those strings (a `Type.Union` over a
 * mapped array would type it as `never`, since the array loses its literal types).
 */
export function oneOf<const T extends readonly string[]>(values: T): TUnion<{ -readonly [K in keyof T]: TLiteral<T[K]> }> {
  return Type.Union(values.map((v) => Type.Literal(v))) as never;
}

/** Schemas for the OpenAPI document; request validation that needs contract error codes is in code. */
export const ErrorBody = Type.Object(
  {
    errorCode: Type.Union(
      (Object.keys(ERROR_STATUS) as ErrorCode[]).map((c) => Type.Literal(c)),
      { description: 'A closed set of codes, one status each (docs/integration.md lists what to do about each)' },
    ),
    error: Type.String({ description: 'What was wrong, for a person: names the first bad field; never a secret' }),
  },
  { $id: 'ErrorBody', description: 'Every error of the Issuer, Site and Admin APIs (D1 error body); x-correlation-id is echoed beside it' },
);

/** A schema or null: the API writes an absent value as null, never leaves the field out. */
export const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const errorResponses = (...codes: number[]) =>
  Object.fromEntries(codes.map((c) => [c, Type.Ref('ErrorBody')]));

/**
 * The token endpoint's refusal (RFC 6749 §5.2), one schema per status so that the document lists the
 * `error` values each status can carry. `enum` (not `anyOf` of constants) on purpose: the serializer
 * writes a string as it is, where an `anyOf` would make it check each body against the list.
 */
const oauthError = (errors: readonly string[], description: string, headers?: Record<string, unknown>) =>
  Type.Object(
    {
      error: Type.String({ enum: [...errors], description: 'the RFC 6749 error code' }),
      error_description: Type.Optional(Type.String({ description: 'which rule failed, for a person; never whether the issuer exists, never a secret' })),
    },
    { description, ...(headers ? { headers } : {}) },
  );

/** Every answer of POST /authz/v1/oauth2/token: the route serializes with these and the document shows them. */
export const TOKEN_RESPONSES = {
  200: Type.Object(
    {
      access_token: Type.String({ description: 'a bearer token for this issuer\'s Issuer API paths' }),
      token_type: Type.Literal('Bearer'),
      expires_in: Type.Integer({ description: 'seconds (900)' }),
      scope: Type.String({ description: 'tracking:write tracking:read' }),
    },
    { description: 'Granted: an access token for this issuer\'s Issuer API paths, valid expires_in seconds' },
  ),
  400: oauthError(
    ['invalid_request', 'invalid_grant', 'unsupported_grant_type'],
    'Refused. invalid_request: grant_type or assertion missing or repeated, a body that is neither a form nor JSON, an unsupported content type or a bad x-correlation-id. ' +
      'invalid_grant: the assertion was refused; error_description names the rule (aud, kid, exp, jti already used, the signature), an unknown issuer and a wrong key reading the same. ' +
      'unsupported_grant_type: grant_type is not urn:ietf:params:oauth:grant-type:jwt-bearer.',
  ),
  413: oauthError(['invalid_request'], 'invalid_request: the body is over 64 KiB'),
  429: oauthError(['slow_down'], 'slow_down: too many requests from this address, or tokens for this issuer; wait Retry-After seconds', {
    'retry-after': { type: 'integer', description: 'seconds to wait before asking again' },
  }),
  500: oauthError(['server_error'], 'server_error: a fault of the hub; retry later'),
  503: oauthError(['temporarily_unavailable'], 'temporarily_unavailable: the store is away or the hub is stopping; retry after Retry-After', {
    'retry-after': { type: 'integer', description: 'seconds to wait before asking again' },
  }),
};

export const TrackBody = Type.Object(
  {
    trackingType: Type.Union([Type.Literal('PRODUCTION'), Type.Literal('SHIPMENT'), Type.Literal('RETURN')]),
    trackingNumber: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9]{4,40}$', description: 'SHIPMENT (required), RETURN' })),
    carrier: Type.Optional(oneOf(CARRIER_CODES)),
    shipmentDate: Type.Optional(Type.String({ description: 'ISO 8601; SHIPMENT only' })),
    productionSite: Type.Optional(Type.String()),
    postalCode: Type.Optional(Type.String({ description: 'destination; SHIPMENT only' })),
    countryCode: Type.Optional(Type.String({ pattern: '^[A-Z]{2}$', description: 'destination, ISO 3166-1 alpha-2; SHIPMENT only' })),
  },
  { additionalProperties: false, description: 'Fields allowed depend on trackingType (docs/contract.md §2.2)' },
);

const Checkpoint = Type.Object({
  checkpointTime: Type.String(),
  city: Type.Optional(Type.String()),
  postalCode: Type.Optional(Type.String()),
  countryCode: Type.Optional(Type.String()),
  countryName: Type.Optional(Type.String()),
  message: Type.String(),
  status: oneOf(SHIPMENT_STATUSES),
  subStatus: Type.Optional(Type.String()),
  raw: Type.Object({ code: Type.String(), description: Type.String() }),
});

export const OperationObject = Type.Object(
  {
    operationId: Type.String({ description: 'The id the track request answered with' }),
    operation: Type.Literal('STANDALONE_TRACKING'),
    status: Type.Union([Type.Literal('PENDING'), Type.Literal('SUCCESSFUL'), Type.Literal('FAILED')], {
      description: 'PENDING while followed; SUCCESSFUL with each change (final once endTime is set); FAILED with errorCode',
    }),
    issuerId: Type.String(),
    cardId: Type.String(),
    timestamp: Type.String({ description: 'When this update was made (ISO 8601, UTC)' }),
    startTime: Type.String({ description: 'When the operation was opened' }),
    endTime: Type.Optional(Type.String({ description: 'Set on the last update of the operation' })),
    sequenceNumber: Type.Integer({ description: '1, 2, 3… per operation: apply an update only if above the last one applied' }),
    details: Type.Object({
      trackingType: Type.String({ description: 'PRODUCTION, SHIPMENT or RETURN' }),
      productionSite: Type.Optional(Type.String()),
      status: Type.Optional(Type.String({ description: 'CARD_SHIPPED or CARD_RETURNED' })),
      shipment: Type.Optional(
        Type.Object({
          carrier: Type.String(),
          trackingNumber: Type.String(),
          status: Type.String(),
          subStatus: Type.Optional(Type.String()),
          message: Type.String(),
          trackingUrl: Type.String(),
          estimatedDeliveryDate: Type.Optional(Type.String()),
          lastUpdatedAt: Type.Optional(Type.String()),
          lastCheckpoint: Type.Optional(Checkpoint),
          checkpoints: Type.Optional(Type.Array(Checkpoint)),
        }),
      ),
    }),
    errorCode: Type.Optional(
      Type.String({ description: 'When FAILED: TRACKING_NUMBER_NOT_FOUND, TRACKING_EXPIRED, PRODUCTION_TIMEOUT, RETURN_TIMEOUT or SUPERSEDED' }),
    ),
    error: Type.Optional(Type.String({ description: 'When FAILED: what happened, for a person' })),
  },
  { $id: 'OperationObject', description: 'A full snapshot of a tracking operation, as notified and as trackingStatus shows it' },
);

export const IssuerBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 200 }),
  notificationBaseUrl: Type.String({ description: 'https origin (and optional path) the hub POSTs notifications under' }),
  jwks: Type.Object({ keys: Type.Array(Type.Unsafe<Record<string, unknown>>(Type.Object({}, { additionalProperties: true }))) }, { description: 'ES256 public JWKs, each with a kid' }),
  webhookSecret: Type.Optional(Type.String({ description: 'whsec_…; generated and returned once when absent on creation. A new one starts a rotation: the previous secret keeps signing beside it' })),
  retirePreviousSecret: Type.Optional(Type.Boolean({ description: 'true ends a rotation or a switch of notificationSigning: only the current (or given) webhookSecret, or with ed25519 only the ed25519 key, signs from now on' })),
  notificationSigning: Type.Optional(
    Type.Union([Type.Literal('hmac'), Type.Literal('ed25519')], {
      description: 'hmac (default): v1 signatures with the webhook secrets. ed25519: v1a signatures; the hub makes the key pair and shows notificationPublicKey (whpk_…); the issuer holds no shared secret. Absent keeps the stored choice',
    }),
  ),
  notificationAuth: Type.Optional(
    Type.Object({ tokenUrl: Type.String(), clientId: Type.String(), clientSecret: Type.String() }, { additionalProperties: false }),
  ),
  notificationTls: Type.Optional(
    Type.Union([
      Type.Object(
        {
          certificatePem: Type.String({ description: 'PEM client certificate (chain) presented to the issuer endpoint' }),
          privateKeyPem: Type.String({ description: 'PEM private key of that certificate; stored, never returned or logged' }),
          caPem: Type.Optional(Type.String({ description: 'PEM CA the issuer endpoint certificate must chain to (default: public CAs)' })),
        },
        { additionalProperties: false, description: 'mTLS towards the issuer endpoint; null removes it' },
      ),
      Type.Null(),
    ]),
  ),
  maxOperationsPerNotification: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  autoTrackShipment: Type.Optional(Type.Boolean()),
  enabled: Type.Optional(Type.Boolean()),
}, { additionalProperties: false });

export const SiteBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 200 }),
  apiKey: Type.Optional(Type.String({ minLength: 24, maxLength: 200, description: 'use this key; absent keeps the stored one (a new site gets a generated one)' })),
  generateApiKey: Type.Optional(Type.Boolean({ description: 'true: replace the key with a generated one, returned once (rotation)' })),
  carriers: Type.Optional(Type.Array(Type.String(), { maxItems: 20, description: `the site's usual carriers, codes of docs/contract.md §5: ${CARRIER_CODES.join(', ')}; absent keeps the stored ones, [] clears them` })),
}, { additionalProperties: false });

const jsonType = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
/** A JSON object (not null, not an array). */
export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The first value of a JSON body whose type is not the one its schema names (`name: must be a string`),
 * read before validation. Validation coerces types so that query strings can be numbers and booleans; in
 * a body that would turn `"enabled": null` into `false` or `"generateApiKey": 1` into `true` without a word.
 */
export function bodyTypeError(value: unknown, schema: unknown, path = ''): string | undefined {
  if (!isRecord(schema)) return undefined;
  if (Array.isArray(schema.anyOf)) {
    return schema.anyOf.some((branch) => bodyTypeError(value, branch, path) === undefined) ? undefined : `${path || 'body'}: has the wrong type`;
  }
  const want = schema.type;
  if (typeof want !== 'string') return undefined;
  const got = jsonType(value);
  if (want === 'integer' ? got !== 'number' : got !== want) {
    return `${path || 'body'}: must be ${want === 'object' || want === 'array' || want === 'integer' ? `an ${want}` : `a ${want}`}`;
  }
  if (want === 'object' && isRecord(schema.properties) && isRecord(value)) {
    for (const [name, sub] of Object.entries(schema.properties)) {
      if (!Object.hasOwn(value, name)) continue;
      const problem = bodyTypeError(value[name], sub, path ? `${path}.${name}` : name);
      if (problem) return problem;
    }
  }
  if (want === 'array' && Array.isArray(value) && schema.items !== undefined) {
    for (const [i, item] of value.entries()) {
      const problem = bodyTypeError(item, schema.items, `${path}[${i}]`);
      if (problem) return problem;
    }
  }
  return undefined;
}
