/**
 * The federated-learning simulation: virtual clients training a real TF.js model on the digits
 * data, updates through the binary weights frame into the real strategies, client choice, FedProx's
 * mu reaching the trainer, poisoned clients against FedAvg and the robust strategies, MistNet, and
 * `sedna simulate fl --json`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { TfjsEstimator, type Tf, type TfTrainOptions } from '../../src/backend/tfjs.js';
import type { Estimator } from '../../src/backend/estimator.js';
import { encodeWeightsFrame } from '../../src/backend/weights.js';
import {
  simulateFederatedLearning,
  type FlSimulationOptions,
  type SimulationResult,
} from '../../src/core/fl-simulation/simulation.js';
import { buildProgram } from '../../src/cli/program.js';
import { DIGITS_DATA, digitsModel } from '../../src/cli/simulate/fl.js';
import { ROOT } from '../helpers/paths.js';
import { loadDigits } from '../helpers/backend-fixtures.js';
import { rejectionOf } from '../helpers/errors.js';

const train = loadDigits('train');
const test = loadDigits('test');

const model = (tf: Tf): ReturnType<Tf['sequential']> => digitsModel(tf);

/** The real estimator, with every train() call's options recorded. */
function recordingEstimator(calls: TfTrainOptions[]): () => Promise<Estimator> {
  return async () => {
    const estimator = await TfjsEstimator.create({ model });
    const trainReal = estimator.train.bind(estimator);
    estimator.train = (data, valid, options) => {
      calls.push(options ?? {});
      return trainReal(data, valid, options);
    };
    return estimator;
  };
}

const simulate = (options: Partial<FlSimulationOptions>): Promise<SimulationResult> =>
  simulateFederatedLearning({
    estimator: () => TfjsEstimator.create({ model }),
    train,
    test,
    clients: 5,
    rounds: 2,
    epochs: 2,
    ...options,
  });

describe('simulateFederatedLearning', () => {
  it('trains the global model round after round and counts the frames it moves', async () => {
    const calls: TfTrainOptions[] = [];
    const seen: number[] = [];
    const progress: [number, number][] = [];
    const result = await simulate({
      estimator: recordingEstimator(calls),
      rounds: 3,
      onRound: (r) => seen.push(r.round),
      onProgress: (done, total) => progress.push([done, total]),
    });
    expect(seen).toEqual([1, 2, 3]);
    expect(progress.at(-1)).toEqual([15, 15]);
    expect(calls).toHaveLength(15);
    expect(calls.every((c) => c.resetOptimizer === true && c.proximal === undefined)).toBe(true);
    expect(result.finalAccuracy).toBeGreaterThan(result.initialAccuracy + 0.3);
    expect(result.clientSamples.min + result.clientSamples.max).toBeGreaterThan(0);
    // Every round: the global model down to 5 clients and 5 updates up, each one binary frame.
    const estimator = await TfjsEstimator.create({ model });
    const frame = encodeWeightsFrame(await estimator.getWeights()).length;
    await estimator.close();
    for (const r of result.rounds) {
      expect(r).toMatchObject({ chosen: 5, aggregated: 5, rejected: 0 });
      expect(r.bytesUp).toBe(5 * frame);
      expect(Math.abs(r.bytesDown - 5 * frame)).toBeLessThan(5 * 32); // the round number in the header
    }
    expect(result.bytesMoved).toBe(result.rounds.reduce((n, r) => n + r.bytesDown + r.bytesUp, 0));
  }, 120_000);

  it('asks only per_round clients each round, and FedProx’s mu reaches their training', async () => {
    const calls: TfTrainOptions[] = [];
    const result = await simulate({
      estimator: recordingEstimator(calls),
      clients: 6,
      perRound: 2,
      strategy: 'FedProx',
      strategyParams: { mu: '0.5' },
    });
    expect(result.rounds.map((r) => [r.chosen, r.aggregated])).toEqual([
      [2, 2],
      [2, 2],
    ]);
    expect(calls).toHaveLength(4);
    expect(calls.every((c) => c.proximal?.mu === 0.5 && c.proximal.reference.length === 4)).toBe(true);
  }, 120_000);

  it('one poisoned client ruins FedAvg, not the trimmed mean or Krum', async () => {
    const common = { clients: 7, rounds: 2, attack: { clients: 1, kind: 'noise' as const, scale: 10 } };
    const fedavg = await simulate({ ...common, strategy: 'FedAvg' });
    const trimmed = await simulate({ ...common, strategy: 'TrimmedMean', strategyParams: { beta: '0.15' } });
    const krum = await simulate({
      ...common,
      strategy: 'Krum',
      strategyParams: { num_malicious_clients: '1', num_clients_to_keep: '3' },
    });
    expect(fedavg.poisonedClients).toHaveLength(1);
    expect(fedavg.finalAccuracy).toBeLessThan(0.5);
    expect(trimmed.finalAccuracy).toBeGreaterThan(0.75);
    expect(krum.finalAccuracy).toBeGreaterThan(0.75);
  }, 180_000);

  it('runs MistNet: the edges send private features once, the cloud trains on them', async () => {
    const result = await simulate({
      strategy: 'MistNet',
      strategyParams: { cut_layer: '1', epsilon: 'inf', feature_max: '4' },
      rounds: 1,
      epochs: 20,
      publicFraction: 0.1,
    });
    expect(result.rounds[0]).toMatchObject({ chosen: 5, aggregated: 5, rejected: 0 });
    // Features are 1 byte per value: 32 per sample, far less than the 64 float32 pixels.
    expect(result.rounds[0]!.bytesUp).toBeLessThan(train.x.length * 40 + 5 * 1024);
    expect(result.finalAccuracy).toBeGreaterThan(0.85);
  }, 120_000);

  it('refuses bad settings with coded errors', async () => {
    expect((await rejectionOf(simulate({ clients: 0 }))).code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
    expect((await rejectionOf(simulate({ partition: 'dirichlet:-1' }))).code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
    expect((await rejectionOf(simulate({ strategy: 'FedMagic' }))).code).toBe('SEDNA_ERR_UNKNOWN_ALGORITHM');
    expect((await rejectionOf(simulate({ strategy: 'FedProx', strategyParams: { mu: '-1' } }))).code).toBe(
      'SEDNA_ERR_INVALID_ALGORITHM_PARAM',
    );
  });
});

describe('sedna simulate fl', () => {
  it('ships the data it reads in the package', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { files: string[] };
    for (const file of Object.values(DIGITS_DATA)) {
      expect(pkg.files).toContain(path.relative(ROOT, file));
      expect(fs.existsSync(file)).toBe(true);
    }
  });

  it('prints the results as JSON with --json', async () => {
    let printed = '';
    const program = buildProgram({ env: {}, stdout: (t) => (printed += t) });
    await program.parseAsync(
      ['simulate', 'fl', '--clients', '4', '--rounds', '2', '--epochs', '1', '--partition', 'dirichlet:1', '--json'],
      { from: 'user' },
    );
    const result = JSON.parse(printed) as SimulationResult;
    expect(result).toMatchObject({ strategy: 'FedAvg', clients: 4, perRound: 4, partition: 'dirichlet:1' });
    expect(result.rounds).toHaveLength(2);
    expect(result.peakRssBytes).toBeGreaterThan(0);
  }, 120_000);

  it('prints a table and refuses bad options', async () => {
    let printed = '';
    const program = buildProgram({ env: {}, stdout: (t) => (printed += t) });
    await program.parseAsync(['simulate', 'fl', '--clients', '3', '--rounds', '1', '--epochs', '1'], { from: 'user' });
    expect(printed).toMatch(/\| round \| clients \| aggregated \| rejected \| accuracy \| bytes moved \| +time \|/);
    expect(printed).toContain('strategy FedAvg, 3 clients');
    const bad = buildProgram({ env: {}, stdout: () => undefined });
    const quiet = (command: typeof bad): void => {
      command.exitOverride().configureOutput({ writeErr: () => undefined });
      command.commands.forEach(quiet);
    };
    quiet(bad);
    await expect(bad.parseAsync(['simulate', 'fl', '--clients', '0'], { from: 'user' })).rejects.toThrow(/--clients/);
  }, 120_000);
});
