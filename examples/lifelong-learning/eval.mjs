#!/usr/bin/env node
// Lifelong learning, eval worker (the LifelongLearningJob's evalSpec), on the cloud.
//
// Configured only by what the Sedna controller injects: WORKER_NAME, NAMESPACE, JOB_NAME,
// LC_SERVER, KB_SERVER, OUTPUT_URL, MODEL_URLS (the index the train worker wrote) and
// TEST_DATASET_URL; plus the pod template's variables, as in Sedna's thermal-comfort example:
//
//   metrics          scikit-learn metric names (default precision_score)
//   metric_param     their parameters as JSON (default {"average": "micro"})
//   operator         the drop condition's operator (default ">"; with a score set "<")
//   model_threshold  a task whose score satisfies `score <operator> threshold` is not deployed
//
// Scores each task's model on the test split, drops the weak ones (in the knowledge base and in
// `<OUTPUT_URL>/index.pkl`) and reports `kind: eval` to the LC. Prints one JSON line.
import { LifelongLearning, getLogger, loadConfig } from 'sedna-sdk';
import { createEstimator, readPenguins } from './penguins.mjs';

const log = getLogger('eval');
const config = loadConfig();
const ll = await LifelongLearning.create({ createEstimator, config });
try {
  if (config.testDatasetUrl === undefined) throw new Error('TEST_DATASET_URL is not set');
  const result = await ll.evaluate(() => readPenguins(config.testDatasetUrl, 'eval'));
  log.info({ metrics: result.metrics, dropped: result.dropped }, 'evaluated');
  process.stdout.write(
    `${JSON.stringify({ metrics: result.metrics, tasks: result.tasks, dropped: result.dropped, indexUrl: result.indexUrl })}\n`,
  );
} finally {
  await ll.close();
}
