/**
 * Shared token and mutual TLS on the REST services (issue 13 item 4b: "for every server and
 * client"): the inference server behind BigModelService and the multi-edge servers refuse a
 * request without the token before any route runs; our clients send it from SERVICE_TOKEN /
 * SERVICE_TOKEN_FILE; a server that asks for client certificates refuses a client without one.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { OnnxEstimator } from '../../src/backend/onnx.js';
import { loadConfig } from '../../src/common/config.js';
import { SednaError } from '../../src/common/errors.js';
import { HttpRequestError } from '../../src/common/http-client.js';
import { clientCredentials } from '../../src/common/shared-token.js';
import { BigModelService } from '../../src/core/joint-inference/big-model-service.js';
import { JointInference } from '../../src/core/joint-inference/joint-inference.js';
import { pluginClient } from '../../src/core/multi-edge-inference/plugins.js';
import { ModelClient } from '../../src/service/client/model-client.js';
import { createServer } from '../../src/service/server/base.js';
import { InferenceServer } from '../../src/service/server/inference-server.js';
import { MultiEdgeServer } from '../../src/service/server/multi-edge-server.js';
import { CLOUD_ONNX, EDGE_ONNX, loadDigits } from '../helpers/backend-fixtures.js';
import { mutualTlsFiles } from '../helpers/tls.js';

const TOKEN = 's3cr3t-token-of-the-job';

/** A raw request, so that exactly the headers we give are sent. */
function request(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; text: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers ?? {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('a shared token on a REST server', () => {
  let server: InferenceServer;
  let calls = 0;

  beforeAll(async () => {
    server = await InferenceServer.create({
      host: '127.0.0.1',
      port: 0,
      token: TOKEN,
      model: {
        inference: (data) => {
          calls++;
          return [data.length];
        },
      },
    });
    await server.start();
  });
  afterAll(() => server.close());

  it('refuses a request without the token, or with another one, before the route runs', async () => {
    const body = JSON.stringify({ data: [1, 2] });
    const before = calls;
    const attempts: Record<string, string>[] = [
      { 'content-type': 'application/json' },
      { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}x` },
      { 'content-type': 'application/json', authorization: `Basic ${TOKEN}` },
      { 'content-type': 'application/json', authorization: 'Bearer' },
    ];
    for (const headers of attempts) {
      const answer = await request(`${server.endpoint}/predict`, { method: 'POST', headers, body });
      expect(answer.status).toBe(401);
      expect(answer.headers['www-authenticate']).toBe('Bearer');
      expect(JSON.parse(answer.text)).toMatchObject({ code: 'SEDNA_ERR_UNAUTHORIZED' });
      expect(answer.text).not.toContain(TOKEN);
    }
    // The route list is the server's too.
    expect((await request(server.endpoint)).status).toBe(401);
    expect(calls).toBe(before);
  });

  it('answers the health check without the token (probes carry none)', async () => {
    const answer = await request(`${server.url}/healthz`);
    expect(answer.status).toBe(200);
  });

  it('serves a client that sends the token', async () => {
    const client = new ModelClient({ host: '127.0.0.1', port: server.port, token: TOKEN });
    try {
      expect(await client.inference([1, 2, 3])).toEqual([3]);
    } finally {
      client.close();
    }
    const stranger = new ModelClient({ host: '127.0.0.1', port: server.port });
    try {
      const err = await rejection(stranger.inference([1]));
      expect(err).toBeInstanceOf(HttpRequestError);
      expect(err).toMatchObject({ code: 'SEDNA_ERR_HTTP_STATUS', details: { status: 401 } });
    } finally {
      stranger.close();
    }
  });

  it('refuses an empty token on either side', async () => {
    await expect(createServer({ name: 'empty', token: ' ' })).rejects.toMatchObject({
      code: 'SEDNA_ERR_INVALID_ARGUMENT',
    });
    expect(() => new ModelClient({ host: '127.0.0.1', port: 1, token: '' })).toThrow(SednaError);
    expect(() => clientCredentials({ cert: 'x' })).not.toThrow(); // checked where the agent is made
    expect(() => new ModelClient({ host: '127.0.0.1', port: 1, cert: 'x' })).toThrow(/cert and key/);
  });
});

describe('SERVICE_TOKEN between a JointInference edge and its BigModelService', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'svc-token-'));
  const tokenFile = path.join(dir, 'token');
  fs.writeFileSync(tokenFile, `${TOKEN}\n`); // as a mounted Secret often ends
  let cloud: BigModelService;

  beforeAll(async () => {
    cloud = await BigModelService.create({
      estimator: await OnnxEstimator.create(),
      modelUrl: CLOUD_ONNX,
      config: loadConfig({ SERVICE_TOKEN_FILE: tokenFile }),
      host: '127.0.0.1',
      port: 0,
    });
    await cloud.start();
  });
  afterAll(async () => {
    await cloud.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const edgeConfig = (extra: Record<string, string>) =>
    loadConfig({
      BIG_MODEL_IP: '127.0.0.1',
      BIG_MODEL_PORT: String(cloud.port),
      ...extra,
    });

  it('the edge with the token gets the cloud answer; without it, the edge answer and a coded cloud error', async () => {
    const sample = loadDigits('test').x[0]!;
    // Every sample is hard: every inference goes to the cloud.
    const everyHard = { name: 'every-sample', isHard: () => true };
    const withToken = await JointInference.create({
      estimator: await OnnxEstimator.create(),
      config: edgeConfig({ SERVICE_TOKEN: TOKEN }),
      modelUrl: EDGE_ONNX,
      hardExampleMining: everyHard,
      reporter: false,
    });
    const without = await JointInference.create({
      estimator: await OnnxEstimator.create(),
      config: edgeConfig({}),
      modelUrl: EDGE_ONNX,
      hardExampleMining: everyHard,
      reporter: false,
    });
    try {
      const good = await withToken.inference([sample]);
      expect(good.isHardExample).toBe(true);
      expect(good.cloudResult).toBeDefined();
      expect(good.cloudError).toBeUndefined();
      const refused = await without.inference([sample]);
      expect(refused.isHardExample).toBe(true);
      expect(refused.cloudResult).toBeUndefined();
      expect(refused.result).toBe(refused.edgeResult);
      expect(refused.cloudError).toMatchObject({ details: { status: 401 } });
    } finally {
      await withToken.close();
      await without.close();
    }
  });

  it('SERVICE_TOKEN and SERVICE_TOKEN_FILE together are a configuration error', async () => {
    await expect(
      BigModelService.create({
        estimator: await OnnxEstimator.create(),
        modelUrl: false,
        config: loadConfig({ SERVICE_TOKEN: TOKEN, SERVICE_TOKEN_FILE: tokenFile }),
        host: '127.0.0.1',
        port: 0,
      }),
    ).rejects.toMatchObject({ code: 'SEDNA_ERR_INVALID_CONFIG' });
  });
});

describe('SERVICE_TOKEN on the multi-edge servers and clients', () => {
  it('a plugin client from the configuration sends the token; a bare client is refused', async () => {
    const received: unknown[] = [];
    const server = await MultiEdgeServer.create({
      service: 'reid',
      host: '127.0.0.1',
      port: 0,
      token: TOKEN,
      handler: { put: (records) => void received.push(...records), stats: () => ({ seen: received.length }) },
    });
    await server.start();
    const config = loadConfig({ REID_MODEL_BIND_URL: '127.0.0.1', REID_MODEL_BIND_PORT: String(server.port) });
    const withToken = pluginClient({ ...config, serviceToken: TOKEN }, 'ReID_I');
    const bare = pluginClient(config, 'ReID_I', { maxAttempts: 1 });
    try {
      expect((await withToken.status()).status).toBe('OK');
      expect(await rejection(bare.status())).toMatchObject({ details: { status: 401 } });
    } finally {
      withToken.close();
      bare.close();
      await server.close();
    }
  });
});

describe('mutual TLS on a REST server', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'svc-mtls-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('serves a ModelClient with a certificate the CA signed and refuses one without', async () => {
    const files = mutualTlsFiles(dir);
    const server = await InferenceServer.create({
      host: '127.0.0.1',
      port: 0,
      tls: { keyPath: files.serverKeyPath, certPath: files.serverCertPath, caPath: files.caPath, requestCert: true },
      model: { inference: (data) => [data.length] },
    });
    await server.start();
    const ca = fs.readFileSync(files.caPath);
    const trusted = new ModelClient({
      host: '127.0.0.1',
      port: server.port,
      protocol: 'https',
      ca,
      cert: fs.readFileSync(files.clientCertPath),
      key: fs.readFileSync(files.clientKeyPath),
    });
    const anonymous = new ModelClient({ host: '127.0.0.1', port: server.port, protocol: 'https', ca });
    try {
      expect(await trusted.inference([1, 2])).toEqual([2]);
      const err = await rejection(anonymous.inference([1]));
      expect(err).toBeInstanceOf(SednaError);
      expect((err as SednaError).code).toMatch(/^SEDNA_ERR_/);
    } finally {
      trusted.close();
      anonymous.close();
      await server.close();
    }
  });
});
