#!/usr/bin/env node
// Incremental learning, eval worker (the IncrementalLearningJob's evalSpec).
//
// Configured only by what the Sedna controller injects: WORKER_NAME, NAMESPACE, JOB_NAME,
// LC_SERVER, MODEL_URLS (`<newly trained model>;<deployed model>`), TEST_DATASET_URL and
// ORIGINAL_DATASET_URL. Evaluates both models on the test samples and reports `kind: eval` with
// `{accuracy: [...]}` per model, in MODEL_URLS order; the LC then computes `accuracy_delta` for the
// job's deploy trigger. Prints one JSON line with the metrics and that delta.
//
// SIGTERM (Kubernetes deleting the pod, `podman stop`) lets the evaluation under way finish (it
// takes seconds) and report, then exits. Bad input (a missing model or dataset file, MODEL_URLS
// without two models) is a coded error on stderr and exit code 1; so is a last report the LC never got.
import { IncrementalLearning, getLogger, loadConfig } from 'sedna-sdk';
import { TfjsEstimator } from 'sedna-sdk/backend/tfjs';
import { loadSamples } from './digits.mjs';

const log = getLogger('eval');
/** The coded error on stderr (whatever LOG_LEVEL says) and exit code 1: the pod fails visibly. */
const fail = (err, context = 'failed') => {
  const coded = typeof err?.code === 'string' && err.code.startsWith('SEDNA_ERR_');
  process.stderr.write(`eval: ${context}: ${coded ? `${err.code}: ${err.message}` : (err?.stack ?? err)}\n`);
  process.exitCode = 1;
};
for (const signal of ['SIGTERM', 'SIGINT'])
  process.once(signal, () => log.info(`${signal}: finishing the evaluation under way, then exiting`));

const config = loadConfig();
let il;
try {
  il = await IncrementalLearning.create({
    estimator: await TfjsEstimator.create(),
    estimatorFactory: () => TfjsEstimator.create(), // each model in its own instance
    config,
  });
  if (config.testDatasetUrl === undefined) throw new Error('TEST_DATASET_URL is not set');
  log.info({ models: config.modelUrls, dataset: config.testDatasetUrl }, 'evaluating');
  const result = await il.evaluate(() => loadSamples(config.testDatasetUrl, config.originalDatasetUrl));
  log.info({ models: result.models, deltas: result.deltas }, 'evaluated');
  process.stdout.write(`${JSON.stringify({ models: result.models, deltas: result.deltas })}\n`);
} catch (err) {
  fail(err);
} finally {
  await il?.close().catch((err) => fail(err, 'closing failed'));
  if (il !== undefined && !il.reportHealth.lastReportDelivered)
    fail(il.reportHealth.lastReportError, 'the last report did not reach the LocalController');
}
