#!/usr/bin/env node
// Federated learning, training worker (one of the FederatedLearningJob's trainingWorkers).
//
// Configured by what the Sedna controller injects: AGG_IP, AGG_PORT, WORKER_NAME (the client id),
// JOB_NAME, NAMESPACE, LC_SERVER, MODEL_URL (where each round's aggregate is saved),
// TRAIN_DATASET_URL (this node's digits CSV) and CONNECT_TIMEOUT; plus the pod template's own:
//
//   aggregation_algorithm  must match the aggregator's (default FedAvg)
//   epochs                 local epochs per round (default 2)
//   batch_size             (default 32)
//   learning_rate          (default 0.01)
//   TEST_DATASET_URL       optional: a digits CSV to report the final model's accuracy on
//
// Waits for the aggregator (with backoff, up to CONNECT_TIMEOUT), trains round after round until
// the aggregator says the job is done, saves the model (a TF.js folder) to MODEL_URL and reports
// `kind: train` to the LC each round. Prints one JSON line with the rounds and the accuracy.
import {
  FederatedLearning,
  getIntegerParameter,
  getLogger,
  getNumberParameter,
  getParameter,
  loadConfig,
} from 'sedna-sdk';
import { TfjsEstimator } from 'sedna-sdk/backend/tfjs';
import { createDigitsModel, loadDigitsCsv } from './digits.mjs';

const log = getLogger('trainer');
const config = loadConfig();
const epochs = getIntegerParameter('epochs', 2, { min: 1 });
const batchSize = getIntegerParameter('batch_size', 32, { min: 1 });
const learningRate = getNumberParameter('learning_rate', 0.01, { min: 0 });

if (config.trainDatasetUrl === undefined) throw new Error('TRAIN_DATASET_URL is not set');
const train = await loadDigitsCsv(config.trainDatasetUrl, 'train');
const estimator = await TfjsEstimator.create({ model: (tf) => createDigitsModel(tf) });
const job = await FederatedLearning.create({ estimator, config });
try {
  const result = await job.train(train, undefined, {
    epochs,
    batchSize,
    learningRate,
    onRound: (round) => log.info(round, `round ${round.round} done`),
  });
  let accuracy;
  const testUrl = getParameter('TEST_DATASET_URL');
  if (testUrl !== undefined) accuracy = (await estimator.evaluate(await loadDigitsCsv(testUrl, 'test'))).accuracy;
  process.stdout.write(
    `${JSON.stringify({
      worker: job.clientId,
      samples: train.x.length,
      rounds: result.rounds.map((r) => ({ round: r.round, totalSamples: r.totalSamples, loss: r.metrics.loss })),
      modelUrl: result.modelUrl,
      accuracy,
    })}\n`,
  );
} finally {
  await job.close();
}
