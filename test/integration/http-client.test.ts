import { Readable } from 'node:stream';
import { backoffDelay, createHttpClient, HttpRequestError } from '../../src/common/http-client.js';
import { deadPort, scriptedServer as serve } from '../helpers/scripted-server.js';
import { rejectionOf } from '../helpers/errors.js';

const fastRetry = { baseDelayMs: 5, maxDelayMs: 20 };

describe('HttpClient', () => {
  it('GETs and POSTs JSON', async () => {
    const server = await serve((req, res, body) => {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({ method: req.method, url: req.url, body: body === '' ? null : (JSON.parse(body) as unknown) }),
      );
    });
    const client = createHttpClient({ baseUrl: server.url });
    try {
      const got = await client.get<{ method: string; url: string }>('/a/b', { query: { x: 1 } });
      expect(got.status).toBe(200);
      expect(got.data).toEqual({ method: 'GET', url: '/a/b?x=1', body: null });
      expect(got.attempts).toBe(1);
      const posted = await client.post('/p', { data: [1, 2] });
      expect(posted.data).toEqual({ method: 'POST', url: '/p', body: { data: [1, 2] } });
    } finally {
      client.close();
      await server.close();
    }
  });

  it('retries an idempotent GET on 503 and succeeds', async () => {
    let n = 0;
    const server = await serve((_req, res) => {
      n++;
      res.statusCode = n < 3 ? 503 : 200;
      res.end(JSON.stringify({ n }));
    });
    const client = createHttpClient({ retry: fastRetry });
    try {
      const got = await client.get<{ n: number }>(`${server.url}/x`);
      expect(got.data).toEqual({ n: 3 });
      expect(got.attempts).toBe(3);
      expect(server.hits()).toBe(3);
    } finally {
      client.close();
      await server.close();
    }
  });

  it('does not retry a POST unless the caller opts in', async () => {
    const server = await serve((_req, res) => {
      res.statusCode = 503;
      res.end('{"message":"busy"}');
    });
    const client = createHttpClient({ retry: fastRetry });
    try {
      const err = await rejectionOf(client.post(`${server.url}/x`, {}), HttpRequestError);
      expect(err.code).toBe('SEDNA_ERR_HTTP_STATUS');
      expect(err.status).toBe(503);
      expect(err.attempts).toBe(1);
      expect(server.hits()).toBe(1);
      const optedIn = await rejectionOf(client.post(`${server.url}/x`, {}, { retry: true }), HttpRequestError);
      expect(optedIn.attempts).toBe(3);
      expect(server.hits()).toBe(4);
    } finally {
      client.close();
      await server.close();
    }
  });

  it('does not retry client errors, and reports URL, method, status and the remote message', async () => {
    const server = await serve((_req, res) => {
      res.statusCode = 400;
      res.setHeader('content-type', 'application/json');
      res.end('{"Status":400,"Message":"worker name differs"}');
    });
    const client = createHttpClient({ retry: fastRetry });
    try {
      const err = await rejectionOf(client.get(`${server.url}/sedna/workers/a/info`), HttpRequestError);
      expect(err).toMatchObject({
        code: 'SEDNA_ERR_HTTP_STATUS',
        status: 400,
        method: 'GET',
        url: `${server.url}/sedna/workers/a/info`,
        attempts: 1,
        responseBody: { Status: 400, Message: 'worker name differs' },
      });
      expect(err.message).toContain('worker name differs');
      expect(server.hits()).toBe(1);
    } finally {
      client.close();
      await server.close();
    }
  });

  it('gives up on a server that accepts and never answers, within the deadline', async () => {
    const server = await serve(() => undefined); // never answers
    // The total deadline is far away, so that on a loaded machine (slow timers) it never clips the
    // last attempt: this test is about the per-attempt deadline and the retries; the next one
    // about the total cap.
    const client = createHttpClient({ timeoutMs: 150, totalTimeoutMs: 10_000, retry: fastRetry });
    try {
      const started = Date.now();
      const err = await rejectionOf(client.get(`${server.url}/hang`), HttpRequestError);
      const elapsed = Date.now() - started;
      expect(err.code).toBe('SEDNA_ERR_TIMEOUT');
      expect(err.message).toContain('150 ms');
      expect(err.attempts).toBe(3);
      expect(elapsed).toBeGreaterThanOrEqual(3 * 150 - 20);
      expect(elapsed).toBeLessThan(10_000);
    } finally {
      client.close();
      await server.close();
    }
  });

  it('caps the total time even when single attempts could go on', async () => {
    const server = await serve(() => undefined);
    const client = createHttpClient({ timeoutMs: 5_000, totalTimeoutMs: 300, retry: fastRetry });
    try {
      const started = Date.now();
      const err = await rejectionOf(client.get(`${server.url}/hang`), HttpRequestError);
      expect(err.code).toBe('SEDNA_ERR_TIMEOUT');
      // Far below the 5 s a single attempt could take; the slack is for a loaded machine's timers.
      expect(Date.now() - started).toBeLessThan(300 + 2_000);
    } finally {
      client.close();
      await server.close();
    }
  });

  it('bounds a slow-drip body by the attempt deadline, not only by socket idleness', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('[');
      const timer = setInterval(() => res.write('1,'), 20);
      res.on('close', () => clearInterval(timer));
    });
    const client = createHttpClient({ timeoutMs: 200, retry: { maxAttempts: 1 } });
    try {
      const err = await rejectionOf(client.get(`${server.url}/drip`), HttpRequestError);
      expect(err.code).toBe('SEDNA_ERR_TIMEOUT');
    } finally {
      client.close();
      await server.close();
    }
  });

  it('fails fast with SEDNA_ERR_NETWORK against a dead port, after its retries', async () => {
    const port = await deadPort();
    const client = createHttpClient({ retry: fastRetry });
    const err = await rejectionOf(client.get(`http://127.0.0.1:${port}/x`), HttpRequestError);
    expect(err.code).toBe('SEDNA_ERR_NETWORK');
    expect(err.message).toContain('ECONNREFUSED');
    expect(err.attempts).toBe(3);
    expect(err.details).toMatchObject({ url: `http://127.0.0.1:${port}/x`, method: 'GET' });
    client.close();
  });

  it('turns a malformed JSON answer into SEDNA_ERR_BAD_RESPONSE', async () => {
    const server = await serve((_req, res) => res.end('{"result": [1, 2'));
    const client = createHttpClient();
    try {
      const err = await rejectionOf(client.get(server.url), HttpRequestError);
      expect(err.code).toBe('SEDNA_ERR_BAD_RESPONSE');
      expect(err.responseBody).toBe('{"result": [1, 2');
    } finally {
      client.close();
      await server.close();
    }
  });

  it('refuses an answer over the size limit', async () => {
    const server = await serve((_req, res) => res.end(JSON.stringify('x'.repeat(10_000))));
    const client = createHttpClient({ maxResponseBytes: 1_000 });
    try {
      expect((await rejectionOf(client.get(server.url), HttpRequestError)).code).toBe('SEDNA_ERR_BAD_RESPONSE');
    } finally {
      client.close();
      await server.close();
    }
  });

  it('reads buffers and text, and accepts statuses the caller allows', async () => {
    const server = await serve((_req, res) => {
      res.statusCode = 404;
      res.end('plain');
    });
    const client = createHttpClient();
    try {
      const buffer = await client.get<Buffer>(server.url, { responseType: 'buffer', acceptStatus: () => true });
      expect(buffer.status).toBe(404);
      expect(buffer.data.toString()).toBe('plain');
      const text = await client.get<string>(server.url, { responseType: 'text', acceptStatus: (s) => s === 404 });
      expect(text.data).toBe('plain');
    } finally {
      client.close();
      await server.close();
    }
  });

  it('sends a streamed body once and does not follow a redirect with it (nothing kept to resend)', async () => {
    const server = await serve((req, res) => {
      if (req.url === '/moved') {
        res.statusCode = 307;
        res.setHeader('location', '/target');
        res.end();
      } else res.end(JSON.stringify({ at: req.url }));
    });
    const client = createHttpClient({ baseUrl: server.url });
    try {
      const chunks = [Buffer.from('model-'), Buffer.from('bytes')];
      const sent = await client.request<{ at: string }>({ method: 'POST', url: '/up', body: Readable.from(chunks) });
      expect(sent.data).toEqual({ at: '/up' });
      // A buffered body still follows redirects.
      const followed = await client.request<{ at: string }>({ method: 'POST', url: '/moved', body: 'small' });
      expect(followed.data).toEqual({ at: '/target' });
      const err = await rejectionOf(
        client.request({ method: 'POST', url: '/moved', body: Readable.from(chunks) }),
        HttpRequestError,
      );
      expect(err.status).toBe(307);
      // 307 keeps the method and body: the buffered one reached /target; the streamed one stopped at /moved.
      expect(server.bodies).toEqual(['model-bytes', 'small', 'small', 'model-bytes']);
    } finally {
      client.close();
      await server.close();
    }
  });

  it('stops when the caller aborts', async () => {
    const server = await serve(() => undefined);
    const client = createHttpClient({ timeoutMs: 5_000 });
    try {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 50);
      const err = await rejectionOf(client.get(server.url, { signal: controller.signal }), HttpRequestError);
      expect(err.code).toBe('SEDNA_ERR_TIMEOUT');
      expect(err.message).toContain('aborted by the caller');
      expect(err.attempts).toBe(1);
    } finally {
      client.close();
      await server.close();
    }
  });

  it('follows redirects by default, and not with maxRedirects: 0 (the redirect is the answer)', async () => {
    const server = await serve((req, res) => {
      if (req.url === '/old') {
        res.statusCode = 307;
        res.setHeader('location', '/new');
        res.end();
        return;
      }
      res.end(JSON.stringify({ url: req.url }));
    });
    const following = createHttpClient();
    const direct = createHttpClient({ maxRedirects: 0 });
    try {
      expect((await following.post(`${server.url}/old`, {})).data).toEqual({ url: '/new' });
      const err = await rejectionOf(direct.post(`${server.url}/old`, {}), HttpRequestError);
      expect([err.code, err.status]).toEqual(['SEDNA_ERR_HTTP_STATUS', 307]);
      expect(server.hits()).toBe(3);
    } finally {
      following.close();
      direct.close();
      await server.close();
    }
  });

  it('rejects bad options and relative URLs without a base', () => {
    expect(() => createHttpClient({ timeoutMs: 0 })).toThrow(
      expect.objectContaining({ code: 'SEDNA_ERR_INVALID_ARGUMENT' }) as Error,
    );
    expect(() => createHttpClient({ retry: { maxAttempts: 0 } })).toThrow('retry.maxAttempts');
    expect(() => createHttpClient().resolve('/x')).toThrow(
      expect.objectContaining({ code: 'SEDNA_ERR_INVALID_ARGUMENT' }) as Error,
    );
  });
});

describe('backoffDelay', () => {
  const policy = { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 1_000 };
  it('grows exponentially up to the cap, with full jitter', () => {
    expect(backoffDelay(0, policy, () => 0.999)).toBe(99);
    expect(backoffDelay(2, policy, () => 0.999)).toBe(399);
    expect(backoffDelay(10, policy, () => 0.999)).toBe(999);
    expect(backoffDelay(3, policy, () => 0)).toBe(0);
  });
});
