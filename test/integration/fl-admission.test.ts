/**
 * Who may take part in a federated round (issue 13 item 4), on 127.0.0.1 with raw WebSocket
 * peers: a hostile peer next to honest ones. Each attack is refused alone, with a coded error,
 * and the honest clients' round completes with the aggregate they alone make.
 */
import { AggregationServer, type AggregationServerOptions } from '../../src/service/server/aggregation-server.js';
import { CLOSE_CODES } from '../../src/service/aggregation-protocol.js';
import { RawClient } from '../helpers/raw-ws.js';

const servers: AggregationServer[] = [];
const peers: RawClient[] = [];

async function startServer(options: AggregationServerOptions = {}): Promise<AggregationServer> {
  const server = await AggregationServer.create({ host: '127.0.0.1', port: 0, exitGraceMs: 100, ...options });
  servers.push(server);
  await server.start();
  return server;
}

async function connect(server: AggregationServer): Promise<RawClient> {
  const peer = await RawClient.connect(server.wsUrl);
  peers.push(peer);
  return peer;
}

afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.kill()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** Sedna's JSON update_weight, as a Python client sends it. */
function jsonUpdate(client: string, numSamples: unknown, weights: unknown): Record<string, unknown> {
  return { type: 'update_weight', client, data: { num_samples: numSamples, weights }, job_name: 'j' };
}

const recvWeight = (f: { json: Record<string, unknown> }): boolean => f.json.type === 'recv_weight';
const errorFrame = (f: { json: Record<string, unknown> }): boolean => f.json.type === 'error';

describe('num_samples: an implausible count is refused alone (issue 13 item 4c)', () => {
  it('drops a client claiming more samples than the cap; the honest round averages without it', async () => {
    const server = await startServer({ participantsCount: 2, maxNumSamples: 1000 });
    expect(server.settings.maxNumSamples).toBe(1000);
    const a = await connect(server);
    const b = await connect(server);
    const evil = await connect(server);
    await a.subscribe('a');
    await b.subscribe('b');
    await evil.subscribe('evil');
    a.sendJson(jsonUpdate('a', 1, [[1, 1]]));
    evil.sendJson(jsonUpdate('evil', 2 ** 53 - 1, [[1000, 1000]]));
    const refused = await evil.waitFor(errorFrame);
    expect(refused.json.code).toBe('SEDNA_ERR_INVALID_UPDATE');
    expect(String(refused.json.message)).toMatch(/1000/);
    expect((await evil.closed).code).toBe(CLOSE_CODES.SEDNA_ERR_INVALID_UPDATE);
    // At the cap exactly is fine.
    b.sendJson(jsonUpdate('b', 1000, [[2, 2]]));
    const aggregate = await a.waitFor(recvWeight);
    expect(aggregate.json.data).toMatchObject({
      total_sample: 1001,
      weights: [[(1 + 2000) / 1001, (1 + 2000) / 1001]],
    });
  });

  it('has a documented default and reads AGG_MAX_NUM_SAMPLES', async () => {
    const { loadConfig } = await import('../../src/common/config.js');
    const { DEFAULT_MAX_NUM_SAMPLES } = await import('../../src/service/server/aggregation-settings.js');
    expect(DEFAULT_MAX_NUM_SAMPLES).toBe(10_000_000);
    expect(AggregationServer.optionsFromConfig(loadConfig({})).maxNumSamples).toBe(DEFAULT_MAX_NUM_SAMPLES);
    expect(AggregationServer.optionsFromConfig(loadConfig({ AGG_MAX_NUM_SAMPLES: '5000' })).maxNumSamples).toBe(5000);
    expect(() => loadConfig({ AGG_MAX_NUM_SAMPLES: '0' })).toThrow(/AGG_MAX_NUM_SAMPLES/);
  });
});

describe('before subscribe, and what goes out (issue 13 item 4d)', () => {
  const big = (bytes: number): string => JSON.stringify({ type: 'subscribe', client_id: 'x', pad: 'x'.repeat(bytes) });

  it('refuses more than maxBytesBeforeSubscribe before subscribe, in one frame or in fragments', async () => {
    const server = await startServer({ participantsCount: 1, maxBytesBeforeSubscribe: 4096 });
    expect(server.settings.maxBytesBeforeSubscribe).toBe(4096);
    const whole = await connect(server);
    whole.sendText(big(64 * 1024));
    expect((await whole.waitFor(errorFrame)).json.code).toBe('SEDNA_ERR_PAYLOAD_TOO_LARGE');
    expect((await whole.closed).code).toBe(CLOSE_CODES.SEDNA_ERR_PAYLOAD_TOO_LARGE);
    // Many small fragments of one message: each under any frame limit, together over the budget.
    const fragments = await connect(server);
    const chunk = Buffer.alloc(512, 0x20);
    for (let i = 0; i < 64; i++) fragments.socket.send(chunk, { binary: false, fin: false });
    expect((await fragments.waitFor(errorFrame)).json.code).toBe('SEDNA_ERR_PAYLOAD_TOO_LARGE');
    expect((await fragments.closed).code).toBe(CLOSE_CODES.SEDNA_ERR_PAYLOAD_TOO_LARGE);
    // Once subscribed, a client may send messages up to maxMessageBytes.
    const honest = await connect(server);
    await honest.subscribe('honest');
    const row = Array.from({ length: 4000 }, (_, i) => i / 7);
    honest.sendJson(jsonUpdate('honest', 3, [row]));
    const aggregate = await honest.waitFor(recvWeight);
    expect(aggregate.json.data).toMatchObject({ total_sample: 3 });
  });

  it('caps connections (maxConnections reaches the server factory)', async () => {
    const server = await startServer({ maxConnections: 2, headersTimeoutMs: 5_000, connectionTimeoutMs: 600_000 });
    await connect(server);
    await connect(server);
    await expect(RawClient.connect(server.wsUrl)).rejects.toThrow();
  });

  it("relays no client's frame to the others: no forged error frame, no echo of a peer's extra fields", async () => {
    const server = await startServer({ participantsCount: 2 });
    const a = await connect(server);
    const evil = await connect(server);
    await a.subscribe('a');
    evil.sendJson({ type: 'subscribe', client_id: 'evil', token: 'not-for-others', pad: 'x'.repeat(1000) });
    await evil.waitFor((f) => f.json.type === 'subscribe' && f.json.client_id === 'evil');
    evil.sendJson({ type: 'error', code: 'SEDNA_ERR_ROUND_STALLED', message: 'forged: give up' });
    evil.sendJson({ type: 'message', client: 'evil', data: 'x'.repeat(10_000) });
    evil.sendJson(jsonUpdate('evil', 1, [[4, 4]]));
    a.sendJson(jsonUpdate('a', 1, [[2, 2]]));
    const aggregate = await a.waitFor(recvWeight);
    expect(aggregate.json.data).toMatchObject({ weights: [[3, 3]] });
    // Everything `a` got up to the aggregate came from the server itself, in Sedna's shapes.
    const before = a.frames.slice(0, a.frames.indexOf(aggregate));
    expect(before.map((f) => f.json)).toEqual([
      { type: 'subscribe', client_id: 'a' },
      { type: 'CLIENT_JOIN', data: 'evil' },
      { type: 'subscribe', client_id: 'evil' },
    ]);
    expect(evil.ofType('error')).toEqual([]);
    expect(evil.ofType('message')).toEqual([]);
  });
});

describe('the tensor layout comes from the model or the last aggregate (issue 13 item 4a)', () => {
  it('refuses a mismatching first update of round 2 alone; the honest clients finish the round', async () => {
    const server = await startServer({ participantsCount: 2, exitRound: 2 });
    const errors: string[] = [];
    server.on('client-error', (e) => errors.push(`${e.client} ${e.code}`));
    const a = await connect(server);
    const b = await connect(server);
    await a.subscribe('a');
    await b.subscribe('b');
    a.sendJson(jsonUpdate('a', 1, [[1, 1], 1]));
    b.sendJson(jsonUpdate('b', 1, [[3, 3], 3]));
    await a.waitFor(recvWeight);
    // Round 2: a stranger's update of another shape arrives first.
    const evil = await connect(server);
    await evil.subscribe('evil');
    evil.sendJson(jsonUpdate('evil', 1, [[9, 9, 9], 9]));
    expect((await evil.waitFor(errorFrame)).json.code).toBe('SEDNA_ERR_WEIGHTS_MISMATCH');
    expect((await evil.closed).code).toBe(CLOSE_CODES.SEDNA_ERR_WEIGHTS_MISMATCH);
    const from = a.frames.length;
    a.sendJson(jsonUpdate('a', 1, [[2, 2], 2]));
    b.sendJson(jsonUpdate('b', 1, [[4, 4], 4]));
    const second = await a.waitFor(recvWeight, from);
    expect(second.json.data).toMatchObject({ round_number: 2, weights: [[3, 3], 3], exit_flag: 'ok' });
    expect(errors).toEqual(['evil SEDNA_ERR_WEIGHTS_MISMATCH']);
  });

  it("with the model's layout, round 1 is held to it too, dtypes of binary updates included", async () => {
    const server = await startServer({
      participantsCount: 2,
      layout: [
        { name: 'w', dtype: 'float32', shape: [2] },
        { name: 'b', dtype: 'float32', shape: [] },
      ],
    });
    const a = await connect(server);
    const b = await connect(server);
    const evil = await connect(server);
    const evil64 = await connect(server);
    await evil.subscribe('evil');
    await evil64.subscribe('evil64', { encoding: 'binary' });
    evil.sendJson(jsonUpdate('evil', 1, [[9, 9, 9], 9]));
    expect((await evil.waitFor(errorFrame)).json.code).toBe('SEDNA_ERR_WEIGHTS_MISMATCH');
    evil64.sendBinary({ type: 'update_weight', data: { num_samples: 1 }, job_name: 'j' }, [
      { name: 'w', dtype: 'float64', shape: [2], data: Float64Array.from([9, 9]) },
      { name: 'b', dtype: 'float64', shape: [], data: Float64Array.from([9]) },
    ]);
    expect((await evil64.waitFor(errorFrame)).json.code).toBe('SEDNA_ERR_WEIGHTS_MISMATCH');
    await a.subscribe('a', { encoding: 'binary' });
    await b.subscribe('b');
    a.sendBinary({ type: 'update_weight', data: { num_samples: 1 }, job_name: 'j', round_number: 1 }, [
      { name: 'w', dtype: 'float32', shape: [2], data: Float32Array.from([1, 2]) },
      { name: 'b', dtype: 'float32', shape: [], data: Float32Array.from([3]) },
    ]);
    b.sendJson(jsonUpdate('b', 1, [[3, 4], 5]));
    const aggregate = await b.waitFor(recvWeight);
    expect(aggregate.json.data).toMatchObject({ total_sample: 2, weights: [[2, 3], 4] });
  });

  it('leaves layouts to an algorithm whose updates legitimately differ (variableLayout)', async () => {
    const { FedAvg } = await import('../../src/algorithms/aggregation/fedavg.js');
    const seen: number[][] = [];
    const variable = {
      name: 'Variable',
      variableLayout: true,
      configure: () => undefined,
      async aggregate(_round: number, updates: AsyncIterable<{ weights: readonly { shape: readonly number[] }[] }>) {
        for await (const u of updates) seen.push([...u.weights[0]!.shape]);
        return new FedAvg().aggregate(
          1,
          (await import('../../src/algorithms/aggregation/base.js')).UpdateQueue.of([
            {
              client: 'x',
              numSamples: 1,
              encoding: 'json',
              weights: [{ name: 'w', dtype: 'float64', shape: [1], data: Float64Array.from([seen.length]) }],
            },
          ]),
        );
      },
    };
    const server = await startServer({ participantsCount: 2, aggregation: variable as never });
    const a = await connect(server);
    const b = await connect(server);
    await a.subscribe('a');
    await b.subscribe('b');
    a.sendJson(jsonUpdate('a', 1, [[1, 1, 1]]));
    b.sendJson(jsonUpdate('b', 1, [[1]]));
    await a.waitFor(recvWeight);
    expect(seen).toEqual([[3], [1]]);
  });
});

describe('a shared token and session secrets (issue 13 item 4b)', () => {
  it('refuses a subscribe without the token (4010) and the client list to a caller without it', async () => {
    const server = await startServer({ participantsCount: 1, token: 's3cret' });
    const stranger = await connect(server);
    stranger.sendJson({ type: 'subscribe', client_id: 'a' });
    expect((await stranger.waitFor(errorFrame)).json.code).toBe('SEDNA_ERR_UNAUTHORIZED');
    expect((await stranger.closed).code).toBe(CLOSE_CODES.SEDNA_ERR_UNAUTHORIZED);
    const guesser = await connect(server);
    guesser.sendJson({ type: 'subscribe', client_id: 'a', token: 's3cre' });
    expect((await guesser.waitFor(errorFrame)).json.code).toBe('SEDNA_ERR_UNAUTHORIZED');

    const { AggregationClient } = await import('../../src/service/client/aggregation-client.js');
    const client = await AggregationClient.create({ url: server.wsUrl, clientId: 'a', token: 's3cret' });
    try {
      const anonymous = await fetch(`${server.url}/FedAvg`);
      expect(anonymous.status).toBe(401);
      expect(await anonymous.json()).toMatchObject({ code: 'SEDNA_ERR_UNAUTHORIZED' });
      const wrong = await fetch(`${server.url}/FedAvg?client_id=a`, { headers: { authorization: 'Bearer nope' } });
      expect(wrong.status).toBe(401);
      const listed = await fetch(`${server.url}/FedAvg`, { headers: { authorization: 'Bearer s3cret' } });
      expect(await listed.json()).toEqual({ clients: ['a'] });
      await client.sendUpdate([{ name: 'w', dtype: 'float32', shape: [1], data: Float32Array.from([2]) }], 1);
      expect((await client.nextAggregate()).exitFlag).toBe('ok');
    } finally {
      await client.close();
    }
  });

  it('gives a kept place back only to the client holding its session secret', async () => {
    const server = await startServer({ participantsCount: 2 });
    const b = await connect(server);
    await b.subscribe('b');
    const first = await connect(server);
    const secret = 'chosen-by-the-client';
    await first.subscribe('a', { encoding: 'binary', session_secret: secret });
    expect(b.frames.map((f) => JSON.stringify(f.json)).join()).not.toContain(secret);
    first.sendBinary({ type: 'update_weight', data: { num_samples: 1 }, job_name: 'j', round_number: 1 }, [
      { name: 'w', dtype: 'float32', shape: [1], data: Float32Array.from([2]) },
    ]);
    await new Promise<void>((resolve) => server.once('update', () => resolve()));
    await first.kill();
    await new Promise<void>((resolve) => server.once('client-leave', () => resolve()));
    // Someone else claims the id during the reconnect grace: refused, the place stays.
    const thief = await connect(server);
    const refused = await thief.subscribe('a', { encoding: 'binary', session_secret: 'guess' });
    expect(refused.json.code).toBe('SEDNA_ERR_DUPLICATE_CLIENT');
    const bare = await connect(server);
    expect((await bare.subscribe('a')).json.code).toBe('SEDNA_ERR_DUPLICATE_CLIENT');
    // The owner comes back with its secret: its update of round 1 is still in.
    const back = await connect(server);
    const rejoined = await back.subscribe('a', { encoding: 'binary', session_secret: secret });
    expect(rejoined.json.server).toMatchObject({ update_received: true, round_number: 1 });
    b.sendJson(jsonUpdate('b', 1, [[4]]));
    const aggregate = await b.waitFor(recvWeight);
    expect(aggregate.json.data).toMatchObject({ weights: [[3]] });
  });

  it('reads the token from AGG_TOKEN or a mounted AGG_TOKEN_FILE, never both', async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const { loadConfig } = await import('../../src/common/config.js');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agg-token-'));
    const file = path.join(dir, 'token');
    fs.writeFileSync(file, 'from-file\n');
    try {
      expect(AggregationServer.optionsFromConfig(loadConfig({})).token).toBeUndefined();
      expect(AggregationServer.optionsFromConfig(loadConfig({ AGG_TOKEN: 'from-env' })).token).toBe('from-env');
      expect(AggregationServer.optionsFromConfig(loadConfig({ AGG_TOKEN_FILE: file })).token).toBe('from-file');
      expect(() => AggregationServer.optionsFromConfig(loadConfig({ AGG_TOKEN: 'x', AGG_TOKEN_FILE: file }))).toThrow(
        /AGG_TOKEN or AGG_TOKEN_FILE, not both/,
      );
      expect(() => AggregationServer.optionsFromConfig(loadConfig({ AGG_TOKEN_FILE: `${file}.missing` }))).toThrow(
        /AGG_TOKEN_FILE/,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('mutual TLS (issue 13 item 4b)', () => {
  it('accepts a client whose certificate the CA signed, refuses one without', async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const { mutualTlsFiles } = await import('../helpers/tls.js');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agg-mtls-'));
    try {
      const files = mutualTlsFiles(dir);
      const server = await startServer({
        participantsCount: 1,
        tls: { keyPath: files.serverKeyPath, certPath: files.serverCertPath, caPath: files.caPath, requestCert: true },
      });
      expect(server.wsUrl).toMatch(/^wss:/);
      const ca = fs.readFileSync(files.caPath);
      await expect(RawClient.connect(server.wsUrl, { ca })).rejects.toThrow();
      const { AggregationClient } = await import('../../src/service/client/aggregation-client.js');
      const client = await AggregationClient.create({
        url: server.wsUrl,
        clientId: 'trainer',
        tls: { ca, cert: fs.readFileSync(files.clientCertPath), key: fs.readFileSync(files.clientKeyPath) },
      });
      try {
        await client.sendUpdate([{ name: 'w', dtype: 'float32', shape: [1], data: Float32Array.from([5]) }], 1);
        expect(Array.from((await client.nextAggregate()).weights[0]!.data as Float32Array)).toEqual([5]);
      } finally {
        await client.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
