/**
 * The S3 transmitter of federated learning v2 (issue 15 item 2) against the real S3 server of the
 * test suite (OpenStack Swift + s3api): trainers upload their updates to S3 and send only a
 * reference over the socket, the aggregator reads them, aggregates and publishes the aggregate
 * there. Bad references (a missing key, an object that is not weights, a changed object, another
 * client's key, a shape mismatch, NaN, a client that was not chosen) get coded error frames and
 * the round goes on for the good client.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { decodeWeightsFrame, type WeightRecord } from '../../src/backend/weights.js';
import { loadConfig } from '../../src/common/config.js';
import {
  AggregationServerV2,
  FederatedLearningV2,
  S3Transmitter,
  WSTransmitter,
  transmitterFromConfig,
} from '../../src/core/federated-learning/index.js';
import { SoftmaxEstimator, loadDigits, skewedShards } from '../helpers/softmax-estimator.js';
import { startAggregator, trainerConfig } from '../helpers/fl.js';
import { RawClient, f32, type Received } from '../helpers/raw-ws.js';
import { s3TestSdk, s3TestSettings, uniquePrefix } from '../helpers/s3.js';
import { rejectionOf } from '../helpers/errors.js';
import type { AggregationServer } from '../../src/service/server/aggregation-server.js';

const settings = s3TestSettings();
const sdk = s3TestSdk();
const transmitters: S3Transmitter[] = [];
afterAll(async () => {
  await Promise.all(transmitters.map((t) => t.close()));
  sdk.destroy();
});

/** An S3Transmitter on the test server, writing under a fresh prefix (closed after the file). */
function transmitter(prefix: string): S3Transmitter {
  const t = new S3Transmitter(
    settings.endpoint,
    settings.accessKeyId,
    settings.secretAccessKey,
    `s3://${settings.bucket}/${prefix}`,
  );
  transmitters.push(t);
  return t;
}

async function keysUnder(prefix: string): Promise<string[]> {
  const out = await sdk.send(new ListObjectsV2Command({ Bucket: settings.bucket, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key ?? '').sort();
}

async function readObject(key: string): Promise<Uint8Array> {
  const out = await sdk.send(new GetObjectCommand({ Bucket: settings.bucket, Key: key }));
  return new Uint8Array(await out.Body!.transformToByteArray());
}

async function putRaw(key: string, body: Uint8Array): Promise<{ url: string; bytes: number; sha256: string }> {
  await sdk.send(new PutObjectCommand({ Bucket: settings.bucket, Key: key, Body: body }));
  return {
    url: `s3://${settings.bucket}/${key}`,
    bytes: body.byteLength,
    sha256: createHash('sha256').update(body).digest('hex'),
  };
}

const asArray = (w: WeightRecord): number[] => Array.from(w.data as Float32Array);

describe('S3Transmitter: the data mover', () => {
  it("is Sedna's S3Transmitter, chosen by TRANSMITTER=s3 with S3_ENDPOINT_URL, ACCESS_KEY_ID, SECRET_ACCESS_KEY, AGG_DATA_PATH", () => {
    const t = transmitterFromConfig(
      loadConfig({
        TRANSMITTER: 's3',
        S3_ENDPOINT_URL: 'http://minio.example:9000',
        ACCESS_KEY_ID: 'AK',
        SECRET_ACCESS_KEY: 'very-secret',
        AGG_DATA_PATH: 's3://fl-bucket/jobs/j1/',
      }),
    );
    expect(t).toBeInstanceOf(S3Transmitter);
    const s3 = t as S3Transmitter;
    transmitters.push(s3);
    expect(s3.bucket).toBe('fl-bucket');
    expect(s3.prefix).toBe('jobs/j1');
    expect(s3.parameters).toEqual({
      s3_endpoint_url: 'http://minio.example:9000',
      s3_bucket: 's3://fl-bucket/jobs/j1/',
      access_key: 'AK',
    });
    // The secret key is nowhere a log or a message could show it.
    expect(JSON.stringify(s3)).not.toContain('very-secret');
    expect(s3.updatePrefix('edge/0')).toBe('s3://fl-bucket/jobs/j1/updates/edge%2F0/');
    expect(transmitterFromConfig(loadConfig({ TRANSMITTER: 'ws' }))).toBeInstanceOf(WSTransmitter);
  });

  it('refuses an AGG_DATA_PATH that is not an S3 location with a coded error', async () => {
    const err = await rejectionOf(
      Promise.resolve().then(() => transmitterFromConfig(loadConfig({ TRANSMITTER: 's3', AGG_DATA_PATH: './' }))),
    );
    expect(err.code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
    expect(err.message).toContain('AGG_DATA_PATH');
  });

  it('streams a large update up in parts and reads it back checked; a changed or cut object is refused', async () => {
    const prefix = uniquePrefix('s3tx');
    const t = transmitter(prefix);
    // 6M float32 = 24 MB: a multipart upload of 8 MiB parts built from the frame's chunks.
    const big = new Float32Array(6_000_000).map((_, i) => (i % 1000) / 7);
    const weights: WeightRecord[] = [
      { name: 'a', dtype: 'float32', shape: [3], data: Float32Array.from([1, 2, 3]) },
      { name: 'b', dtype: 'float32', shape: [6_000_000], data: big },
    ];
    const ref = await t.putAggregate(4, { type: 'recv_weight', round_number: 4 }, weights);
    expect(ref.url.startsWith(`s3://${settings.bucket}/${prefix}/aggregates/round-4-`)).toBe(true);
    const got = await t.get(ref, { type: 'recv_weight', maxBytes: 64 * 1024 * 1024 });
    expect(got.meta).toEqual({ type: 'recv_weight', round_number: 4 });
    expect(asArray(got.weights[0]!)).toEqual([1, 2, 3]);
    const b = got.weights[1]!.data;
    // Buffer.equals: Jest's toEqual walks 24 MB element by element.
    expect(Buffer.from(b.buffer, b.byteOffset, b.byteLength).equals(Buffer.from(big.buffer))).toBe(true);

    // The object under the reference changed (half-written, or replaced): never read as a model.
    const key = ref.url.slice(`s3://${settings.bucket}/`.length);
    const whole = await readObject(key);
    await putRaw(key, whole.subarray(0, whole.length - 4096));
    const cut = await rejectionOf(t.get(ref, { type: 'recv_weight', maxBytes: 64 * 1024 * 1024 }));
    expect(cut.code).toBe('SEDNA_ERR_ROUND_FAILED');
    expect(cut.message).toMatch(/not the \d+ announced/);
    const flipped = Uint8Array.from(whole);
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] as number) ^ 1;
    await putRaw(key, flipped);
    const changed = await rejectionOf(t.get(ref, { type: 'recv_weight', maxBytes: 64 * 1024 * 1024 }));
    expect(changed.message).toContain('SHA-256');
    // Over the reader's limit: refused before a byte is read.
    const tooBig = await rejectionOf(t.get(ref, { type: 'update_weight', maxBytes: 1024 }));
    expect(tooBig.code).toBe('SEDNA_ERR_INVALID_UPDATE');
  }, 60_000);
});

describe('FederatedLearningV2 / AggregationServerV2 with TRANSMITTER=s3', () => {
  /** Two digit trainers and an aggregator over S3 under `prefix`, for `rounds` rounds. */
  async function trainOverS3(prefix: string, rounds: number, aggregatorEnv: Record<string, string> = {}) {
    const s3Env = {
      TRANSMITTER: 's3',
      S3_ENDPOINT_URL: settings.endpoint,
      ACCESS_KEY_ID: settings.accessKeyId,
      SECRET_ACCESS_KEY: settings.secretAccessKey,
      AGG_DATA_PATH: `s3://${settings.bucket}/${prefix}`,
    };
    const digits = loadDigits();
    const shards = skewedShards(digits.train, 2);
    const global = new SoftmaxEstimator({ features: 64, classes: 10, seed: 3 });
    const aggregator = await AggregationServerV2.create({
      data: { testset: digits.test },
      estimator: Object.assign(global, { hyperparameters: { rounds } }),
      config: loadConfig({
        AGG_BIND_IP: '127.0.0.1',
        AGG_BIND_PORT: '0',
        PARTICIPANTS_COUNT: '2',
        CONNECT_TIMEOUT: '10',
        ...s3Env,
        ...aggregatorEnv,
      }),
      server: { exitGraceMs: 200 },
    });
    expect(aggregator.transmitter).toBeInstanceOf(S3Transmitter);
    const updates: { encoding: string; outcome: string }[] = [];
    aggregator.server.on('update', (e) => updates.push(e));
    await aggregator.listen();
    const running = aggregator.start();
    const port = aggregator.server.port;
    const models = shards.map((_, k) => new SoftmaxEstimator({ features: 64, classes: 10, seed: k + 1 }));
    const trainers = await Promise.all(
      models.map((m, k) =>
        FederatedLearningV2.create({
          data: { trainset: shards[k]! },
          estimator: Object.assign(m, { hyperparameters: { epochs: 1 } }),
          config: trainerConfig(port, `s3-${k}`, { jobName: 'fl-s3', lcServer: '' }, s3Env),
          lcClient: false,
          ownsEstimator: false,
        }),
      ),
    );
    expect(trainers.every((t) => t.transmitter instanceof S3Transmitter)).toBe(true);
    const results = await Promise.all(trainers.map((t) => t.train()));
    const summary = await running;
    const close = async (): Promise<void> => {
      await Promise.all(trainers.map((t) => t.close()));
      await Promise.all(models.map((m) => m.close()));
      await aggregator.close();
    };
    return { summary, updates, results, shards, models, global, close };
  }

  it('moves every update and aggregate through S3 and trains to the same global model on every worker', async () => {
    const prefix = uniquePrefix('fl-s3');
    // AGG_S3_KEEP_OBJECTS: the updates stay, so this test can check the aggregate against them.
    const job = await trainOverS3(prefix, 3, { AGG_S3_KEEP_OBJECTS: 'true' });
    const { summary, updates, results, shards, models, global } = job;
    expect(summary.rounds).toBe(3);
    expect(updates).toHaveLength(6);
    expect(updates.every((u) => u.outcome === 'accepted')).toBe(true);
    for (const r of results) expect(r.rounds.map((x) => x.round)).toEqual([1, 2, 3]);

    // Three updates per trainer and three aggregates, all in S3 under AGG_DATA_PATH.
    for (const k of [0, 1]) expect(await keysUnder(`${prefix}/updates/s3-${k}/`)).toHaveLength(3);
    const aggregates = await keysUnder(`${prefix}/aggregates/`);
    expect(aggregates).toHaveLength(3);
    const last = aggregates.find((key) => key.includes('/round-3-'))!;
    const { meta, weights: aggregate } = decodeWeightsFrame(await readObject(last));
    expect(meta).toMatchObject({ type: 'recv_weight', round_number: 3, data: { exit_flag: 'ok' } });

    // The last aggregate is FedAvg of round 3's two updates as stored in S3, weighted by samples.
    const round3 = await Promise.all(
      [0, 1].map(async (k) => {
        const key = (await keysUnder(`${prefix}/updates/s3-${k}/round-3-`))[0]!;
        return decodeWeightsFrame(await readObject(key));
      }),
    );
    const n = round3.map((u) => (u.meta.data as { num_samples: number }).num_samples);
    expect(n).toEqual(shards.map((s) => s.x.length));
    aggregate.forEach((tensor, t) => {
      const a = asArray(round3[0]!.weights[t]!);
      const b = asArray(round3[1]!.weights[t]!);
      const mean = a.map((v, i) => (v * n[0]! + b[i]! * n[1]!) / (n[0]! + n[1]!));
      const got = asArray(tensor);
      for (let i = 0; i < got.length; i += 7) expect(got[i]).toBeCloseTo(mean[i]!, 5);
    });
    // Every worker ends with that aggregate: the trainers and the aggregator's global model.
    for (const model of [...models, global]) {
      const w = await model.getWeights();
      w.forEach((tensor, t) => expect(asArray(tensor)).toEqual(asArray(aggregate[t]!)));
    }
    await job.close();
  }, 120_000);

  it('by default deletes each update once read and keeps only the last two aggregates', async () => {
    const prefix = uniquePrefix('fl-s3-clean');
    const job = await trainOverS3(prefix, 4);
    expect(job.summary.rounds).toBe(4);
    expect(job.updates.filter((u) => u.outcome === 'accepted')).toHaveLength(8);
    // The aggregator has closed (it waits for its deletes): no update is left, and of the four
    // aggregates the last two, the final model among them.
    expect(await keysUnder(`${prefix}/updates/`)).toEqual([]);
    const aggregates = await keysUnder(`${prefix}/aggregates/`);
    expect(aggregates.map((key) => /\/round-(\d+)-/.exec(key)?.[1])).toEqual(['3', '4']);
    const { meta, weights } = decodeWeightsFrame(await readObject(aggregates[1]!));
    expect(meta).toMatchObject({ type: 'recv_weight', round_number: 4 });
    const trained = await job.global.getWeights();
    weights.forEach((tensor, t) => expect(asArray(trained[t]!)).toEqual(asArray(tensor)));
    await job.close();
  }, 120_000);
});

describe('the aggregator with an S3 transmitter, against hostile references', () => {
  const layout = [{ name: 'w', dtype: 'float32' as const, shape: [4] }];
  let server: AggregationServer;
  let s3: S3Transmitter;
  let prefix: string;
  const clients: RawClient[] = [];

  beforeEach(() => {
    prefix = uniquePrefix('fl-s3-bad');
    s3 = transmitter(prefix);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.kill()));
    await server.close();
  });

  async function join(id: string, extra: Record<string, unknown> = { transmitter: 's3' }): Promise<RawClient> {
    const c = await RawClient.connect(server.wsUrl);
    clients.push(c);
    const reply = await c.subscribe(id, { encoding: 'binary', ...extra });
    expect(reply.json.type).toBe('subscribe');
    return c;
  }

  const updateFrame = (id: string, ref: unknown, round = 1, numSamples = 10) => ({
    type: 'update_weight',
    client: id,
    data: { num_samples: numSamples, s3_object: ref },
    job_name: 'j',
    round_number: round,
  });

  async function refused(c: RawClient, frame: unknown): Promise<Received> {
    const from = c.frames.length;
    c.sendJson(frame);
    return c.waitFor((f) => f.json.type === 'error', from);
  }

  it('drops each bad reference with a coded error; the round aggregates the good client alone', async () => {
    server = await startAggregator({
      participantsCount: 2,
      minClients: 1,
      roundTimeoutMs: 300,
      exitRound: 1,
      layout,
      transmitter: s3,
    });
    const good = await join('good');
    expect((good.frames[0]!.json.server as { transmitter: string }).transmitter).toBe('s3');
    const envelope = (id: string) => ({
      type: 'update_weight',
      client: id,
      data: { num_samples: 10 },
      round_number: 1,
    });
    const cases: { name: string; ref: (id: string) => unknown; code: string; match: RegExp }[] = [
      {
        name: 'a key that does not exist',
        ref: (id) => ({ url: `${s3.updatePrefix(id)}nothing-here`, bytes: 100, sha256: 'a'.repeat(64) }),
        code: 'SEDNA_ERR_INVALID_UPDATE',
        match: /cannot be read.*no such object/,
      },
      {
        name: 'an object that is not weights',
        ref: (id) => putRaw(`${prefix}/updates/${id}/junk`, Buffer.from('{"weights": [[1, 2, 3, 4]]}')),
        code: 'SEDNA_ERR_INVALID_UPDATE',
        match: /not a weights object/,
      },
      {
        name: 'an object changed after it was announced',
        ref: async (id) => {
          const ref = await s3.putUpdate(id, 1, envelope(id), [f32('w', [4], [1, 2, 3, 4])]);
          await putRaw(ref.url.slice(`s3://${settings.bucket}/`.length), Buffer.alloc(ref.bytes, 7));
          return ref;
        },
        code: 'SEDNA_ERR_INVALID_UPDATE',
        match: /SHA-256/,
      },
      {
        name: "another client's object",
        ref: () => s3.putUpdate('good', 1, envelope('good'), [f32('w', [4], [9, 9, 9, 9])]),
        code: 'SEDNA_ERR_INVALID_UPDATE',
        match: /must lie under/,
      },
      {
        name: 'weights another client wrote, copied under its own prefix',
        ref: async (id) => {
          const theirs = await s3.putUpdate('good', 1, envelope('good'), [f32('w', [4], [9, 9, 9, 9])]);
          const bytes = await readObject(theirs.url.slice(`s3://${settings.bucket}/`.length));
          return putRaw(`${prefix}/updates/${id}/copied`, bytes);
        },
        code: 'SEDNA_ERR_INVALID_UPDATE',
        match: /written by "good"/,
      },
      {
        name: 'a shape that disagrees with the round',
        ref: (id) => s3.putUpdate(id, 1, envelope(id), [f32('w', [5], [1, 2, 3, 4, 5])]),
        code: 'SEDNA_ERR_WEIGHTS_MISMATCH',
        match: /tensor #0 is \[5\], the round's is \[4\]/,
      },
      {
        name: 'NaN in the update',
        ref: (id) => s3.putUpdate(id, 1, envelope(id), [f32('w', [4], [1, Number.NaN, 3, 4])]),
        code: 'SEDNA_ERR_INVALID_UPDATE',
        match: /NaN/,
      },
      {
        name: 'a malformed reference',
        ref: (id) => ({ url: `${s3.updatePrefix(id)}x`, bytes: -1, sha256: 'zz' }),
        code: 'SEDNA_ERR_INVALID_UPDATE',
        match: /s3_object/,
      },
    ];
    for (const [i, c] of cases.entries()) {
      const id = `bad${i}`;
      const client = await join(id);
      const error = await refused(client, updateFrame(id, await c.ref(id)));
      expect({ name: c.name, code: error.json.code }).toEqual({ name: c.name, code: c.code });
      expect(error.json.message).toMatch(c.match);
      expect((await client.closed).code).toBeGreaterThanOrEqual(4000);
    }
    // A client that did not ask for S3 cannot hand the server a reference either.
    const plain = await join('plain', {});
    expect((plain.frames[0]!.json.server as { transmitter: string }).transmitter).toBe('ws');
    const viaWs = await refused(
      plain,
      updateFrame('plain', await s3.putUpdate('plain', 1, envelope('plain'), [f32('w', [4], [5, 5, 5, 5])])),
    );
    expect(viaWs.json.code).toBe('SEDNA_ERR_INVALID_UPDATE');

    // The good client's update is the round's aggregate, published in S3 and referenced on the socket.
    const ref = await s3.putUpdate('good', 1, envelope('good'), [f32('w', [4], [1, 2, 3, 4])]);
    good.sendJson(updateFrame('good', ref));
    const agg = await good.waitFor((f) => f.json.type === 'recv_weight');
    expect(agg.weights).toBeUndefined(); // a text frame: the weights are not on the socket
    const data = agg.json.data as { total_sample: number; exit_flag: string; s3_object: { url: string } };
    expect(data.total_sample).toBe(10);
    expect(data.exit_flag).toBe('ok');
    expect(data.s3_object.url.startsWith(`s3://${settings.bucket}/${prefix}/aggregates/`)).toBe(true);
    const published = decodeWeightsFrame(await readObject(data.s3_object.url.slice(`s3://${settings.bucket}/`.length)));
    expect(asArray(published.weights[0]!)).toEqual([1, 2, 3, 4]);
    await server.done;
    // Each client's own objects are deleted once read or refused, the good client's too. What a
    // client merely pointed at outside its own prefix (in "good"'s), and the object of the client
    // that never negotiated S3, are not the server's to delete.
    const left = await keysUnder(`${prefix}/updates/`);
    expect(left.filter((key) => /\/updates\/bad\d+\//.test(key))).toEqual([]);
    expect(left).not.toContain(ref.url.slice(`s3://${settings.bucket}/`.length));
    expect(left.filter((key) => key.includes('/updates/good/'))).toHaveLength(2);
    expect(left.filter((key) => key.includes('/updates/plain/'))).toHaveLength(1);
  }, 60_000);

  it('refuses a reference from a client that was not chosen without reading it; that client keeps its place', async () => {
    server = await startAggregator({
      participantsCount: 2,
      exitRound: 1,
      layout,
      clientChoose: { name: 'SimpleClientChoose', per_round: 1, seed: 1 },
      transmitter: s3,
    });
    const a = await join('a');
    const b = await join('b');
    const configs = await Promise.all(
      [a, b].map((c) => c.waitFor((f) => f.json.type === 'round_config' && f.json.selected !== undefined)),
    );
    const chosenIndex = configs.findIndex((f) => f.json.selected === true);
    expect(configs.filter((f) => f.json.selected === true)).toHaveLength(1);
    const [chosen, other] = chosenIndex === 0 ? [a, b] : [b, a];
    const [chosenId, otherId] = chosenIndex === 0 ? ['a', 'b'] : ['b', 'a'];
    // Its reference names nothing: read, it would be SEDNA_ERR_INVALID_UPDATE, not NOT_CHOSEN.
    const error = await refused(
      other,
      updateFrame(otherId, { url: `${s3.updatePrefix(otherId)}absent`, bytes: 8, sha256: '0'.repeat(64) }),
    );
    expect(error.json.code).toBe('SEDNA_ERR_NOT_CHOSEN');
    const envelope = { type: 'update_weight', client: chosenId, data: { num_samples: 4 }, round_number: 1 };
    chosen.sendJson(
      updateFrame(chosenId, await s3.putUpdate(chosenId, 1, envelope, [f32('w', [4], [4, 3, 2, 1])]), 1, 4),
    );
    // Both get the aggregate, from S3; it holds only the chosen update.
    for (const c of [chosen, other]) {
      const agg = await c.waitFor((f) => f.json.type === 'recv_weight');
      const data = agg.json.data as { total_sample: number; s3_object: { url: string } };
      expect(data.total_sample).toBe(4);
      const { weights } = decodeWeightsFrame(
        await readObject(data.s3_object.url.slice(`s3://${settings.bucket}/`.length)),
      );
      expect(asArray(weights[0]!)).toEqual([4, 3, 2, 1]);
    }
    expect(other.closeCode).toBeUndefined();
    await server.done;
  }, 60_000);
});
