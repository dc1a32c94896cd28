/**
 * The FederatedLearning job end to end on 127.0.0.1: real AggregationServer, real WebSocket
 * clients, a real model (softmax regression on the digits data), the LC emulator. Covers a full
 * multi-round job with three trainers (one speaking Sedna's JSON), reports, reconnecting through a
 * cut connection, a trainer killed mid-round, a trainer started before its aggregator, and a
 * malformed aggregate.
 */
import { spawn } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { WebSocketServer } from 'ws';
import { FederatedLearning } from '../../src/core/federated-learning/index.js';
import { AggregationServer } from '../../src/service/server/aggregation-server.js';
import { LCEmulator } from '../../src/testing/lc-emulator.js';
import type { WeightRecord } from '../../src/backend/weights.js';
import { SoftmaxEstimator, loadDigits, skewedShards } from '../helpers/softmax-estimator.js';
import { startAggregator, trainerConfig } from '../helpers/fl.js';
import { ROOT } from '../helpers/paths.js';
import { TcpRelay } from '../helpers/tcp-relay.js';

const digits = loadDigits();
const shards = skewedShards(digits.train, 3);
const TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

let lc: LCEmulator;
let tmp: string;
beforeAll(async () => {
  lc = await LCEmulator.start({ host: '127.0.0.1' });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-job-'));
});
afterAll(async () => {
  await lc.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});
beforeEach(() => lc.clear());

const config = (port: number, name: string, extra: Record<string, string> = {}) =>
  trainerConfig(
    port,
    name,
    { jobName: 'fl-job', lcServer: lc.url },
    { DATA_PATH_PREFIX: tmp, MODEL_URL: path.join(tmp, 'model', name), ...extra },
  );
const startServer = startAggregator;

const estimator = (seed: number, blockMs = 0) => new SoftmaxEstimator({ features: 64, classes: 10, seed, blockMs });

/** Σ n_k W_k / Σ n_k in float64, rounded once to float32: what every trainer must have received. */
function weightedMean(updates: readonly { weights: readonly WeightRecord[]; n: number }[]): Float32Array[] {
  const total = updates.reduce((s, u) => s + u.n, 0);
  return updates[0]!.weights.map((_, t) =>
    Float32Array.from({ length: updates[0]!.weights[t]!.data.length }, (_v, i) => {
      let sum = 0;
      for (const u of updates) sum += (u.weights[t]!.data[i] as number) * u.n;
      return sum / total;
    }),
  );
}

const same = (a: Float32Array, b: Float32Array): boolean =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe('FederatedLearning: three trainers, four rounds', () => {
  it('converges; every aggregate equals the independent weighted mean; reports as Sedna’s trainers (ownerKind fixed)', async () => {
    const server = await startServer({ participantsCount: 3, exitRound: 4 });
    const models = [estimator(1), estimator(2), estimator(3)];
    const jobs = await Promise.all(
      models.map((m, k) =>
        FederatedLearning.create({
          estimator: m,
          config: config(server.port, `trainer-${k}`),
          // One trainer speaks Sedna's JSON, the others the binary mode: mixed rounds.
          ...(k === 2 ? { client: { encoding: 'json' as const } } : {}),
          ownsEstimator: false,
        }),
      ),
    );
    const results = await Promise.all(jobs.map((job, k) => job.train(shards[k]!, undefined, { epochs: 2 })));
    await server.done;

    // Each round's aggregate is the sample-weighted mean of what the trainers sent.
    for (let round = 0; round < 4; round++) {
      const want = weightedMean(models.map((m, k) => ({ weights: m.sent[round]!, n: shards[k]!.x.length })));
      for (const m of models) {
        const got = m.received[round]!;
        expect(got.map((w) => w.dtype)).toEqual(['float32', 'float32']);
        want.forEach((w, t) => expect(same(got[t]!.data as Float32Array, w)).toBe(true));
      }
    }
    // Converges: the federated model beats every local-only model trained as long on its shard.
    const federated = (await models[0]!.evaluate(digits.test)).accuracy as number;
    for (const [k, shard] of shards.entries()) {
      const local = estimator(k + 1);
      for (let round = 0; round < 4; round++) await local.train(shard, undefined, { epochs: 2 });
      expect(federated).toBeGreaterThan((await local.evaluate(digits.test)).accuracy as number);
    }
    expect(federated).toBeGreaterThan(0.85);

    for (const [k, result] of results.entries()) {
      expect(result.rounds.map((r) => [r.round, r.exitFlag])).toEqual([
        [1, 'continue'],
        [2, 'continue'],
        [3, 'continue'],
        [4, 'ok'],
      ]);
      expect(result.modelUrl).toBe(path.join(tmp, 'model', `trainer-${k}`));
      // The saved model is the last aggregate.
      const saved = JSON.parse(fs.readFileSync(path.join(result.modelUrl!, 'model.json'), 'utf8')) as { w: number[] };
      expect(Float32Array.from(saved.w)).toEqual(models[k]!.received[3]![0]!.data);
    }

    const reports = lc.accepted();
    expect(reports).toHaveLength(12);
    for (let k = 0; k < 3; k++) {
      const mine = reports.filter((r) => r.name === `trainer-${k}`);
      expect(mine.map((r) => r.status)).toEqual(['running', 'running', 'running', 'completed']);
      mine.forEach((r, i) => {
        expect(Object.keys(r)).toEqual([
          'name',
          'namespace',
          'ownerName',
          'ownerKind',
          'kind',
          'status',
          'results',
          'ownerInfo',
        ]);
        expect(r).toMatchObject({
          namespace: 'default',
          ownerName: 'fl-job',
          ownerKind: 'federatedlearningjob',
          kind: 'train',
        });
        const [entry] = r.results as { format: string; url: string; metrics: Record<string, number[]> }[];
        expect(entry!.format).toBe('json');
        expect(entry!.url).toBe(`/model/trainer-${k}/model.json`); // DATA_PATH_PREFIX removed
        expect(Object.keys(entry!.metrics)).toEqual(['loss', 'accuracy', 'num_samples']);
        expect(entry!.metrics.num_samples).toEqual([shards[k]!.x.length]);
        expect(entry!.metrics.loss).toHaveLength(1);
        const info = r.ownerInfo as Record<string, unknown>;
        expect(info).toMatchObject({ currentRound: i + 1, sampleCount: digits.train.x.length });
        expect(info.startTime).toMatch(TIME);
        expect(info.updateTime).toMatch(TIME);
      });
    }
    // The real LC would forward these (it drops Python's ownerKind "default").
    expect(lc.forwarded).toHaveLength(12);
    await Promise.all(jobs.map((j) => j.close()));
  });
});

describe('FederatedLearning: failures it survives', () => {
  it('reconnects after its connection is cut mid-round and finishes the job', async () => {
    const server = await startServer({ participantsCount: 2, exitRound: 2 });
    const proxy = await TcpRelay.start(server.port);
    const a = estimator(1);
    const b = estimator(2);
    // Cut a's connection once the server holds a's first update; b trains only after a is back.
    const aBack = new Promise<void>((resolve) =>
      server.on('client-join', (e) => e.client === 'a' && e.rejoin && resolve()),
    );
    server.on('update', (e) => {
      if (e.client === 'a' && e.round === 1) proxy.cut();
    });
    const bTrain = b.train.bind(b);
    let first = true;
    b.train = async (...args) => {
      if (first) {
        first = false;
        await aBack;
      }
      return bTrain(...args);
    };
    const jobA = await FederatedLearning.create({ estimator: a, config: config(proxy.port, 'a'), lcClient: false });
    const jobB = await FederatedLearning.create({ estimator: b, config: config(server.port, 'b'), lcClient: false });
    const [ra, rb] = await Promise.all([jobA.train(shards[0]!), jobB.train(shards[1]!)]);
    expect(ra.rounds.map((r) => r.round)).toEqual([1, 2]);
    expect(rb.rounds.map((r) => r.round)).toEqual([1, 2]);
    // a's first update was kept across the reconnect: round 1 averaged both trainers.
    expect(ra.rounds[0]!.totalSamples).toBe(shards[0]!.x.length + shards[1]!.x.length);
    await Promise.all([jobA.close(), jobB.close(), proxy.close()]);
    await server.close();
  });

  it('finishes with the remaining trainers after the round timeout when one is killed mid-round', async () => {
    const server = await startServer({ participantsCount: 3, minClients: 2, roundTimeoutMs: 300, exitRound: 2 });
    const joined = new Promise<void>((resolve) => server.on('client-join', (e) => e.client === 'doomed' && resolve()));
    // A trainer in its own process, busy in a long synchronous training step when it is killed.
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'test/helpers/fl-blocking-client.ts'), server.wsUrl, 'doomed', '60000'],
      {
        cwd: ROOT,
        stdio: 'ignore',
      },
    );
    await joined;
    const jobs = await Promise.all(
      [0, 1].map((k) =>
        FederatedLearning.create({
          estimator: estimator(k + 1),
          config: config(server.port, `t${k}`),
          lcClient: false,
        }),
      ),
    );
    const training = Promise.all(jobs.map((job, k) => job.train(shards[k]!)));
    const firstUpdate = once(server, 'update');
    await firstUpdate;
    child.kill('SIGKILL');
    const results = await training;
    for (const r of results) {
      expect(r.rounds.map((x) => x.round)).toEqual([1, 2]);
      expect(r.rounds[0]!.totalSamples).toBe(shards[0]!.x.length + shards[1]!.x.length);
    }
    await Promise.all(jobs.map((j) => j.close()));
    await server.close();
  });

  it('waits for an aggregator that starts after it (bounded, with backoff)', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port: p } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(p));
      });
    });
    const retries = new EventEmitter();
    let attempts = 0;
    const creating = FederatedLearning.create({
      estimator: estimator(1),
      config: config(port, 'early', { exit_round: '1' }),
      lcClient: false,
      client: {
        retry: { baseDelayMs: 20, maxDelayMs: 100 },
        // Called once per failed attempt, before the backoff wait.
        random: () => {
          attempts++;
          retries.emit('retry');
          return 0.5;
        },
      },
    });
    await once(retries, 'retry'); // the first attempt was refused
    const server = await AggregationServer.create({ host: '127.0.0.1', port, participantsCount: 1, exitRound: 1 });
    await server.start();
    const job = await creating;
    expect(attempts).toBeGreaterThanOrEqual(1);
    const result = await job.train(shards[0]!);
    expect(result.rounds).toHaveLength(1);
    await job.close();
    await server.done;
  });

  it('gives up with SEDNA_ERR_TIMEOUT after CONNECT_TIMEOUT when no aggregator comes', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port: p } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(p));
      });
    });
    const started = Date.now();
    await expect(
      FederatedLearning.create({
        estimator: estimator(1),
        config: config(port, 'alone', { CONNECT_TIMEOUT: '0.4' }),
        lcClient: false,
      }),
    ).rejects.toMatchObject({ code: 'SEDNA_ERR_TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});

describe('FederatedLearning: a malformed aggregate fails the round and is reported', () => {
  /** A fake aggregator answering every update with `reply(frame)`. */
  async function fakeAggregator(
    reply: (update: Record<string, unknown>) => unknown,
  ): Promise<{ port: number; close: () => Promise<void> }> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    wss.on('connection', (socket) => {
      socket.on('message', (data: Buffer, isBinary: boolean) => {
        if (isBinary) return;
        const frame = JSON.parse(data.toString()) as Record<string, unknown>;
        if (frame.type === 'subscribe') socket.send(JSON.stringify(frame)); // a Python server's echo: JSON mode
        if (frame.type === 'update_weight') socket.send(JSON.stringify(reply(frame)));
      });
    });
    return {
      port: (wss.address() as net.AddressInfo).port,
      close: () => new Promise((resolve) => wss.close(() => resolve())),
    };
  }

  it.each([
    [
      'an unknown exit_flag',
      (u: Record<string, unknown>) => ({
        type: 'recv_weight',
        client: 'x',
        data: {
          total_sample: 1,
          round_number: 1,
          weights: (u.data as { weights: unknown }).weights,
          exit_flag: 'maybe',
        },
        job_name: 'j',
        round_number: 1,
      }),
    ],
    [
      'weights of another shape',
      () => ({
        type: 'recv_weight',
        client: 'x',
        data: { total_sample: 1, round_number: 1, weights: [[1, 2], [3]], exit_flag: 'ok' },
        job_name: 'j',
        round_number: 1,
      }),
    ],
    ['no data', () => ({ type: 'recv_weight', client: 'x', job_name: 'j', round_number: 1 })],
  ])('%s', async (_name, reply) => {
    const fake = await fakeAggregator(reply);
    const job = await FederatedLearning.create({ estimator: estimator(1), config: config(fake.port, 'victim') });
    expect(job.url).toBe(`ws://127.0.0.1:${fake.port}/FedAvg`);
    await expect(job.train(shards[0]!)).rejects.toMatchObject({ code: 'SEDNA_ERR_ROUND_FAILED' });
    const reports = lc.accepted();
    expect(reports.map((r) => [r.name, r.kind, r.status])).toEqual([['victim', 'train', 'failed']]);
    expect(reports[0]!.ownerInfo).toMatchObject({ currentRound: 0 });
    await job.close();
    await fake.close();
  });
});
