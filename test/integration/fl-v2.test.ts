/**
 * Sedna's v2 API end to end on 127.0.0.1: AggregationServerV2 with FedAvgV2, client selection and
 * the exit on target accuracy (measured on its own test data), three FederatedLearningV2 trainers
 * on the digits softmax model with Sedna's hyperparameters, configured from Sedna's variables.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/common/config.js';
import {
  AggregationServerV2,
  FederatedLearningV2,
  WSTransmitter,
  transmitterFromConfig,
} from '../../src/core/federated-learning/index.js';
import { SoftmaxEstimator, loadDigits, skewedShards } from '../helpers/softmax-estimator.js';
import { trainerConfig } from '../helpers/fl.js';
import { rejectionOf } from '../helpers/errors.js';
import { RawClient } from '../helpers/raw-ws.js';

const digits = loadDigits();
const shards = skewedShards(digits.train, 3);
let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-v2-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

const serverConfig = (extra: Record<string, string> = {}) =>
  loadConfig({
    AGG_BIND_IP: '127.0.0.1',
    AGG_BIND_PORT: '0',
    PARTICIPANTS_COUNT: '3',
    exit_round: '20',
    CONNECT_TIMEOUT: '10',
    MODEL_URL: path.join(tmp, 'global'),
    ...extra,
  });

describe('FederatedLearningV2 and AggregationServerV2', () => {
  it('runs FedAvgV2 with client selection and ends the job once the target accuracy is reached', async () => {
    const target = 0.85;
    const global = new SoftmaxEstimator({ features: 64, classes: 10, seed: 9 });
    const aggregator = await AggregationServerV2.create({
      data: { testset: digits.test },
      estimator: Object.assign(global, { hyperparameters: { target_accuracy: String(target) } }),
      chooser: { name: 'SimpleClientChoose', per_round: 2, seed: 5 },
      config: serverConfig(),
      server: { exitGraceMs: 200 },
    });
    expect(aggregator.server.aggregation).toBe('FedAvgV2');
    expect(aggregator.transmitter).toBeInstanceOf(WSTransmitter);
    await aggregator.listen();
    const running = aggregator.start();
    const port = aggregator.server.port;
    const trainers = await Promise.all(
      shards.map((shard, k) =>
        FederatedLearningV2.create({
          data: { trainset: shard },
          estimator: Object.assign(new SoftmaxEstimator({ features: 64, classes: 10, seed: k + 1 }), {
            hyperparameters: { epochs: '2', batch_size: 32 },
          }),
          aggregation: 'FedAvgV2',
          config: trainerConfig(port, `v2-${k}`, { jobName: 'fl-v2', lcServer: '' }),
          lcClient: false,
        }),
      ),
    );
    const results = await Promise.all(trainers.map((t) => t.train()));
    const summary = await running;

    // The job ended at the first round whose global model reached the target, before exit_round.
    const accuracies = summary.history.map((r) => r.accuracy!);
    expect(summary.reachedTarget).toBe(true);
    expect(summary.rounds).toBe(summary.history.length);
    expect(summary.rounds).toBeLessThan(20);
    expect(accuracies.at(-1)).toBeGreaterThanOrEqual(target);
    expect(accuracies.slice(0, -1).every((a) => a < target)).toBe(true);
    // The accuracy is the global model's: the aggregator's estimator holds it, saved to MODEL_URL.
    expect((await global.evaluate(digits.test)).accuracy).toBeCloseTo(accuracies.at(-1)!, 10);
    expect(fs.existsSync(path.join(tmp, 'global', 'model.json'))).toBe(true);
    // Every trainer saw every round; two of three trained in each (client selection).
    for (const r of results) {
      expect(r.rounds.map((x) => x.round)).toEqual(summary.history.map((h) => h.round));
      expect(r.rounds.at(-1)!.exitFlag).toBe('ok');
    }
    for (let i = 0; i < summary.rounds; i++) {
      expect(results.filter((r) => r.rounds[i]!.selected)).toHaveLength(2);
    }
    await Promise.all(trainers.map((t) => t.close()));
    await aggregator.close();
  }, 120_000);

  it("holds round 1 to the global model's layout: a stranger's first update of another shape cannot lock the trainers out", async () => {
    const global = new SoftmaxEstimator({ features: 64, classes: 10, seed: 4 });
    const aggregator = await AggregationServerV2.create({
      data: { testset: digits.test },
      estimator: Object.assign(global, { hyperparameters: { rounds: 1 } }),
      config: serverConfig({ PARTICIPANTS_COUNT: '2' }),
      server: { exitGraceMs: 200 },
    });
    await aggregator.listen();
    const running = aggregator.start();
    // The stranger is first in round 1, with one tensor where the model has two.
    const stranger = await RawClient.connect(aggregator.server.wsUrl);
    await stranger.subscribe('stranger');
    const from = stranger.frames.length;
    stranger.sendJson({ type: 'update_weight', client: 'stranger', data: { num_samples: 100, weights: [[1, 2, 3]] } });
    const refused = await stranger.waitFor((f) => f.json.type === 'error', from);
    expect(refused.json.code).toBe('SEDNA_ERR_WEIGHTS_MISMATCH');
    // The honest trainers complete the round.
    const trainers = await Promise.all(
      shards.slice(0, 2).map((shard, k) =>
        FederatedLearningV2.create({
          data: { trainset: shard },
          estimator: Object.assign(new SoftmaxEstimator({ features: 64, classes: 10, seed: k + 1 }), {
            hyperparameters: { epochs: '1' },
          }),
          config: trainerConfig(aggregator.server.port, `honest-${k}`, { jobName: 'fl-v2', lcServer: '' }),
          lcClient: false,
        }),
      ),
    );
    const results = await Promise.all(trainers.map((t) => t.train()));
    const summary = await running;
    expect(summary.rounds).toBe(1);
    for (const r of results) expect(r.rounds.map((x) => x.round)).toEqual([1]);
    await stranger.kill();
    await Promise.all(trainers.map((t) => t.close()));
    await aggregator.close();
  }, 60_000);

  it('refuses bad hyperparameters and an S3 transmitter without an S3 location with coded errors', async () => {
    const bad = await rejectionOf(
      AggregationServerV2.create({ hyperparameters: { target_accuracy: 1.5 }, config: serverConfig() }),
    );
    expect(bad.code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
    const rounds = await rejectionOf(
      AggregationServerV2.create({ hyperparameters: { rounds: '0' }, config: serverConfig() }),
    );
    expect(rounds.code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
    // TRANSMITTER=s3 needs an S3 location in AGG_DATA_PATH (fl-s3.test.ts runs the S3 transmitter).
    const s3 = await rejectionOf(
      Promise.resolve().then(() => transmitterFromConfig(serverConfig({ TRANSMITTER: 's3' }))),
    );
    expect(s3.code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
    expect(transmitterFromConfig(serverConfig())).toBeInstanceOf(WSTransmitter);
    const epochs = await rejectionOf(
      FederatedLearningV2.create({
        data: { trainset: shards[0]! },
        estimator: new SoftmaxEstimator({ features: 64, classes: 10 }),
        hyperparameters: { epochs: 'many' },
        config: trainerConfig(1, 'x', { jobName: 'j', lcServer: '' }),
        lcClient: false,
      }),
    );
    expect(epochs.code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
  });
});
