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
//
// SIGTERM (Kubernetes deleting the pod, `podman stop`) stops the local training between batches (or
// the wait for the round's aggregate), reports `train failed` to the LC and exits 143 (128 +
// SIGTERM); before the aggregator answered at all it exits 143 at once.
// Bad input (no dataset, an unreachable aggregator past CONNECT_TIMEOUT) is a coded error on
// stderr and exit code 1; so is a last report the LC never got.
import { constants } from 'node:os';
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
/** The coded error on stderr (whatever LOG_LEVEL says) and exit code 1: the pod fails visibly. */
const fail = (err, context = 'failed') => {
  const coded = typeof err?.code === 'string' && err.code.startsWith('SEDNA_ERR_');
  process.stderr.write(`trainer: ${context}: ${coded ? `${err.code}: ${err.message}` : (err?.stack ?? err)}\n`);
  process.exitCode = 1;
};
let job;
const stopping = new AbortController();
for (const signal of ['SIGTERM', 'SIGINT'])
  process.once(signal, () => {
    // Still waiting for the aggregator: nothing trained, nothing to report.
    if (job === undefined) process.exit(128 + constants.signals[signal]);
    log.info(`${signal}: stopping the training`);
    stopping.abort(signal);
  });

try {
  const config = loadConfig();
  const epochs = getIntegerParameter('epochs', 2, { min: 1 });
  const batchSize = getIntegerParameter('batch_size', 32, { min: 1 });
  const learningRate = getNumberParameter('learning_rate', 0.01, { min: 0 });
  if (config.trainDatasetUrl === undefined) throw new Error('TRAIN_DATASET_URL is not set');
  const train = await loadDigitsCsv(config.trainDatasetUrl, 'train');
  const estimator = await TfjsEstimator.create({ model: (tf) => createDigitsModel(tf) });
  job = await FederatedLearning.create({ estimator, config }); // waits for the aggregator
  log.info({ aggregator: job.url, samples: train.x.length }, 'connected to the aggregator');
  const result = await job.train(train, undefined, {
    epochs,
    batchSize,
    learningRate,
    signal: stopping.signal,
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
} catch (err) {
  if (stopping.signal.aborted) {
    log.warn({ err }, 'training stopped before the last round');
    process.exitCode = 128 + constants.signals[stopping.signal.reason];
  } else fail(err);
} finally {
  await job?.close().catch((err) => fail(err, 'closing failed'));
  if (job !== undefined && !job.reportHealth.lastReportDelivered)
    fail(job.reportHealth.lastReportError, 'the last report did not reach the LocalController');
}
