/**
 * InferenceServer and ModelClient on 127.0.0.1, checked against what the Python Sedna edge and
 * server exchange (../shared/spec/captures/ji-predict-exchanges.json).
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { HttpRequestError } from '../../src/common/http-client.js';
import { ModelClient } from '../../src/service/client/model-client.js';
import { InferenceServer, type InferenceContext } from '../../src/service/server/inference-server.js';
import { scriptedServer } from '../helpers/scripted-server.js';
import { SHARED } from '../helpers/shared.js';

interface Exchange {
  method: string;
  path: string;
  reqBody: string;
  status: number;
  resBody: string;
}
const capture = JSON.parse(fs.readFileSync(path.join(SHARED, 'captures/ji-predict-exchanges.json'), 'utf8')) as {
  edge_to_cloud: Exchange[];
  foreign_requests: Exchange[];
};

/** The Python capture's "big model": reports the batch length, element count and sum. */
function bigModel(data: unknown[]): unknown[] {
  const flat = data.flat(Infinity) as number[];
  const sum = Math.round(flat.reduce((a, b) => a + b, 0) * 1e9) / 1e9;
  return [{ model: 'big', len: data.length, count: flat.length, sum }];
}

/** A request through node:http, so no header is added behind our back (fetch adds content-type). */
function raw(
  url: string,
  method: string,
  body?: string,
  contentType: string | null = 'application/json',
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (contentType !== null) headers['content-type'] = contentType;
    const req = http.request(url, { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body === undefined || body === '' ? undefined : body);
  });
}

describe('InferenceServer', () => {
  let server: InferenceServer;
  const seen: InferenceContext[] = [];

  beforeAll(async () => {
    server = await InferenceServer.create({
      host: '127.0.0.1',
      port: 0,
      model: {
        inference: (data, context) => {
          seen.push(context);
          return bigModel(data);
        },
      },
    });
    await server.start();
  });
  afterAll(() => server.close());

  it("answers the Python edge's requests with the Python server's results", async () => {
    for (const exchange of capture.edge_to_cloud) {
      const res = await raw(`${server.url}${exchange.path}`, exchange.method, exchange.reqBody);
      expect(res.status).toBe(exchange.status);
      expect(JSON.parse(res.text)).toEqual(JSON.parse(exchange.resBody));
    }
  });

  it('answers foreign requests with the same status class as the Python server', async () => {
    for (const exchange of capture.foreign_requests) {
      if (exchange.method === 'GET' && exchange.path === '/sedna') continue; // route list checked below
      const res = await raw(`${server.url}${exchange.path}`, exchange.method, exchange.reqBody);
      const pythonClass = Math.floor(exchange.status / 100);
      expect([exchange.path, exchange.reqBody, Math.floor(res.status / 100)]).toEqual([
        exchange.path,
        exchange.reqBody,
        pythonClass,
      ]);
      if (res.status === 200) expect(JSON.parse(res.text)).toEqual(JSON.parse(exchange.resBody));
      else expect(JSON.parse(res.text)).toHaveProperty('code');
    }
  });

  it('lists its routes at GET /{servername}', async () => {
    const res = await raw(`${server.url}/sedna`, 'GET');
    expect(JSON.parse(res.text)).toEqual({
      infos: [
        { path: '/sedna', name: 'model_info' },
        { path: '/sedna/predict', name: 'predict' },
      ],
    });
  });

  it('passes the callback name to the model and ignores post_process', async () => {
    seen.length = 0;
    await raw(`${server.url}/sedna/predict`, 'POST', '{"data":[1],"callback":"to_boxes","post_process":"ignored"}');
    expect(seen[0]?.callback).toBe('to_boxes');
    await raw(`${server.url}/sedna/predict`, 'POST', '{"data":[1],"callback":null}');
    expect(seen[1]?.callback).toBeUndefined();
  });

  it.each([
    ['data not a list', '{"data":"not-a-list"}', 400, 'SEDNA_ERR_BAD_REQUEST'],
    ['data missing', '{}', 400, 'SEDNA_ERR_BAD_REQUEST'],
    ['callback not a string', '{"data":[],"callback":3}', 400, 'SEDNA_ERR_BAD_REQUEST'],
    ['malformed JSON', '{bad json', 400, 'SEDNA_ERR_BAD_REQUEST'],
    ['a JSON array body', '[1,2]', 400, 'SEDNA_ERR_BAD_REQUEST'],
  ])('rejects %s with a coded 4xx', async (_label, body, status, code) => {
    const res = await raw(`${server.url}/sedna/predict`, 'POST', body);
    expect(res.status).toBe(status);
    expect(JSON.parse(res.text)).toMatchObject({ code });
  });

  it('parses a body without content-type as JSON (as FastAPI does) and refuses other types', async () => {
    expect(await raw(`${server.url}/sedna/predict`, 'POST', '{"data":[2]}', null)).toMatchObject({ status: 200 });
    expect((await raw(`${server.url}/sedna/predict`, 'POST', '{"data":[2]}', 'text/plain')).status).toBe(415);
    const form = await raw(`${server.url}/sedna/predict`, 'POST', 'data=1', 'application/x-www-form-urlencoded');
    expect(form.status).toBe(415);
    expect(JSON.parse(form.text)).toMatchObject({ code: 'SEDNA_ERR_UNSUPPORTED_MEDIA_TYPE' });
  });

  it('answers unknown routes with 404', async () => {
    const res = await raw(`${server.url}/other/predict`, 'POST', '{"data":[]}');
    expect(res.status).toBe(404);
    expect(JSON.parse(res.text)).toMatchObject({ code: 'SEDNA_ERR_NOT_FOUND' });
  });
});

describe('InferenceServer limits', () => {
  it('answers a body over the limit with 413', async () => {
    const server = await InferenceServer.create({
      host: '127.0.0.1',
      bodyLimitBytes: 1_000,
      model: { inference: bigModel },
    });
    await server.start();
    try {
      const res = await raw(`${server.endpoint}/predict`, 'POST', JSON.stringify({ data: new Array(1_000).fill(0.5) }));
      expect(res.status).toBe(413);
      expect(JSON.parse(res.text)).toMatchObject({ code: 'SEDNA_ERR_PAYLOAD_TOO_LARGE' });
    } finally {
      await server.close();
    }
  });

  it('rejects requests beyond the concurrency limit and queue with 503', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered: () => void = () => undefined;
    const firstEntered = new Promise<void>((resolve) => (entered = resolve));
    const server = await InferenceServer.create({
      host: '127.0.0.1',
      maxConcurrency: 1,
      maxQueue: 0,
      model: {
        inference: async (data) => {
          entered();
          await gate;
          return data;
        },
      },
    });
    await server.start();
    try {
      const first = raw(`${server.endpoint}/predict`, 'POST', '{"data":[1]}');
      await firstEntered;
      const second = await raw(`${server.endpoint}/predict`, 'POST', '{"data":[2]}');
      expect(second.status).toBe(503);
      expect(JSON.parse(second.text)).toMatchObject({ code: 'SEDNA_ERR_OVERLOADED' });
      release();
      expect(await first).toEqual({ status: 200, text: '{"result":[1]}' });
      expect(server.stats).toMatchObject({ requests: 2, failures: 1, active: 0, waiting: 0 });
    } finally {
      release();
      await server.close();
    }
  });

  it('answers 504 when the model misses the request deadline, and aborts its signal', async () => {
    let aborted = false;
    const server = await InferenceServer.create({
      host: '127.0.0.1',
      requestTimeoutMs: 200,
      model: {
        inference: (_data, { signal }) =>
          new Promise((resolve) => {
            signal.addEventListener('abort', () => {
              aborted = true;
              resolve([]);
            });
          }),
      },
    });
    await server.start();
    try {
      const started = Date.now();
      const res = await raw(`${server.endpoint}/predict`, 'POST', '{"data":[1]}');
      expect(res.status).toBe(504);
      expect(JSON.parse(res.text)).toMatchObject({ code: 'SEDNA_ERR_TIMEOUT' });
      expect(Date.now() - started).toBeLessThan(1_500);
      expect(aborted).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('turns model failures into coded 500s without internals', async () => {
    const server = await InferenceServer.create({
      host: '127.0.0.1',
      model: {
        inference: (data) => {
          if ((data[0] as number) === 1) throw new Error('tensor mismatch in /secret/path');
          return { not: 'a list' };
        },
      },
    });
    await server.start();
    try {
      const thrown = await raw(`${server.endpoint}/predict`, 'POST', '{"data":[1]}');
      expect(thrown.status).toBe(500);
      expect(JSON.parse(thrown.text)).toMatchObject({ code: 'SEDNA_ERR_INFERENCE' });
      const notList = await raw(`${server.endpoint}/predict`, 'POST', '{"data":[2]}');
      expect(notList.status).toBe(500);
      expect(JSON.parse(notList.text)).toEqual({
        code: 'SEDNA_ERR_INFERENCE',
        message: 'the model returned object, but the predict result must be a list',
      });
    } finally {
      await server.close();
    }
  });

  it('refuses a servername that is not a path segment', async () => {
    await expect(InferenceServer.create({ servername: 'a/b', model: { inference: bigModel } })).rejects.toMatchObject({
      code: 'SEDNA_ERR_INVALID_ARGUMENT',
    });
  });
});

describe('ModelClient', () => {
  it("sends exactly the Python edge's body and returns the result list", async () => {
    const server = await scriptedServer((_req, res) => res.end('{"result":[{"model":"big"}]}'));
    const client = new ModelClient({ host: '127.0.0.1', port: server.port });
    try {
      expect(client.endpoint).toBe(`http://127.0.0.1:${server.port}/sedna`);
      expect(await client.inference([0.1, 0.2, 0.3, 0.4])).toEqual([{ model: 'big' }]);
      // Byte-identical to the capture's first edge → cloud request.
      expect(server.bodies[0]).toBe(JSON.stringify(JSON.parse(capture.edge_to_cloud[0]!.reqBody)));
      await client.inference([1], { callback: 'boxes' });
      expect(JSON.parse(server.bodies[1]!)).toEqual({ post_process: null, data: [1], callback: 'boxes' });
    } finally {
      client.close();
      await server.close();
    }
  });

  it('talks to our InferenceServer end to end', async () => {
    const server = await InferenceServer.create({
      host: '127.0.0.1',
      servername: 'helmet',
      model: { inference: bigModel },
    });
    await server.start();
    const client = new ModelClient({ serviceName: 'helmet', host: '127.0.0.1', port: server.port });
    try {
      expect(await client.checkServerStatus()).toEqual({
        infos: [
          { path: '/helmet', name: 'model_info' },
          { path: '/helmet/predict', name: 'predict' },
        ],
      });
      expect(
        await client.inference([
          [1, 2],
          [3, 4.5],
        ]),
      ).toEqual([{ model: 'big', len: 2, count: 4, sum: 10.5 }]);
    } finally {
      client.close();
      await server.close();
    }
  });

  it.each([
    ['an object without result', '{"answer":1}'],
    ['a result that is not a list', '{"result":"x"}'],
    ['a body that is not JSON', '<html>oops</html>'],
  ])('treats %s as SEDNA_ERR_BAD_RESPONSE', async (_label, body) => {
    const server = await scriptedServer((_req, res) => res.end(body));
    const client = new ModelClient({ host: '127.0.0.1', port: server.port });
    try {
      await expect(client.inference([1])).rejects.toMatchObject({ code: 'SEDNA_ERR_BAD_RESPONSE' });
    } finally {
      client.close();
      await server.close();
    }
  });

  it('gives up on a server that never answers within its deadline', async () => {
    const server = await scriptedServer(() => undefined);
    const client = new ModelClient({ host: '127.0.0.1', port: server.port, timeoutMs: 300 });
    try {
      const started = Date.now();
      const err = (await client.inference([1]).catch((e: unknown) => e)) as HttpRequestError;
      expect(err).toBeInstanceOf(HttpRequestError);
      expect(err.code).toBe('SEDNA_ERR_TIMEOUT');
      expect(err.url).toBe(`http://127.0.0.1:${server.port}/sedna/predict`);
      expect(Date.now() - started).toBeLessThan(300 + 400);
    } finally {
      client.close();
      await server.close();
    }
  });

  it('fails with SEDNA_ERR_NETWORK against a dead server, within its deadline', async () => {
    const server = await scriptedServer(() => undefined);
    const port = server.port;
    await server.close();
    const client = new ModelClient({ host: '127.0.0.1', port, timeoutMs: 500, maxAttempts: 3 });
    const started = Date.now();
    await expect(client.inference([1])).rejects.toMatchObject({ code: 'SEDNA_ERR_NETWORK', method: 'POST' });
    expect(Date.now() - started).toBeLessThan(500 + 400);
    client.close();
  });

  it('validates its options', () => {
    expect(() => new ModelClient({ host: '', port: 1 })).toThrow(
      expect.objectContaining({ code: 'SEDNA_ERR_INVALID_ARGUMENT' }) as Error,
    );
    expect(() => new ModelClient({ host: 'a', port: 70_000 })).toThrow('port');
  });
});
