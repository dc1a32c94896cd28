import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SednaError } from '../../src/common/errors.js';
import { createHttpClient, HttpRequestError } from '../../src/common/http-client.js';
import { createServer, toErrorReply, type SednaServer } from '../../src/service/server/base.js';
import { selfSignedCertificate } from '../helpers/tls.js';

async function post(
  url: string,
  body: string,
  contentType = 'application/json',
): Promise<{ status: number; json: unknown; text: string }> {
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': contentType } });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

describe('createServer', () => {
  let server: SednaServer;
  let url: string;

  beforeAll(async () => {
    server = await createServer({
      name: 'test',
      host: '127.0.0.1',
      port: 0,
      bodyLimitBytes: 1024,
      requestTimeoutMs: 300,
    });
    const { app } = server;
    app.post(
      '/echo',
      {
        schema: {
          body: { type: 'object', required: ['data'], properties: { data: { type: 'array' }, n: { type: 'integer' } } },
        },
      },
      (request) => ({ got: request.body }),
    );
    app.get('/boom', () => {
      throw new Error('secret internal detail at /srv/app.js:10');
    });
    app.get('/coded', () => {
      throw new SednaError('SEDNA_ERR_SHAPE_MISMATCH', 'input has 3 features, the model expects 64');
    });
    app.get('/never', () => new Promise(() => undefined));
    url = await server.listen();
  });

  afterAll(() => server.close());

  it('listens on the requested host and reports its URL', () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.port).toBeGreaterThan(0);
  });

  it('has a health route', async () => {
    const res = await fetch(`${url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', name: 'test' });
  });

  it('validates JSON bodies against the route schema without coercing types', async () => {
    expect(await post(`${url}/echo`, '{"data":[1,2],"n":3}')).toMatchObject({
      status: 200,
      json: { got: { data: [1, 2], n: 3 } },
    });
    const wrongType = await post(`${url}/echo`, '{"data":"not-a-list"}');
    expect(wrongType.status).toBe(400);
    expect(wrongType.json).toEqual({ code: 'SEDNA_ERR_BAD_REQUEST', message: 'body.data must be array' });
    const stringNumber = await post(`${url}/echo`, '{"data":[],"n":"3"}');
    expect(stringNumber.status).toBe(400);
    const missing = await post(`${url}/echo`, '{}');
    expect(missing).toMatchObject({ status: 400, json: { code: 'SEDNA_ERR_BAD_REQUEST' } });
    expect((missing.json as { message: string }).message).toContain("required property 'data'");
  });

  it('answers malformed JSON and empty bodies with 400', async () => {
    expect(await post(`${url}/echo`, '{bad json')).toMatchObject({
      status: 400,
      json: { code: 'SEDNA_ERR_BAD_REQUEST' },
    });
    expect(await post(`${url}/echo`, '')).toMatchObject({ status: 400, json: { code: 'SEDNA_ERR_BAD_REQUEST' } });
  });

  it('answers a body over the limit with 413', async () => {
    const big = JSON.stringify({ data: new Array(2000).fill(1) });
    expect(await post(`${url}/echo`, big)).toMatchObject({
      status: 413,
      json: { code: 'SEDNA_ERR_PAYLOAD_TOO_LARGE' },
    });
  });

  it('answers a non-JSON content type with 415', async () => {
    expect(await post(`${url}/echo`, 'data=1', 'application/x-www-form-urlencoded')).toMatchObject({
      status: 415,
      json: { code: 'SEDNA_ERR_UNSUPPORTED_MEDIA_TYPE' },
    });
  });

  it('answers unknown routes with a coded 404', async () => {
    const res = await fetch(`${url}/nope`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ code: 'SEDNA_ERR_NOT_FOUND', message: 'no route for GET /nope' });
  });

  it('hides internal errors behind a generic 500 without stack traces', async () => {
    const res = await fetch(`${url}/boom`);
    const text = await res.text();
    expect(res.status).toBe(500);
    expect(JSON.parse(text)).toEqual({ code: 'SEDNA_ERR_INTERNAL', message: 'internal server error' });
    expect(text).not.toContain('secret');
    expect(text).not.toContain('.js:');
  });

  it('sends coded SednaErrors with their status', async () => {
    const res = await fetch(`${url}/coded`);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      code: 'SEDNA_ERR_SHAPE_MISMATCH',
      message: 'input has 3 features, the model expects 64',
    });
  });

  it('bounds every request by the handler deadline (504)', async () => {
    const started = Date.now();
    const res = await fetch(`${url}/never`);
    expect(res.status).toBe(504);
    expect(await res.json()).toMatchObject({ code: 'SEDNA_ERR_TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('close() lets in-flight requests finish, then refuses new ones', async () => {
    const other = await createServer({ name: 'closing', host: '127.0.0.1', port: 0 });
    let release: (() => void) | undefined;
    const entered = new Promise<void>((resolveEntered) => {
      other.app.get('/slow', () => {
        resolveEntered();
        return new Promise((resolve) => {
          release = () => resolve({ finished: true });
        });
      });
    });
    const base = await other.listen();
    const inFlight = fetch(`${base}/slow`).then(async (r) => ({ status: r.status, body: await r.json() }));
    await entered;
    const closed = other.close();
    release?.();
    expect(await inFlight).toEqual({ status: 200, body: { finished: true } });
    await closed;
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });

  it('close() cuts connections that outlive the grace period', async () => {
    const other = await createServer({
      name: 'grace',
      host: '127.0.0.1',
      port: 0,
      closeGraceMs: 100,
      requestTimeoutMs: 0,
    });
    const entered = new Promise<void>((resolveEntered) => {
      other.app.get('/forever', () => {
        resolveEntered();
        return new Promise(() => undefined);
      });
    });
    const base = await other.listen();
    const inFlight = fetch(`${base}/forever`).then(
      () => 'answered',
      () => 'cut',
    );
    await entered;
    const started = Date.now();
    await other.close();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await inFlight).toBe('cut');
  });

  it('close() is idempotent', async () => {
    const other = await createServer({ name: 'twice', host: '127.0.0.1' });
    await other.listen();
    await Promise.all([other.close(), other.close()]);
  });
});

describe('createServer with TLS', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sedna-tls-'));
  let keyPath = '';
  let certPath = '';

  beforeAll(() => {
    ({ keyPath, certPath } = selfSignedCertificate(dir));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('serves https with the given key and certificate', async () => {
    const server = await createServer({ name: 'tls', host: '127.0.0.1', tls: { keyPath, certPath } });
    const url = await server.listen();
    expect(url).toMatch(/^https:\/\//);
    const trusting = createHttpClient({ ca: fs.readFileSync(certPath) });
    const untrusting = createHttpClient({ retry: { maxAttempts: 1 } });
    try {
      expect((await trusting.get(`${url}/healthz`)).data).toEqual({ status: 'ok', name: 'tls' });
      const err = await untrusting.get(`${url}/healthz`).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HttpRequestError);
      expect((err as HttpRequestError).code).toBe('SEDNA_ERR_NETWORK');
    } finally {
      trusting.close();
      untrusting.close();
      await server.close();
    }
  });

  it('reports an unreadable key file as a coded configuration error', async () => {
    await expect(
      createServer({ name: 'tls', tls: { keyPath: path.join(dir, 'missing.pem'), certPath } }),
    ).rejects.toMatchObject({
      code: 'SEDNA_ERR_INVALID_CONFIG',
    });
  });
});

describe('toErrorReply', () => {
  it('maps framework and unknown errors', () => {
    expect(
      toErrorReply(Object.assign(new Error('too big'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 })),
    ).toEqual({
      status: 413,
      body: { code: 'SEDNA_ERR_PAYLOAD_TOO_LARGE', message: 'too big' },
    });
    expect(toErrorReply(Object.assign(new Error('nope'), { statusCode: 418 })).status).toBe(418);
    expect(toErrorReply('weird')).toEqual({
      status: 500,
      body: { code: 'SEDNA_ERR_INTERNAL', message: 'internal server error' },
    });
  });
});
