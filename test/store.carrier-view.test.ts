import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CarrierFigureFlusher, notePush } from '../src/carriers/figures.ts';
import { reportUnknownCode, takeUnknownCodes } from '../src/carriers/unknown.ts';
import { createLogger } from '../src/logger.ts';
import { flushPushes, flushUnknownCodes, MAX_UNKNOWN_CODE_ROWS, type UnknownCodeDelta } from '../src/store/carrier-view.ts';
import { freshStore, STORE_KINDS, type TestStore } from './helpers/stores.ts';

const at = (s: number) => new Date(Date.UTC(2026, 4, 1, 12, 0, s));
const delta = (provider: string, code: string, count: number, first: number, last: number, label = code): UnknownCodeDelta => ({
  provider,
  code,
  count,
  firstSeenAt: at(first),
  firstExample: `first ${label}`,
  lastSeenAt: at(last),
  lastExample: `last ${label}`,
});

describe('unknown carrier codes gathered in memory', () => {
  it('counts each code with its first and last example, trimmed to 200 characters and escaped', () => {
    takeUnknownCodes();
    reportUnknownCode('fedex', 'ZZ', 'Held \u001b[31mat\u202e depot');
    reportUnknownCode('fedex', 'ZZ', 'x'.repeat(300));
    reportUnknownCode('ups', 'ZZ');
    const taken = takeUnknownCodes();
    const fedex = taken.find((d) => d.provider === 'fedex');
    expect(fedex).toMatchObject({ code: 'ZZ', count: 2, firstExample: 'Held \\u001b[31mat\\u202e depot', lastExample: 'x'.repeat(200) });
    expect(taken.find((d) => d.provider === 'ups')).toMatchObject({ code: 'ZZ', count: 1, firstExample: null, lastExample: null });
    // Taken means forgotten: the next flush starts from nothing.
    expect(takeUnknownCodes()).toEqual([]);
  });

  it('past 500 codes, later ones gather under "other", their code leading the example', () => {
    takeUnknownCodes();
    for (let i = 0; i < 510; i++) reportUnknownCode('dhl', `C${i}`, `text ${i}`);
    const taken = takeUnknownCodes();
    // The earlier test took two of the process's 500 names.
    expect(taken.filter((d) => d.code !== 'other')).toHaveLength(498);
    expect(taken.find((d) => d.code === 'other')).toMatchObject({ provider: 'dhl', count: 12, firstExample: 'C498: text 498', lastExample: 'C509: text 509' });
  });
});

describe.each(STORE_KINDS)('carrier view figures in the store on %s', (kind) => {
  let store: TestStore;
  beforeAll(async () => {
    store = await freshStore(kind);
  });
  afterAll(() => store.close());
  beforeEach(async () => {
    await store.db.deleteFrom('carrier_unknown_codes').execute();
    await store.db.deleteFrom('carrier_rate_limits').execute();
  });

  const codes = () => store.db.selectFrom('carrier_unknown_codes').selectAll().orderBy('provider').orderBy('code').execute();

  it('sums counts across flushes, keeps the first example and replaces the last', async () => {
    await flushUnknownCodes(store.db, [delta('fedex', 'ZZ', 2, 1, 2, 'one'), delta('ups', 'Q', 1, 1, 1)]);
    await flushUnknownCodes(store.db, [delta('fedex', 'ZZ', 3, 5, 9, 'two')]);
    const [fedex, ups] = await codes();
    expect(fedex).toMatchObject({ provider: 'fedex', code: 'ZZ', seen: 5, first_example: 'first one', last_example: 'last two' });
    expect(new Date(fedex.first_seen_at as unknown as string)).toEqual(at(1));
    expect(new Date(fedex.last_seen_at as unknown as string)).toEqual(at(9));
    expect(ups).toMatchObject({ code: 'Q', seen: 1 });
    // A late flush of older sightings (another process's) replaces neither example with an older one.
    await flushUnknownCodes(store.db, [delta('fedex', 'ZZ', 1, 3, 4, 'late')]);
    expect((await codes())[0]).toMatchObject({ seen: 6, first_example: 'first one', last_example: 'last two' });
  });

  it('holds at most 500 rows; codes past that count under their provider\'s "other"', async () => {
    const many = Array.from({ length: 520 }, (_, i) => delta('fedex', `F${String(i).padStart(3, '0')}`, 1, i % 60, i % 60));
    expect(await flushUnknownCodes(store.db, many)).toEqual({ dropped: 0 });
    let rows = await codes();
    expect(rows.length).toBeLessThanOrEqual(MAX_UNKNOWN_CODE_ROWS);
    const other = rows.find((r) => r.code === 'other');
    expect(other?.provider).toBe('fedex');
    // Nothing counted is lost: every sighting is in a named row or in "other".
    expect(rows.reduce((n, r) => n + Number(r.seen), 0)).toBe(520);
    expect(Number(other?.seen)).toBe(520 - (rows.length - 1));
    // A code the table already has keeps counting under its own name; a new one of another provider
    // goes to that provider's "other", which the reserve leaves room for.
    const named = rows.find((r) => r.code !== 'other')?.code as string;
    await flushUnknownCodes(store.db, [delta('fedex', named, 4, 59, 59), delta('ups', 'NEW', 2, 59, 59, 'new')]);
    rows = await codes();
    expect(rows.length).toBeLessThanOrEqual(MAX_UNKNOWN_CODE_ROWS);
    expect(rows.find((r) => r.provider === 'fedex' && r.code === named)?.seen).toBe(5);
    expect(rows.find((r) => r.provider === 'ups' && r.code === 'NEW')).toBeUndefined();
    expect(rows.find((r) => r.provider === 'ups' && r.code === 'other')).toMatchObject({ seen: 2, first_example: 'NEW: first new', last_example: 'NEW: last new' });
  });

  it('stays within the cap when processes flush new codes at the same time', async () => {
    const batch = (p: string) => Array.from({ length: 300 }, (_, i) => delta(p, `N${i}`, 1, 0, 0));
    await Promise.all([flushUnknownCodes(store.db, batch('fedex')), flushUnknownCodes(store.db, batch('dhl'))]);
    const rows = await codes();
    expect(rows.length).toBeLessThanOrEqual(MAX_UNKNOWN_CODE_ROWS);
    expect(rows.reduce((n, r) => n + Number(r.seen), 0)).toBe(600);
  });

  it('stores a code and text holding NUL and control characters, escaped (PostgreSQL text cannot hold a NUL)', async () => {
    takeUnknownCodes();
    reportUnknownCode('usps', 'A\u0000B', 'bad\u0000text\u0007');
    const taken = takeUnknownCodes();
    expect(await flushUnknownCodes(store.db, taken)).toEqual({ dropped: 0 });
    const [row] = await codes();
    // By now the process has named its 500 codes (the tests above), so this one is counted under "other".
    expect(row).toMatchObject({ provider: 'usps', code: 'other', seen: 1, first_example: 'A\\u0000B: bad\\u0000text\\u0007' });
  });

  it('adds pushes to the provider row, creating it when the provider was never polled', async () => {
    await flushPushes(store.db, [{ provider: 'ups', count: 3, lastAt: at(10) }], at(11));
    await flushPushes(store.db, [{ provider: 'ups', count: 2, lastAt: at(20) }, { provider: 'dhl', count: 1, lastAt: at(5) }], at(21));
    // An older tally flushed late (another instance's) adds its count but not its older time.
    await flushPushes(store.db, [{ provider: 'ups', count: 1, lastAt: at(15) }], at(22));
    const rows = await store.db.selectFrom('carrier_rate_limits').select(['provider', 'pushes_total', 'last_push_at', 'used']).orderBy('provider').execute();
    expect(rows.map((r) => [r.provider, Number(r.pushes_total), new Date(r.last_push_at as unknown as string).toISOString(), r.used])).toEqual([
      ['dhl', 1, at(5).toISOString(), 0],
      ['ups', 6, at(20).toISOString(), 0],
    ]);
  });

  it('the flusher writes what was gathered, and keeps it for the next try when the store fails', async () => {
    takeUnknownCodes();
    // A code the first test made the process name (its 500 names are taken by now).
    reportUnknownCode('ups', 'ZZ', 'seen before the outage');
    notePush('ups', at(30));
    notePush('nobody', at(30));
    const log = createLogger('silent');
    const broken = await freshStore(kind);
    await broken.close();
    await new CarrierFigureFlusher(broken.db, log, () => at(31)).flush();
    reportUnknownCode('ups', 'ZZ', 'seen after');
    await new CarrierFigureFlusher(store.db, log, () => at(32)).flush();
    const [row] = await codes();
    expect(row).toMatchObject({ provider: 'ups', code: 'ZZ', seen: 2, first_example: 'seen before the outage', last_example: 'seen after' });
    const pushes = await store.db.selectFrom('carrier_rate_limits').select(['provider', 'pushes_total']).execute();
    expect(pushes.map((r) => [r.provider, Number(r.pushes_total)])).toEqual([['ups', 1]]);
  });
});
