import { describe, expect, it } from 'vitest';
import { newId } from './ids.ts';

describe('newId', () => {
  it('is prefixed, 25 characters of the contract alphabet after the prefix, and unique across pool refills', () => {
    const ids = Array.from({ length: 2000 }, () => newId('op', 1_800_000_000_000));
    for (const id of ids) expect(id).toMatch(/^op_[0-9A-Za-z]{25}$/);
    expect(new Set(ids).size).toBe(ids.length);
    // The random part differs between ids drawn from successive 4 KiB pools too.
    expect(new Set(ids.map((id) => id.slice(12))).size).toBe(ids.length);
  });

  it('orders by time: a later millisecond sorts after an earlier one', () => {
    const a = newId('msg', 1_800_000_000_000);
    const b = newId('msg', 1_800_000_000_001);
    expect(a < b).toBe(true);
    expect(a.slice(0, 13)).not.toBe(b.slice(0, 13));
  });
});
