#!/usr/bin/env node
// Incremental learning, eval worker (the IncrementalLearningJob's evalSpec).
//
// Configured only by what the Sedna controller injects: WORKER_NAME, NAMESPACE, JOB_NAME,
// LC_SERVER, MODEL_URLS (`<newly trained model>;<deployed model>`), TEST_DATASET_URL and
// ORIGINAL_DATASET_URL. Evaluates both models on the test samples and reports `kind: eval` with
// `{accuracy: [...]}` per model, in MODEL_URLS order; the LC then computes `accuracy_delta` for the
// job's deploy trigger. Prints one JSON line with the metrics and that delta.
import { IncrementalLearning, getLogger, loadConfig } from 'sedna-sdk';
import { TfjsEstimator } from 'sedna-sdk/backend/tfjs';
import { loadSamples } from './digits.mjs';

const log = getLogger('eval');
const config = loadConfig();
const il = await IncrementalLearning.create({
  estimator: await TfjsEstimator.create(),
  estimatorFactory: () => TfjsEstimator.create(), // each model in its own instance
  config,
});
try {
  if (config.testDatasetUrl === undefined) throw new Error('TEST_DATASET_URL is not set');
  const result = await il.evaluate(() => loadSamples(config.testDatasetUrl, config.originalDatasetUrl));
  log.info({ models: result.models, deltas: result.deltas }, 'evaluated');
  process.stdout.write(`${JSON.stringify({ models: result.models, deltas: result.deltas })}\n`);
} finally {
  await il.close();
}
