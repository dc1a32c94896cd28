#!/usr/bin/env node
// Incremental learning, train worker (the IncrementalLearningJob's trainSpec).
//
// Configured only by what the Sedna controller injects: WORKER_NAME, NAMESPACE, JOB_NAME,
// LC_SERVER, BASE_MODEL_URL (the model to start from), MODEL_URL (this round's output folder),
// TRAIN_DATASET_URL (the round's index file) and ORIGINAL_DATASET_URL (the dataset's own index,
// whose folder the sample paths are relative to); plus the pod template's own variables:
//
//   epochs         training epochs (default 30)
//   batch_size     (default 32)
//   learning_rate  (default 0.005)
//
// Saves the model to MODEL_URL/model (a TF.js folder) and reports `kind: train` to the LC. Prints
// one JSON line with the metrics and the reported results.
//
// SIGTERM (Kubernetes deleting the pod, `podman stop`) stops the training between batches, reports
// `train failed` to the LC and exits 143 (128 + SIGTERM). Bad input (a missing dataset file or base
// model) is a coded error on stderr and exit code 1; so is a last report the LC never got.
import { constants } from 'node:os';
import { IncrementalLearning, getIntegerParameter, getLogger, getNumberParameter, loadConfig } from 'sedna-sdk';
import { TfjsEstimator } from 'sedna-sdk/backend/tfjs';
import { createDigitsModel, loadSamples } from './digits.mjs';

const log = getLogger('train');
/** The coded error on stderr (whatever LOG_LEVEL says) and exit code 1: the pod fails visibly. */
const fail = (err, context = 'failed') => {
  const coded = typeof err?.code === 'string' && err.code.startsWith('SEDNA_ERR_');
  process.stderr.write(`train: ${context}: ${coded ? `${err.code}: ${err.message}` : (err?.stack ?? err)}\n`);
  process.exitCode = 1;
};
const stopping = new AbortController();
for (const signal of ['SIGTERM', 'SIGINT'])
  process.once(signal, () => {
    log.info(`${signal}: stopping the training`);
    stopping.abort(signal);
  });

let il;
try {
  const config = loadConfig();
  const epochs = getIntegerParameter('epochs', 30, { min: 1 });
  const batchSize = getIntegerParameter('batch_size', 32, { min: 1 });
  const learningRate = getNumberParameter('learning_rate', 0.005, { min: 0 });
  // Without BASE_MODEL_URL the model starts from scratch (the first round of a new job).
  const estimator = await TfjsEstimator.create({ model: (tf) => createDigitsModel(tf) });
  il = await IncrementalLearning.create({ estimator, config });
  if (config.trainDatasetUrl === undefined) throw new Error('TRAIN_DATASET_URL is not set');
  log.info({ dataset: config.trainDatasetUrl, base: config.baseModelUrl ?? null, epochs }, 'training');
  // Loading the samples inside train() makes a bad dataset a reported train failure.
  const result = await il.train(() => loadSamples(config.trainDatasetUrl, config.originalDatasetUrl), undefined, {
    epochs,
    batchSize,
    learningRate,
    signal: stopping.signal,
    onEpoch: ({ epoch, metrics }) => log.debug({ epoch, ...metrics }, 'epoch'),
  });
  log.info({ modelUrl: result.modelUrl, metrics: result.metrics }, 'trained');
  process.stdout.write(
    `${JSON.stringify({ metrics: result.metrics, modelUrl: result.modelUrl, results: result.results })}\n`,
  );
} catch (err) {
  if (stopping.signal.aborted) {
    log.warn({ err }, 'training stopped');
    process.exitCode = 128 + constants.signals[stopping.signal.reason];
  } else fail(err);
} finally {
  await il?.close().catch((err) => fail(err, 'closing failed'));
  if (il !== undefined && !il.reportHealth.lastReportDelivered)
    fail(il.reportHealth.lastReportError, 'the last report did not reach the LocalController');
}
