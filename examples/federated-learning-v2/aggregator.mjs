#!/usr/bin/env node
// Federated learning v2, aggregation worker: Sedna's `AggregationServerV2(data, estimator,
// aggregation, transmitter, chooser)`, doing the work Sedna handed to Plato.
//
// Configured by what the Sedna controller injects (AGG_BIND_PORT, PARTICIPANTS_COUNT, JOB_NAME,
// WORKER_NAME, MODEL_URL) and by the pod template's variables:
//
//   aggregation_algorithm  FedAvgV2 (default), FedProx, FedAdam, TrimmedMean, Krum, ...
//   TRANSMITTER            ws (default) or s3; with s3 also S3_ENDPOINT_URL, ACCESS_KEY_ID,
//                          SECRET_ACCESS_KEY and AGG_DATA_PATH (s3://bucket/prefix)
//   rounds                 rounds before the job ends (default: exit_round)
//   target_accuracy        end the job once the global model reaches it on TEST_DATASET_URL
//   per_round              client selection: trainers chosen per round (default: all)
//   TEST_DATASET_URL       a digits CSV the global model is measured on after each round
//
// Prints one JSON line per round ({event: 'round', round, accuracy}) and one with the summary.
// A bad setting is a coded error on stderr and exit code 1. SIGTERM (the pod deleted, `podman
// stop`) closes the server, the trainers' connections with it, and exits 143.
import { constants } from 'node:os';
import {
  AggregationServerV2,
  getIntegerParameter,
  getLogger,
  getNumberParameter,
  getParameter,
  loadConfig,
} from 'sedna-sdk';
import { TfjsEstimator } from 'sedna-sdk/backend/tfjs';
import { createDigitsModel, loadDigitsCsv } from '../federated-learning/digits.mjs';

const log = getLogger('aggregator-v2');
let aggregator;
for (const signal of ['SIGTERM', 'SIGINT'])
  process.once(signal, () => {
    process.exitCode = 128 + constants.signals[signal];
    if (aggregator === undefined) process.exit();
    void aggregator.close().then(() => process.exit());
  });
try {
  const config = loadConfig();
  const testUrl = getParameter('TEST_DATASET_URL');
  const perRound = getIntegerParameter('per_round', 0, { min: 0 });
  const target = getNumberParameter('target_accuracy', 0, { min: 0, max: 1 });
  const estimator = await TfjsEstimator.create({ model: (tf) => createDigitsModel(tf) });
  // Sedna reads the hyperparameters from the estimator.
  estimator.hyperparameters = {
    rounds: getIntegerParameter('rounds', config.exitRound, { min: 1 }),
    ...(target > 0 ? { target_accuracy: target } : {}),
  };
  aggregator = await AggregationServerV2.create({
    data: testUrl === undefined ? {} : { testset: await loadDigitsCsv(testUrl, 'test') },
    estimator,
    aggregation: getParameter('aggregation_algorithm') ?? 'FedAvgV2',
    ...(perRound > 0 ? { chooser: { name: 'SimpleClientChoose', per_round: perRound } } : {}),
    config,
  });
  aggregator.server.on('round', (e) => {
    const accuracy = aggregator.rounds.at(-1)?.accuracy;
    log.info({ ...e, accuracy }, `round ${e.round} done`);
    process.stdout.write(`${JSON.stringify({ event: 'round', round: e.round, clients: e.clients, accuracy })}\n`);
  });
  const summary = await aggregator.start();
  process.stdout.write(
    `${JSON.stringify({
      event: 'done',
      rounds: summary.rounds,
      reachedTarget: summary.reachedTarget,
      transmitter: aggregator.transmitter.kind,
      accuracies: summary.history.map((h) => h.accuracy),
    })}\n`,
  );
  await aggregator.close();
} catch (err) {
  const coded = typeof err?.code === 'string' && err.code.startsWith('SEDNA_ERR_');
  process.stderr.write(`aggregator: ${coded ? `${err.code}: ${err.message}` : (err?.stack ?? err)}\n`);
  process.exitCode = 1;
  await aggregator?.close();
}
