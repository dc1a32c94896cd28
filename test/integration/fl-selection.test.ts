/**
 * Client selection and round configuration in the aggregation server's rounds (issue 15): the
 * chooser names each round's clients once PARTICIPANTS_COUNT are connected, only they train, the
 * others wait for the aggregate, an update from a client that was not chosen is refused with a
 * coded error frame while the round goes on, and the round's aggregate holds only the chosen
 * updates. FedProx's `mu` reaches the trainers' TF.js `proximal` option through round_config.
 */
import { TfjsEstimator, type Tf, type TfDataset, type TfTrainOptions } from '../../src/backend/tfjs.js';
import type { WeightRecord } from '../../src/backend/weights.js';
import { FedProx } from '../../src/algorithms/aggregation/fedprox.js';
import type { ClientChooser } from '../../src/algorithms/client-choose/base.js';
import { FederatedLearning } from '../../src/core/federated-learning/index.js';
import type { RoundEvent } from '../../src/service/server/aggregation-server.js';
import { RoundSelection, resolveChooser } from '../../src/service/server/round-selection.js';
import { getLogger } from '../../src/common/logger.js';
import { digitsModel } from '../../src/cli/simulate/fl.js';
import { SoftmaxEstimator, loadDigits, skewedShards, type Row } from '../helpers/softmax-estimator.js';
import { loadDigits as loadDigitsTensors } from '../helpers/backend-fixtures.js';
import { startAggregator, trainerConfig } from '../helpers/fl.js';
import { RawClient } from '../helpers/raw-ws.js';
import { rejectionOf } from '../helpers/errors.js';
import type { Dataset, TrainOptions } from '../../src/backend/estimator.js';

const digits = loadDigits();
const shards = skewedShards(digits.train, 4);
const config = (port: number, name: string) => trainerConfig(port, name, { jobName: 'fl-sel', lcServer: '' });

/** The digits softmax model, counting its train() calls. */
class CountingEstimator extends SoftmaxEstimator {
  trainCalls = 0;
  override train(data: Dataset<Row, number>, valid?: Dataset<Row, number>, options?: TrainOptions) {
    this.trainCalls++;
    return super.train(data, valid, options);
  }
}

const jsonUpdate = (client: string, n: number, values: number[], round?: number) =>
  JSON.stringify({
    type: 'update_weight',
    client,
    data: { num_samples: n, weights: [values] },
    job_name: 'j',
    ...(round === undefined ? {} : { round_number: round }),
  });

describe('client selection in the rounds', () => {
  it('trains only the chosen clients each round and aggregates only their updates', async () => {
    const server = await startAggregator({
      participantsCount: 4,
      exitRound: 3,
      clientChoose: { name: 'SimpleClientChoose', per_round: 2, seed: 11 },
      // A round whose non-chosen clients wait must not look stuck to the watchdog (the chosen
      // ones train for longer than this bound; it also bounds the trainers' first connection).
      stallTimeoutMs: 1_000,
    });
    const chosen: { round: number; chosen: readonly string[]; candidates: number }[] = [];
    const rounds: RoundEvent[] = [];
    server.on('clients-chosen', (e) => chosen.push(e));
    server.on('round', (e) => rounds.push(e));
    // Chosen trainers take longer than the stall bound each round.
    const models = shards.map(
      (_, k) => new CountingEstimator({ features: 64, classes: 10, seed: k + 1, blockMs: 1_200 }),
    );
    const jobs = await Promise.all(
      models.map((m, k) =>
        FederatedLearning.create({ estimator: m, config: config(server.port, `t${k}`), lcClient: false }),
      ),
    );
    const results = await Promise.all(jobs.map((job, k) => job.train(shards[k]!)));
    await server.done;

    expect(chosen.map((c) => c.round)).toEqual([1, 2, 3]);
    const sizes = new Map(shards.map((s, k) => [`t${k}`, s.x.length]));
    for (const [i, c] of chosen.entries()) {
      expect(c.candidates).toBe(4);
      expect(c.chosen).toHaveLength(2);
      // The round aggregated exactly the chosen clients' updates.
      expect([...rounds[i]!.clients].sort()).toEqual([...c.chosen].sort());
      expect(rounds[i]!.totalSamples).toBe(c.chosen.reduce((n, id) => n + sizes.get(id)!, 0));
      for (const [k, r] of results.entries()) {
        const round = r.rounds[i]!;
        expect(round.round).toBe(c.round);
        expect(round.selected).toBe(c.chosen.includes(`t${k}`));
        expect(round.totalSamples).toBe(rounds[i]!.totalSamples);
      }
    }
    // Not every round chose the same pair (seeded: reproducible), and only the chosen trained.
    expect(new Set(chosen.map((c) => [...c.chosen].sort().join())).size).toBeGreaterThan(1);
    for (const [k, m] of models.entries()) {
      expect(m.trainCalls).toBe(chosen.filter((c) => c.chosen.includes(`t${k}`)).length);
    }
    // Every trainer ends on the same global model.
    const finals = await Promise.all(models.map((m) => m.getWeights()));
    for (const w of finals.slice(1)) expect(w[0]!.data).toEqual(finals[0]![0]!.data);
    await Promise.all(jobs.map((j) => j.close()));
  }, 60_000);

  it('refuses an update from a client that was not chosen with a coded error frame; the round goes on', async () => {
    const server = await startAggregator({
      participantsCount: 2,
      exitRound: 2,
      clientChoose: { name: 'SimpleClientChoose', per_round: 1, seed: 3 },
    });
    const a = await RawClient.connect(server.wsUrl);
    const helloA = await a.subscribe('a', { encoding: 'binary' });
    expect(helloA.json.server).toMatchObject({ round_config: true, client_selection: true });
    // Before the choice (one of two participants here) no update is taken.
    a.sendText(jsonUpdate('a', 1, [1, 1], 1));
    const early = await a.waitFor((f) => f.json.type === 'error');
    expect(early.json.code).toBe('SEDNA_ERR_NOT_CHOSEN');
    const b = await RawClient.connect(server.wsUrl);
    await b.subscribe('b', { encoding: 'binary' });
    const [configA, configB] = await Promise.all([
      a.waitFor((f) => f.json.type === 'round_config'),
      b.waitFor((f) => f.json.type === 'round_config'),
    ]);
    expect(configA.json).toMatchObject({ round_number: 1, data: {} });
    expect([configA.json.selected, configB.json.selected].sort()).toEqual([false, true]);
    const [inside, outside] = configA.json.selected === true ? [a, b] : [b, a];
    const [insideId, outsideId] = inside === a ? ['a', 'b'] : ['b', 'a'];
    const from = outside.frames.length;
    outside.sendText(jsonUpdate(outsideId, 100, [100, 100], 1));
    const refused = await outside.waitFor((f) => f.json.type === 'error', from);
    expect(refused.json.code).toBe('SEDNA_ERR_NOT_CHOSEN');
    expect(refused.json.message).toContain('not chosen');
    inside.sendText(jsonUpdate(insideId, 3, [3, 6], 1));
    const [atInside, atOutside] = await Promise.all([
      inside.waitFor((f) => f.json.type === 'recv_weight'),
      outside.waitFor((f) => f.json.type === 'recv_weight'),
    ]);
    // Only the chosen update is in the aggregate; the refused client was not dropped.
    expect(atInside.json.data).toEqual({ total_sample: 3, round_number: 1, exit_flag: 'continue' });
    expect([...atInside.weights![0]!.data]).toEqual([3, 6]);
    expect(atOutside.json.data).toEqual(atInside.json.data);
    expect([...atOutside.weights![0]!.data]).toEqual([3, 6]);
    expect(outside.closeCode).toBeUndefined();
    // Round 2 is chosen at once (both are connected) and told to both.
    const [next] = await Promise.all([
      a.waitFor((f) => f.json.type === 'round_config' && f.json.round_number === 2),
      b.waitFor((f) => f.json.type === 'round_config' && f.json.round_number === 2),
    ]);
    expect(typeof next.json.selected).toBe('boolean');
    await Promise.all([a.close(), b.close()]);
    await server.close();
  });

  it('falls back to every connected client when a chooser fails or names nobody, and says so', () => {
    const failing: ClientChooser = {
      name: 'Failing',
      perRound: 1,
      parameters: { per_round: 1 },
      choose: () => {
        throw new Error('boom');
      },
    };
    const nobody: ClientChooser = { ...failing, name: 'Nobody', choose: () => ['ghost'] };
    const log = () => getLogger('fl.server');
    expect(new RoundSelection(failing, 2, log).pick(1, ['a'])).toBeUndefined();
    expect(new RoundSelection(failing, 2, log).pick(1, ['a', 'b'])).toEqual(['a', 'b']);
    expect(new RoundSelection(nobody, 1, log).pick(1, ['a', 'b'])).toEqual(['a', 'b']);
    expect(resolveChooser(failing)).toBe(failing);
    expect(resolveChooser('WeightedClientChoose')?.name).toBe('WeightedClientChoose');
  });

  it('refuses an unknown chooser name or bad parameters with a coded error', async () => {
    expect((await rejectionOf(startAggregator({ clientChoose: 'NoSuchChooser' }))).code).toBe(
      'SEDNA_ERR_UNKNOWN_ALGORITHM',
    );
    expect(
      (await rejectionOf(startAggregator({ clientChoose: { name: 'SimpleClientChoose', per_round: 0 } }))).code,
    ).toBe('SEDNA_ERR_INVALID_ALGORITHM_PARAM');
  });
});

describe('round configuration', () => {
  const digitsTrain = loadDigitsTensors('train');
  const tensors: TfDataset = { x: digitsTrain.x, y: digitsTrain.y };
  const model = (tf: Tf): ReturnType<Tf['sequential']> => digitsModel(tf);

  async function recording(calls: { options: TfTrainOptions; before: WeightRecord[] }[]): Promise<TfjsEstimator> {
    const estimator = await TfjsEstimator.create({ model });
    const trainReal = estimator.train.bind(estimator);
    estimator.train = async (data, valid, options) => {
      calls.push({ options: options ?? {}, before: await estimator.getWeights() });
      return trainReal(data, valid, options);
    };
    return estimator;
  }

  it("FedProx's mu reaches TfjsEstimator.train as the proximal option, anchored at the round's start", async () => {
    const server = await startAggregator({
      aggregation: new FedProx({ mu: 0.25 }),
      participantsCount: 1,
      exitRound: 2,
    });
    const calls: { options: TfTrainOptions; before: WeightRecord[] }[] = [];
    const estimator = await recording(calls);
    const job = await FederatedLearning.create<unknown, unknown, unknown>({
      estimator,
      aggregation: 'FedProx',
      config: config(server.port, 'prox'),
      lcClient: false,
    });
    const result = await job.train(tensors, undefined, { epochs: 1, batchSize: 64 });
    await server.done;
    expect(result.rounds.map((r) => r.round)).toEqual([1, 2]);
    expect(calls).toHaveLength(2);
    for (const call of calls) {
      expect(call.options.proximal?.mu).toBe(0.25);
      expect(call.options.proximal?.reference.map((w) => w.data)).toEqual(call.before.map((w) => w.data));
    }
    await job.close();
  }, 60_000);

  it('FedAvg sends an empty round configuration: no proximal term', async () => {
    const server = await startAggregator({ participantsCount: 1, exitRound: 1 });
    const calls: { options: TfTrainOptions; before: WeightRecord[] }[] = [];
    const job = await FederatedLearning.create<unknown, unknown, unknown>({
      estimator: await recording(calls),
      config: config(server.port, 'avg'),
      lcClient: false,
    });
    await job.train(tensors, undefined, { epochs: 1, batchSize: 64 });
    await server.done;
    expect(calls).toHaveLength(1);
    expect(calls[0]!.options.proximal).toBeUndefined();
    await job.close();
  }, 60_000);
});
