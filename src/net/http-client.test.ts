import { describe, expect, it } from 'vitest';
import { AnswerTooLarge, readCapped } from './http-client.ts';

describe('readCapped', () => {
  it('reads an answer up to its cap', async () => {
    async function* answer() {
      yield Buffer.from('{"access_');
      yield Buffer.from('token":"t"}');
    }
    expect(await readCapped(answer(), 64)).toBe('{"access_token":"t"}');
  });

  it('refuses an answer over its cap as soon as it gets there, reading no further', async () => {
    let chunksRead = 0;
    async function* endless() {
      for (;;) {
        chunksRead++;
        yield Buffer.alloc(16 * 1024, 120);
      }
    }
    await expect(readCapped(endless(), 64 * 1024)).rejects.toBeInstanceOf(AnswerTooLarge);
    expect(chunksRead).toBe(5);
  });
});
