import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { fieldPath, installErrorHandling } from './errors.ts';

/** What a store failure becomes: 503 with Retry-After when the store is away, never a 500 for that. */
describe('store errors', () => {
  async function answerTo(code: string, message = 'store error') {
    const app = Fastify({ logger: false });
    installErrorHandling(app);
    app.get('/x', async () => {
      throw Object.assign(new Error(message), { code });
    });
    const res = await app.inject({ method: 'GET', url: '/x' });
    await app.close();
    return res;
  }

  it.each([
    ['55000', 'database "hub" is not currently accepting connections'],
    ['57P01', 'terminating connection due to administrator command'],
    ['57P02', 'terminating connection due to crash of another server process'],
    ['3D000', 'database "hub" does not exist'],
    ['28P01', 'password authentication failed'],
    ['08004', 'the server rejected the connection'],
    ['53300', 'too many connections'],
  ])('%s (%s) is 503 SERVICE_UNAVAILABLE with Retry-After', async (code, message) => {
    const res = await answerTo(code, message);
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.json()).toMatchObject({ errorCode: 'SERVICE_UNAVAILABLE' });
  });

  it('a client that aborts its own request (ECONNRESET, status 400) is the client\'s doing, not a store outage', async () => {
    const app = Fastify({ logger: false });
    installErrorHandling(app);
    app.get('/x', async () => {
      throw Object.assign(new Error('aborted'), { code: 'ECONNRESET', statusCode: 400 });
    });
    const res = await app.inject({ method: 'GET', url: '/x' });
    await app.close();
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ errorCode: 'FIELD_INVALID_FORMAT', error: 'the request was aborted by the client' });
  });

  it.each([
    ['40P01', 'deadlock detected'],
    ['40001', 'could not serialize access due to concurrent update'],
  ])('%s (%s) rolled the request back: 503 with Retry-After, to send again', async (code, message) => {
    const res = await answerTo(code, message);
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.json()).toEqual({ errorCode: 'SERVICE_UNAVAILABLE', error: 'the request met a conflicting write and was rolled back; send it again' });
  });

  it('a value the store refuses (class 22) is the caller\'s: 400', async () => {
    const res = await answerTo('22P05', 'unsupported Unicode escape sequence');
    expect(res.statusCode).toBe(400);
  });

  it('anything else is 500 INTERNAL_ERROR with the contract body', async () => {
    const res = await answerTo('XX000', 'internal error');
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ errorCode: 'INTERNAL_ERROR', error: 'internal error' });
  });
});

/** Any other 4xx (raised by Fastify or a plugin) still answers in the contract's body. */
describe('other client errors', () => {
  it.each([
    [405, 405, 'METHOD_NOT_ALLOWED'],
    [404, 404, 'NOT_FOUND'],
    [413, 413, 'PAYLOAD_TOO_LARGE'],
    [418, 400, 'FIELD_INVALID_VALUE'],
    [406, 400, 'FIELD_INVALID_VALUE'],
  ])('a %s is answered %s with errorCode %s', async (raised, status, errorCode) => {
    const app = Fastify({ logger: false });
    installErrorHandling(app);
    app.get('/x', async () => {
      throw Object.assign(new Error('what went wrong'), { statusCode: raised });
    });
    const res = await app.inject({ method: 'GET', url: '/x' });
    await app.close();
    expect(res.statusCode).toBe(status);
    expect(res.json()).toEqual({ errorCode, error: 'what went wrong' });
  });
});

describe('fieldPath', () => {
  it("writes validation's JSON pointers as the hub's own checks name fields", () => {
    expect(fieldPath('')).toBe('');
    expect(fieldPath('/name')).toBe('name');
    expect(fieldPath('/jwks/keys/0/kid')).toBe('jwks.keys[0].kid');
    expect(fieldPath('/events/12')).toBe('events[12]');
    expect(fieldPath('/a~1b/c~0d')).toBe('a/b.c~d');
  });
});
