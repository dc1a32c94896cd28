/**
 * One error shape (issue 13, item 6): every error answer of every server is `{code, message}`,
 * fastify's own answers included (HTTP parse errors, 431, undecodable URLs), with the status that
 * says whose fault it is. Requests go through raw sockets, so nothing is fixed on the way.
 */
import net from 'node:net';
import { ClassFactory, ClassType } from '../../src/common/class-factory.js';
import { loadConfig } from '../../src/common/config.js';
import { OnnxEstimator } from '../../src/backend/onnx.js';
import { BigModelService } from '../../src/core/joint-inference/big-model-service.js';
import { createServer, type SednaServer } from '../../src/service/server/base.js';
import { AggregationServer } from '../../src/service/server/aggregation-server.js';
import { CLOUD_ONNX } from '../helpers/backend-fixtures.js';

/** Sends `request` as is and returns the status and the parsed body of the answer. */
function exchange(port: number, request: string | Buffer): Promise<{ status: number; body: unknown; raw: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end(request));
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      const bodyText = text.slice(text.indexOf('\r\n\r\n') + 4);
      let body: unknown;
      try {
        body = JSON.parse(bodyText);
      } catch {
        body = bodyText;
      }
      resolve({ status, body, raw: text });
    });
  });
}

const coded = (code: string): unknown =>
  expect.objectContaining({ code, message: expect.any(String) as unknown }) as unknown;

describe('every error answer is {code, message}', () => {
  let server: SednaServer;
  beforeAll(async () => {
    server = await createServer({ name: 'shape', host: '127.0.0.1' });
    server.app.get('/sedna/:id', (request) => request.params);
    await server.listen();
  });
  afterAll(async () => {
    await server.close();
  });

  test.each([
    ['a request line that is not HTTP', 'GARBAGE\r\n\r\n', 400],
    ['a header without a colon', 'GET /sedna/x HTTP/1.1\r\nHost: x\r\nbroken header\r\n\r\n', 400],
    ['an invalid content-length', 'POST /sedna/x HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n', 400],
    [
      'headers over the size limit (431)',
      `GET /sedna/x HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      431,
    ],
    ['a URL over the size limit (431)', `GET /sedna/${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 431],
    ['an undecodable URL (FST_ERR_BAD_URL)', 'GET /sedna/%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 400],
  ])('%s', async (_name, request, status) => {
    const answer = await exchange(server.port, request);
    expect(answer.status).toBe(status);
    expect(answer.body).toEqual(coded('SEDNA_ERR_BAD_REQUEST'));
    expect(Object.keys(answer.body as object).sort()).toEqual(['code', 'message']);
  });

  test('good requests on the same server still succeed', async () => {
    const answer = await exchange(server.port, 'GET /sedna/ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(answer).toMatchObject({ status: 200, body: { id: 'ok' } });
  });
});

describe('BigModelService: bad requests are the client error', () => {
  test('an unknown callback is a 400 that lists nothing; rows that are not numbers are a 400', async () => {
    ClassFactory.registerCls((x: unknown) => x, ClassType.CALLBACK, 'secret_internal_callback');
    const service = await BigModelService.create({
      estimator: await OnnxEstimator.create(),
      modelUrl: CLOUD_ONNX,
      config: loadConfig({}),
      host: '127.0.0.1',
      port: 0,
    });
    await service.start();
    try {
      const body = JSON.stringify({ data: [new Array(64).fill(0)], callback: 'no_such_callback' });
      const answer = await exchange(
        service.port,
        `POST /sedna/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      );
      expect(answer.status).toBe(400);
      expect(answer.body).toEqual(coded('SEDNA_ERR_BAD_REQUEST'));
      expect(answer.raw).not.toContain('secret_internal_callback');
      // Found by the robustness fuzzer: a null row was a 500 (TypeError), a string cell a silent NaN.
      for (const data of [
        [new Array(64).fill(0), null],
        [new Array(63).fill(0).concat(['x'])],
        [new Array(63).fill(0).concat([null])],
      ]) {
        const bad = JSON.stringify({ data });
        const refused = await exchange(
          service.port,
          `POST /sedna/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${bad.length}\r\nConnection: close\r\n\r\n${bad}`,
        );
        expect(refused.status).toBe(400);
        expect(refused.body).toEqual(coded('SEDNA_ERR_SHAPE_MISMATCH'));
      }
    } finally {
      await service.close();
    }
  });
});

test('AggregationServer: a WebSocket upgrade to another path is a coded 404', async () => {
  const server = await AggregationServer.create({ host: '127.0.0.1', port: 0 });
  await server.start();
  try {
    const answer = await exchange(
      server.port,
      'GET /Nope HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    expect(answer.status).toBe(404);
    expect(answer.body).toEqual(coded('SEDNA_ERR_NOT_FOUND'));
  } finally {
    await server.close();
  }
});
