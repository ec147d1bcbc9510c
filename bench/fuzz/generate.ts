/**
 * fast-check arbitraries for requests to the hub, built from its OpenAPI document: valid-looking values
 * (so requests get past validation into the code behind it) mixed with hostile ones in every field,
 * body, header, path parameter and credential.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { CARRIER_CODES, type CarrierCode } from '../../src/domain/carriers.ts';
import { sandboxNumbers } from '../../src/sandbox/numbers.ts';
import {
  ADMIN_KINDS,
  type AdminKind,
  ASSERTION_KINDS,
  type AssertionKind,
  BEARER_KINDS,
  type BearerKind,
  FUZZ_ISSUER,
  FUZZ_SITE,
  OTHER_ISSUER,
  OTHER_SITE,
  OWN_IDS,
  SITE_KEY_KINDS,
  type SiteKeyKind,
} from './credentials.ts';
import type { JsonSchema, Param, RouteSpec } from './openapi.ts';

export type Auth = { scheme: 'bearer'; kind: BearerKind } | { scheme: 'admin'; kind: AdminKind } | { scheme: 'siteKey'; kind: SiteKeyKind };

/** One generated request. Credentials are named, not written in, so a reproducer reads (and replays) as what it is. */
export interface FuzzRequest {
  route: string;
  method: string;
  /** Raw request target, sent as is (dot segments and %-escapes included). */
  path: string;
  headers: Record<string, string>;
  auth?: Auth;
  /** Token endpoint: the body's `{{assertion}}` is replaced by a freshly signed assertion of this kind. */
  assertion?: AssertionKind;
  /** Carrier webhook: the provider's signature header is computed over the body when sent. */
  sign?: string;
  body?: string;
  /** How the body text is turned into bytes (a charset the content-type may or may not declare). */
  encoding?: 'utf8' | 'utf16le' | 'latin1';
}

export interface GenContext {
  routes: RouteSpec[];
  publicJwk: Record<string, unknown>;
  /** Where fuzzed issuers' notifications may go: loopback only. */
  receiverUrl: string;
  /** Only values the hub must accept (the clean requests): no near-misses among the valid-looking ones. */
  strict?: boolean;
}

const ASSERTION_MARK = '{{assertion}}';
export const assertionMark = ASSERTION_MARK;

// ---------------------------------------------------------------- hostile values

const LONE_SURROGATES = fc.string({ unit: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 4 });

/** Strings that have broken parsers, stores and loggers before. */
const NASTY_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\u0000'.repeat(64),
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  '../../../../etc/passwd',
  '..',
  '.',
  '%00',
  '%2e%2e%2f',
  '\u202Egnp.exe',
  'e\u0301\u0301\u0301',
  'Z\u0351\u0360\u0353\u034d',
  '\u{1F600}\u{1F4A9}',
  '\u{10FFFF}',
  '\uFEFF',
  '\uFFFD',
  '\uD800',
  '\uDFFF',
  'a\uD800b',
  '\u2028\u2029',
  'null',
  'undefined',
  'true',
  '0',
  '-1',
  '1e309',
  'NaN',
  'Infinity',
  "' OR '1'='1",
  "'; drop table issuers; --",
  '$1',
  '{"$ne":null}',
  '<script>alert(1)</script>',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a template-injection probe, meant literally
  '${7*7}{{7*7}}',
  '\r\nx-injected: 1',
  '\\',
  '"',
  '\t\n\r\v\f',
  '0000-00-00T00:00:00Z',
  '9999-12-31T23:59:59.999Z',
  '2024-02-30T00:00:00Z',
  '+275760-09-13T00:00:00.000Z',
  '-000001-01-01T00:00:00Z',
  '1970-01-01',
  'http://169.254.169.254/latest/meta-data',
  'file:///etc/passwd',
  'whsec_',
  'CARD_SHIPPED',
  'SHIPMENT',
];

const hugeString = fc.constantFrom(1_000, 65_536, 70_000).map((n) => 'x'.repeat(n));

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 2, arbitrary: LONE_SURROGATES.map((s) => `x${s}y`) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom('\u0300', '\u0301', '\u036f', '\u200d', '\u200f', '\u202e'), maxLength: 300 }) },
  { weight: 1, arbitrary: hugeString },
);

const NASTY_NUMBERS = [0, -0, -1, 1.5, 2 ** 31, 2 ** 53 + 1, -(2 ** 63), 1e308, Number.MIN_VALUE, 999999999999];

/** Any JSON value, hostile for whatever field it lands in. Objects may carry prototype keys. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: hostileString },
  { weight: 2, arbitrary: fc.constantFrom<unknown>(...NASTY_NUMBERS, true, false, null) },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>([], {}, [null], [[]], { __proto__: null }, JSON.parse('{"__proto__":{"isAdmin":true}}'), JSON.parse('{"constructor":{"prototype":{"x":1}}}')) },
  { weight: 1, arbitrary: fc.array(hostileString, { maxLength: 5 }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);

// ---------------------------------------------------------------- valid-looking values

const TRACKING_NUMBERS = sandboxNumbers(undefined, CARRIER_CODES as readonly CarrierCode[]).map((n) => n.trackingNumber);
/** A small pool of cards: valid requests supersede each other instead of opening ever more operations. */
const CARD_IDS = Array.from({ length: 40 }, (_, i) => `fuzz-card-${i}`);

const isoTime = fc
  .date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true })
  .chain((d) => fc.constantFrom(d.toISOString(), d.toISOString().slice(0, 10), d.toISOString().replace('Z', '+02:00'), d.toISOString().slice(0, 19)));
const recentIso = fc.integer({ min: -30 * 86_400_000, max: 3_600_000 }).map((ms) => new Date(Date.now() + ms).toISOString());

const FAKE_PEM = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUZnV6eg==\n-----END CERTIFICATE-----\n';

function loopbackUrls(receiverUrl: string): fc.Arbitrary<string> {
  return fc.constantFrom(receiverUrl, `${receiverUrl}/path/`, 'http://127.0.0.1:9/', 'https://127.0.0.1:1/x', 'http://localhost:9', 'ftp://127.0.0.1/', 'http://user:pw@127.0.0.1:9/', 'http://127.0.0.1:9/?q=1', 'not a url');
}

/** Valid-looking values for fields the schema alone describes too loosely (by field name). */
function byName(name: string, ctx: GenContext): fc.Arbitrary<unknown> | undefined {
  if (ctx.strict) {
    switch (name) {
      case 'notificationBaseUrl':
      case 'tokenUrl':
        return fc.constantFrom(ctx.receiverUrl, `${ctx.receiverUrl}/hooks`);
      case 'notificationTls':
        return fc.constant(null);
      case 'jwks':
        return fc.constant({ keys: [ctx.publicJwk] });
      case 'name':
        return fc.stringMatching(/^[A-Za-z0-9 ]{1,40}$/);
      case 'postalCode':
        return fc.constant('75001');
      case 'issuerId':
        return fc.constantFrom(FUZZ_ISSUER, OTHER_ISSUER);
    }
  }
  switch (name) {
    case 'trackingNumber':
      return fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...TRACKING_NUMBERS) }, { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9]{4,40}$/) });
    case 'issuerId':
      return fc.constantFrom(FUZZ_ISSUER, FUZZ_ISSUER, OTHER_ISSUER, 'NOSUCHISS1');
    case 'cardId':
      return fc.constantFrom(...CARD_IDS);
    case 'productionSite':
      return fc.constantFrom(FUZZ_SITE, OTHER_SITE, 'no-such-site');
    case 'shipmentDate':
    case 'since':
      return isoTime;
    case 'occurredAt':
      return fc.oneof({ weight: 3, arbitrary: recentIso }, { weight: 1, arbitrary: isoTime });
    case 'postalCode':
      return fc.constantFrom('75001', '10115', 'SW1A 1AA', '');
    case 'countryCode':
      return fc.stringMatching(/^[A-Z]{2}$/);
    case 'notificationBaseUrl':
    case 'tokenUrl':
      return loopbackUrls(ctx.receiverUrl);
    case 'webhookSecret':
      return fc.uint8Array({ minLength: 24, maxLength: 48 }).map((b) => `whsec_${Buffer.from(b).toString('base64')}`);
    case 'apiKey':
      return fc.stringMatching(/^sk_[A-Za-z0-9]{24,60}$/);
    case 'certificatePem':
    case 'privateKeyPem':
    case 'caPem':
      return fc.constantFrom(FAKE_PEM, FAKE_PEM.replace(/CERTIFICATE/g, 'PRIVATE KEY'), '');
    case 'jwks':
      return fc.constantFrom({ keys: [ctx.publicJwk] }, { keys: [{ ...ctx.publicJwk, kid: 'other' }] }, { keys: [] });
    case 'eventId':
      return fc.stringMatching(/^[A-Za-z0-9_.:-]{1,40}$/);
    case 'name':
      return fc.string({ minLength: 1, maxLength: 40 });
    case 'reason':
      return fc.string({ maxLength: 80 });
    default:
      return undefined;
  }
}

/** A track body that fits its trackingType's fields (docs/contract.md §2.2), so it reaches the accept path. */
const validTrackBody: fc.Arbitrary<unknown> = fc.oneof(
  fc.record({ trackingType: fc.constant('PRODUCTION'), productionSite: fc.constantFrom(FUZZ_SITE, OTHER_SITE) }, { requiredKeys: ['trackingType'] }),
  fc.record(
    {
      trackingType: fc.constant('SHIPMENT'),
      trackingNumber: fc.constantFrom(...TRACKING_NUMBERS),
      carrier: fc.constantFrom(...CARRIER_CODES),
      shipmentDate: recentIso,
      productionSite: fc.constantFrom(FUZZ_SITE, OTHER_SITE),
      postalCode: fc.constantFrom('75001', '10115'),
      countryCode: fc.constantFrom('FR', 'DE', 'US', 'GB'),
    },
    { requiredKeys: ['trackingType', 'trackingNumber'] },
  ),
  fc.record({ trackingType: fc.constant('RETURN'), productionSite: fc.constantFrom(FUZZ_SITE, OTHER_SITE), trackingNumber: fc.constantFrom(...TRACKING_NUMBERS) }, { requiredKeys: ['trackingType'] }),
);

function validBody(route: RouteSpec, ctx: GenContext): fc.Arbitrary<unknown> | undefined {
  if (route.path.endsWith('/track')) return validTrackBody;
  return route.body && fromSchema(route.body, ctx);
}

function fromSchema(schema: JsonSchema, ctx: GenContext, name = '', depth = 0): fc.Arbitrary<unknown> {
  const named = byName(name, ctx);
  if (named) return named;
  if (depth > 6) return fc.constant(null);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives) return fc.oneof(...alternatives.map((s) => fromSchema(s, ctx, name, depth + 1)));
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'string':
      if (schema.pattern) return fc.stringMatching(new RegExp(schema.pattern));
      return fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 30, 60) });
    case 'integer':
      return fc.integer({ min: schema.minimum ?? -1000, max: schema.maximum ?? 1000 });
    case 'number':
      return fc.double({ min: schema.minimum ?? -1000, max: schema.maximum ?? 1000, noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(fromSchema(schema.items ?? {}, ctx, singular(name), depth + 1), { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 4, 4) });
    case 'object': {
      const props = schema.properties ?? {};
      const record = Object.fromEntries(Object.entries(props).map(([k, s]) => [k, fromSchema(s, ctx, k, depth + 1)]));
      return fc.record(record, { requiredKeys: (schema.required ?? []).filter((k) => k in props) });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

const singular = (name: string) => (name === 'carriers' ? 'carrier' : name === 'events' ? 'event' : name);

// ---------------------------------------------------------------- mutations of a JSON body

type Path = (string | number)[];

function paths(value: unknown, at: Path = [], out: Path[] = []): Path[] {
  out.push(at);
  if (out.length > 200) return out;
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) paths(v, [...at, i], out);
  }
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) paths(v, [...at, k], out);
  return out;
}

/** An own property even for `__proto__`, where plain assignment would change the prototype instead. */
function put(o: Record<string | number, unknown>, key: string | number, value: unknown): Record<string | number, unknown> {
  return Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

function setAt(root: unknown, path: Path, fn: (parent: Record<string | number, unknown>, key: string | number) => void): unknown {
  if (path.length === 0) return root;
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let parent = copy;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  fn(parent, path[path.length - 1]);
  return copy;
}

const Mutation = fc.oneof(
  { weight: 5, arbitrary: fc.constant({ kind: 'none' as const }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), value: hostileValue }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('add' as const), at: fc.nat(), key: fc.oneof(fc.constantFrom('__proto__', 'constructor', 'prototype', 'unknownField', ''), hostileString), value: hostileValue }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('whole' as const), value: hostileValue }) },
);
type Mutation = typeof Mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(base: unknown, m: Mutation): unknown {
  if (m.kind === 'none') return base;
  if (m.kind === 'whole') return m.value;
  const all = paths(base);
  const at = all[m.at % all.length];
  if (m.kind === 'replace') return at.length === 0 ? m.value : setAt(base, at, (p, k) => put(p, k, m.value));
  if (m.kind === 'delete') return at.length === 0 ? undefined : setAt(base, at, (p, k) => (Array.isArray(p) ? p.splice(Number(k), 1) : delete p[k]));
  // add: into the object at that path (or the nearest object above it)
  const objects = all.filter((p) => {
    let v: unknown = base;
    for (const k of p) v = (v as Record<string | number, unknown>)[k];
    return v !== null && typeof v === 'object' && !Array.isArray(v);
  });
  if (objects.length === 0) return base;
  const target = objects[m.at % objects.length];
  const add = (o: Record<string | number, unknown>) => put(o, m.key, m.value);
  if (target.length === 0) return add(structuredClone(base) as Record<string, unknown>);
  return setAt(base, target, (p, k) => add(p[k] as Record<string, unknown>));
}

/** Field names ending in Url are only ever loopback: fuzzed issuers must not send anything off this machine. */
function keepLoopback(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(keepLoopback);
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (/url$/i.test(k) && typeof v === 'string') {
        try {
          const u = new URL(v);
          if (!['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) {
            u.hostname = '127.0.0.1';
            (value as Record<string, unknown>)[k] = u.toString();
          }
        } catch {
          // not a URL: refused by the hub without any lookup
        }
      } else keepLoopback(v);
    }
  }
  return value;
}

const Serialisation = fc.oneof(
  { weight: 14, arbitrary: fc.constant({ kind: 'json' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('duplicate-key' as const), value: hostileValue }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('deep' as const), depth: fc.constantFrom(64, 1_000, 10_000, 100_000), open: fc.constantFrom('[', '{"a":') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncated' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'empty' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('garbage' as const), text: fc.oneof(hostileString, fc.constantFrom('{', '}', '[', '{"a":1}}', '{"a":tru}', "{'a':1}", '{"a":1,}', '\u0000{}', 'null', '"x"', '1', '[]', '{"a":"\\ud800"}', '{"a":"\\u0000"}', '{"a":"\\x41"}')) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('padded' as const), pad: fc.constantFrom('\uFEFF', ' \n\t', '\u0000', '\u00a0') }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'form' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('huge' as const), size: fc.constantFrom(65_600, 1_100_000, 4_300_000) }) },
);
type Serialisation = typeof Serialisation extends fc.Arbitrary<infer T> ? T : never;

function serialise(value: unknown, s: Serialisation): string {
  const text = value === undefined ? '' : JSON.stringify(value);
  switch (s.kind) {
    case 'json':
      return text;
    case 'duplicate-key': {
      const first = value && typeof value === 'object' && !Array.isArray(value) ? Object.keys(value)[0] : undefined;
      return first === undefined ? text : `{${JSON.stringify(first)}:${JSON.stringify(s.value) ?? 'null'},${text.slice(1)}`;
    }
    case 'deep': {
      const close = s.open === '[' ? ']' : '}';
      const nested = `${s.open.repeat(s.depth)}1${close.repeat(s.depth)}`;
      return value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0
        ? `{${JSON.stringify(Object.keys(value)[0])}:${nested},${text.slice(1)}`
        : nested;
    }
    case 'truncated':
      return text.slice(0, text.length ? s.at % text.length : 0);
    case 'empty':
      return '';
    case 'garbage':
      return s.text;
    case 'padded':
      return `${s.pad}${text}${s.pad}`;
    case 'form':
      return value && typeof value === 'object' ? new URLSearchParams(Object.entries(value).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])).toString() : text;
    case 'huge':
      return value && typeof value === 'object' && !Array.isArray(value) ? `{"pad":"${'x'.repeat(s.size)}",${text.slice(1)}` : `"${'x'.repeat(s.size)}"`;
  }
}

function bodyArb(base: fc.Arbitrary<unknown>): fc.Arbitrary<string> {
  return fc.tuple(base, Mutation, Serialisation).map(([b, m, s]) => serialise(keepLoopback(mutate(b, m)), s));
}

// ---------------------------------------------------------------- headers and paths

const CONTENT_TYPES = fc.oneof(
  { weight: 24, arbitrary: fc.constant('application/json') },
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8',
      'application/json; charset=UTF-16',
      'application/json;charset=latin1',
      'application/json; charset=',
      'APPLICATION/JSON',
      'application/vnd.api+json',
      'application/merge-patch+json',
      'application/jsonx',
      'text/json',
      'text/plain',
      'text/plain; charset=utf-8',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=fuzz',
      'application/xml',
      'application/octet-stream',
      '*/*',
      '',
      ';;;',
      'application/json, text/plain',
      'application/json; boundary="\u00e9"',
    ),
  },
  { weight: 2, arbitrary: fc.constant('(none)') },
);

/** Header values within what HTTP allows on the wire (the client refuses CR, LF and NUL). */
const headerText = fc.oneof(
  fc.constantFrom('', ' ', 'x'.repeat(65), 'a b', 'caf\u00e9', 'id;drop', '../x', '%00', 'valid-correlation_01'),
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 80 }),
);

/** %-escapes every byte outside the unreserved set: any string becomes a path segment or query value. */
export function pctEncode(s: string): string {
  return Array.from(Buffer.from(s, 'utf8'))
    .map((b) => (/[A-Za-z0-9_.~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`))
    .join('');
}

const HOSTILE_SEGMENTS = [
  '..',
  '.',
  '%2e%2e',
  '%2E',
  '..%2F..%2Fadmin%2Fv1%2Fissuers',
  '%2F',
  '%00',
  '%ZZ',
  '%',
  '%C0%AE%C0%AE',
  '%E2%80%AE',
  '%F0%9F%98%80',
  '%ED%A0%80',
  '%EF%BB%BF',
  '',
  ';x=1',
  '%3B',
  '%3F',
  '%23',
  'a'.repeat(101),
  'a'.repeat(3000),
  '__proto__',
  'constructor',
  'prototype',
];

function segment(valid: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 12, arbitrary: valid.map(pctEncode) },
    { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_SEGMENTS) },
    { weight: 2, arbitrary: hostileString.map((s) => pctEncode(s.slice(0, 400))) },
  );
}

function validSegment(name: string, method: string): fc.Arbitrary<string> {
  switch (name) {
    case 'issuerId':
      return method === 'PUT'
        ? fc.stringMatching(/^[A-Za-z0-9_-]{10}$/).map((id) => (OWN_IDS.has(id) ? 'FUZZPUT001' : id))
        : fc.constantFrom(FUZZ_ISSUER, FUZZ_ISSUER, FUZZ_ISSUER, OTHER_ISSUER, 'NOSUCHISS1');
    case 'cardId':
      return fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...CARD_IDS) }, { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{1,48}$/) });
    case 'siteId':
      return method === 'PUT'
        ? fc.stringMatching(/^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,40}$/).map((id) => (OWN_IDS.has(id) ? 'fuzz-put-site' : id))
        : fc.constantFrom(FUZZ_SITE, FUZZ_SITE, FUZZ_SITE, OTHER_SITE, 'no-such-site');
    case 'provider':
      return fc.constantFrom('ups', 'fedex', 'dhl', 'aftership', 'usps', 'laposte', 'UPS', 'nosuch');
    default:
      return fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
  }
}

function queryArb(params: Param[], ctx: GenContext): fc.Arbitrary<string> {
  const query = params.filter((p) => p.in === 'query');
  if (query.length === 0) return fc.oneof({ weight: 6, arbitrary: fc.constant('') }, { weight: 1, arbitrary: hostileString.map((s) => `?${pctEncode(s.slice(0, 200))}=1`) });
  const one = (p: Param) =>
    fc.oneof(
      { weight: 4, arbitrary: fc.constant(undefined) },
      { weight: 4, arbitrary: fromSchema(p.schema, ctx, p.name).map((v) => [`${p.name}=${pctEncode(String(v))}`]) },
      { weight: 2, arbitrary: hostileValue.map((v) => [`${p.name}=${pctEncode(typeof v === 'string' ? v.slice(0, 500) : JSON.stringify(v) ?? '')}`]) },
      { weight: 1, arbitrary: fc.tuple(fromSchema(p.schema, ctx, p.name), hostileString).map(([a, b]) => [`${p.name}=${pctEncode(String(a))}`, `${p.name}=${pctEncode(b.slice(0, 100))}`]) },
      { weight: 1, arbitrary: fc.constantFrom([p.name], [`${p.name}=`], [`${p.name}[]=1`], [`${p.name}[a]=1`], [`${p.name}=%ZZ`]) },
    );
  return fc.tuple(fc.tuple(...query.map(one)), fc.option(fc.constantFrom('unknown=1', '__proto__[x]=1', 'constructor=1', '&&&', '='), { freq: 6 })).map(([parts, extra]) => {
    const all = parts.flatMap((p) => p ?? []);
    if (extra) all.push(extra);
    return all.length ? `?${all.join('&')}` : '';
  });
}

function authArb(route: RouteSpec): fc.Arbitrary<Auth | undefined> {
  switch (route.security) {
    case 'bearer':
      return fc.oneof({ weight: 12, arbitrary: fc.constant<BearerKind>('valid') }, { weight: 6, arbitrary: fc.constantFrom(...BEARER_KINDS) }).map((kind) => ({ scheme: 'bearer' as const, kind }));
    case 'adminBearer':
      return fc.oneof({ weight: 10, arbitrary: fc.constant<AdminKind>('valid') }, { weight: 4, arbitrary: fc.constantFrom(...ADMIN_KINDS) }).map((kind) => ({ scheme: 'admin' as const, kind }));
    case 'siteApiKey':
      return fc.oneof({ weight: 10, arbitrary: fc.constant<SiteKeyKind>('valid') }, { weight: 4, arbitrary: fc.constantFrom(...SITE_KEY_KINDS) }).map((kind) => ({ scheme: 'siteKey' as const, kind }));
    default:
      return fc.constant(undefined);
  }
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'];

function headersArb(withBody: boolean): fc.Arbitrary<{ headers: Record<string, string>; encoding: FuzzRequest['encoding'] }> {
  return fc
    .record({
      contentType: withBody ? CONTENT_TYPES : fc.oneof({ weight: 8, arbitrary: fc.constant('(none)') }, { weight: 1, arbitrary: CONTENT_TYPES }),
      correlation: fc.oneof({ weight: 8, arbitrary: fc.constant(undefined) }, { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/) }, { weight: 2, arbitrary: headerText }),
      extra: fc.option(fc.constantFrom<[string, string]>(['accept', '*/*'], ['accept', 'text/html'], ['accept-charset', 'utf-16'], ['content-encoding', 'gzip'], ['x-forwarded-for', '10.0.0.1'], ['cookie', '__proto__=1'], ['accept', 'application/json;q=0']), { freq: 4 }),
      encoding: fc.oneof({ weight: 12, arbitrary: fc.constant<FuzzRequest['encoding']>('utf8') }, { weight: 1, arbitrary: fc.constantFrom<FuzzRequest['encoding']>('utf16le', 'latin1') }),
    })
    .map(({ contentType, correlation, extra, encoding }) => {
      const headers: Record<string, string> = {};
      if (contentType !== '(none)') headers['content-type'] = contentType;
      if (correlation !== undefined) headers['x-correlation-id'] = correlation;
      if (extra) headers[extra[0]] = extra[1];
      return { headers, encoding };
    });
}

function fillPath(route: RouteSpec, method: string): fc.Arbitrary<string> {
  const names = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
  return fc.tuple(...names.map((n) => segment(validSegment(n, method)))).map((values) => {
    let i = 0;
    return route.path.replace(/\{\w+\}/g, () => values[i++]);
  });
}

// ---------------------------------------------------------------- per route

function validQuery(params: Param[], ctx: GenContext): fc.Arbitrary<string> {
  const query = params.filter((p) => p.in === 'query' && p.name !== 'cursor');
  if (query.length === 0) return fc.constant('');
  return fc
    .tuple(...query.map((p) => fc.option(fromSchema(p.schema, ctx, p.name).map((v) => `${p.name}=${pctEncode(String(v))}`), { freq: 2 })))
    .map((parts) => {
      const set = parts.filter((x): x is string => x !== null);
      return set.length ? `?${set.join('&')}` : '';
    });
}

/**
 * A request right in every part but its values (the path, the query, the credential and the body all as
 * the contract wants them): these reach the code behind authentication and validation.
 */
function cleanRequest(route: RouteSpec, ctx: GenContext): fc.Arbitrary<FuzzRequest> {
  const names = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
  const path = fc.tuple(...names.map((n) => validSegment(n, route.method).map(pctEncode))).map((values) => {
    let i = 0;
    return route.path.replace(/\{\w+\}/g, () => values[i++]);
  });
  const body = validBody(route, { ...ctx, strict: true });
  const auth: Auth | undefined =
    route.security === 'bearer' ? { scheme: 'bearer', kind: 'valid' } : route.security === 'adminBearer' ? { scheme: 'admin', kind: 'valid' } : route.security === 'siteApiKey' ? { scheme: 'siteKey', kind: 'valid' } : undefined;
  return fc.tuple(path, validQuery(route.params, { ...ctx, strict: true }), body ? body.map((b) => JSON.stringify(keepLoopback(b))) : fc.constant(undefined), fc.option(fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/), { freq: 3 })).map(([p, q, b, correlation]) => ({
    route: route.label,
    method: route.method,
    path: `${p}${q}`,
    headers: { ...(b !== undefined ? { 'content-type': 'application/json' } : {}), ...(correlation !== null ? { 'x-correlation-id': correlation } : {}) },
    auth,
    body: b,
    encoding: 'utf8' as const,
  }));
}

function schemaRoute(route: RouteSpec, ctx: GenContext): fc.Arbitrary<FuzzRequest> {
  return fc.oneof({ weight: 1, arbitrary: cleanRequest(route, ctx) }, { weight: 2, arbitrary: hostileRequest(route, ctx) });
}

function hostileRequest(route: RouteSpec, ctx: GenContext): fc.Arbitrary<FuzzRequest> {
  const method = fc.oneof({ weight: 24, arbitrary: fc.constant(route.method) }, { weight: 1, arbitrary: fc.constantFrom(...METHODS) });
  const valid = validBody(route, ctx);
  const body = valid ? bodyArb(valid) : fc.oneof({ weight: 8, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: bodyArb(hostileValue) });
  return fc.tuple(method, fc.tuple(fillPath(route, route.method), queryArb(route.params, ctx)), headersArb(route.body !== undefined), authArb(route), body).map(([m, [path, query], h, auth, b]) => ({
    route: route.label,
    method: m,
    path: `${path}${query}`,
    headers: h.headers,
    auth,
    body: m === 'GET' || m === 'HEAD' ? undefined : b,
    encoding: h.encoding,
  }));
}

function tokenRoute(route: RouteSpec): fc.Arbitrary<FuzzRequest> {
  const GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
  const grant = fc.oneof({ weight: 8, arbitrary: fc.constant(GRANT) }, { weight: 2, arbitrary: fc.constantFrom('client_credentials', 'password', `${GRANT} `, GRANT.toUpperCase(), '') }, { weight: 1, arbitrary: hostileString });
  const assertionKind = fc.oneof({ weight: 6, arbitrary: fc.constant<AssertionKind>('valid') }, { weight: 10, arbitrary: fc.constantFrom(...ASSERTION_KINDS) });
  const shape = fc.constantFrom('form', 'form', 'form', 'json', 'form-repeated-grant', 'form-repeated-assertion', 'form-missing-assertion', 'form-missing-grant', 'json-array', 'form-extra');
  return fc.tuple(grant, assertionKind, shape, headersArb(true), fc.option(Serialisation, { freq: 3 }), fc.option(hostileValue, { freq: 4 })).map(([g, kind, s, h, ser, extra]) => {
    const a = ASSERTION_MARK;
    const form = (pairs: [string, string][]) => pairs.map(([k, v]) => `${encodeURIComponent(k)}=${k === 'assertion' ? v : pctEncode(v)}`).join('&');
    let body: string;
    let contentType = 'application/x-www-form-urlencoded';
    switch (s) {
      case 'json':
        contentType = 'application/json';
        body = ser ? serialise({ grant_type: g, assertion: a, ...(extra !== null ? { extra } : {}) }, ser) : JSON.stringify({ grant_type: g, assertion: a });
        break;
      case 'json-array':
        contentType = 'application/json';
        body = JSON.stringify([{ grant_type: g, assertion: a }]);
        break;
      case 'form-repeated-grant':
        body = form([['grant_type', g], ['grant_type', g], ['assertion', a]]);
        break;
      case 'form-repeated-assertion':
        body = form([['grant_type', g], ['assertion', a], ['assertion', a]]);
        break;
      case 'form-missing-assertion':
        body = form([['grant_type', g]]);
        break;
      case 'form-missing-grant':
        body = form([['assertion', a]]);
        break;
      case 'form-extra':
        body = `${form([['grant_type', g], ['assertion', a]])}&${pctEncode(typeof extra === 'string' ? extra : '__proto__')}=${pctEncode(JSON.stringify(extra) ?? '')}&client_id=x`;
        break;
      default:
        body = form([['grant_type', g], ['assertion', a]]);
    }
    // Most requests keep the content type their body was written for; the others get a fuzzed one.
    const headers = { ...h.headers };
    if (!('content-type' in headers) || headers['content-type'] === 'application/json') headers['content-type'] = contentType;
    return { route: route.label, method: 'POST', path: route.path, headers, assertion: kind, body, encoding: h.encoding };
  });
}

function pushTemplates(): Record<string, unknown[]> {
  const dir = join(import.meta.dirname, '../../test/fixtures/carriers');
  const read = (f: string) => JSON.parse(readFileSync(join(dir, f), 'utf8'));
  const number = TRACKING_NUMBERS[0];
  return {
    ups: [read('push/ups-track-alert-out-for-delivery.json')],
    dhl: [read('push/dhl-unified-push-express.json')],
    aftership: [read('push/aftership-tracking-update.json')],
    fedex: [read('fedex/delivered-step2-in-transit.json'), { trackResults: [{ trackingNumberInfo: { trackingNumber: number }, scanEvents: [] }] }],
  };
}

function webhookRoute(route: RouteSpec): fc.Arbitrary<FuzzRequest> {
  const templates = pushTemplates();
  const provider = fc.oneof({ weight: 8, arbitrary: fc.constantFrom('ups', 'fedex', 'dhl', 'aftership') }, { weight: 1, arbitrary: fc.constantFrom('usps', 'laposte', 'UPS', 'nosuch') }, { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_SEGMENTS) });
  return fc
    .tuple(provider, fc.nat(), Mutation, Serialisation, fc.oneof({ weight: 6, arbitrary: fc.constant('valid') }, { weight: 1, arbitrary: fc.constantFrom('none', 'wrong') }), headersArb(true), fc.constantFrom(...TRACKING_NUMBERS))
    .map(([p, t, m, s, sig, h, number]) => {
      // Own keys only: the provider may be `__proto__` or `constructor`.
      const known = Object.hasOwn(SIGNATURE_HEADERS, p);
      const options = Object.hasOwn(templates, p) ? templates[p] : templates.ups;
      // Aim pushes at numbers the fuzzer tracks, so the parsers and the state machine run on them.
      const base = JSON.parse(JSON.stringify(options[t % options.length]).replaceAll(/"1Z[0-9A-Z]{16}"|"9405516902697649303570"|"1234567892"/g, JSON.stringify(number)));
      const headers = { ...h.headers };
      if (sig === 'wrong') headers[known ? SIGNATURE_HEADERS[p] : 'credential'] = 'wrong-signature';
      return { route: route.label, method: 'POST', path: `/carriers/v1/${p}/webhook`, headers, sign: sig === 'valid' && known ? p : undefined, body: serialise(mutate(base, m), s), encoding: h.encoding };
    });
}

export const SIGNATURE_HEADERS: Record<string, string> = { ups: 'credential', dhl: 'dhl-webhook-token', fedex: 'fdx-signature', aftership: 'aftership-hmac-sha256' };

/** Routes outside the OpenAPI document: unknown paths, the console, the docs, traversal attempts. */
function strayRoute(): fc.Arbitrary<FuzzRequest> {
  const target = fc.oneof(
    fc.constantFrom(
      '/',
      '/console',
      '/console/console.js',
      '/console/../../etc/passwd',
      '/docs',
      '/docs/json',
      '/docs/static/index.html',
      '/docs/static/../../../package.json',
      '/banking/v1',
      '/banking/v1/issuers/FUZZISSUER/physicalCards',
      '/banking/v1/issuers/FUZZISSUER/physicalCards/card/track/extra',
      '/admin/v1/../v1/issuers',
      '/admin/v1/issuers/',
      '//admin//v1//issuers',
      '/ADMIN/V1/ISSUERS',
      '/admin/v1/%2e%2e/issuers',
      '/healthz/',
      '/healthz?x=%ZZ',
      '/metrics?name[]=1',
      '/sites/v1/production-sites//events',
      `/${'a/'.repeat(2000)}`,
      `/${'%41'.repeat(5000)}`,
      '/%',
      '/?',
      '/#',
      '*',
    ),
    hostileString.map((s) => `/${pctEncode(s.slice(0, 300))}`),
  );
  return fc.tuple(target, fc.constantFrom(...METHODS), headersArb(false), fc.option(bodyArb(hostileValue), { freq: 3 })).map(([path, method, h, body]) => ({
    route: 'stray paths',
    method,
    path,
    headers: h.headers,
    body: method === 'GET' || method === 'HEAD' || body === null ? undefined : body,
    encoding: h.encoding,
  }));
}

/** One arbitrary over every route of the document (each about equally often) and the stray paths. */
export function requestArbitrary(ctx: GenContext): fc.Arbitrary<FuzzRequest> {
  const perRoute = ctx.routes.map((route) => {
    if (route.path === '/authz/v1/oauth2/token') return tokenRoute(route);
    if (route.path === '/carriers/v1/{provider}/webhook') return webhookRoute(route);
    return schemaRoute(route, ctx);
  });
  return fc.oneof(...perRoute, strayRoute());
}
