#!/usr/bin/env node
// Lifelong learning, train worker (the LifelongLearningJob's trainSpec), on the cloud.
//
// Configured only by what the Sedna controller injects: WORKER_NAME, NAMESPACE, JOB_NAME,
// LC_SERVER, KB_SERVER, OUTPUT_URL, TRAIN_DATASET_URL, HAS_COMPLETED_INITIAL_TRAINING (true once a
// first training completed: then this round is an update that keeps the knowledge base's tasks)
// and CLOUD_KB_INDEX; plus MIN_TRAIN_SAMPLE (default 10) from the pod template.
//
// Splits the samples into tasks by species and island, trains a model per task and a global model
// (for tasks with too few samples, unseen tasks and dropped ones), stores models, samples and the index in the knowledge base and
// `<OUTPUT_URL>/index.pkl`, and reports `kind: train` to the LC. Prints one JSON line.
import { LifelongLearning, getLogger, loadConfig } from 'sedna-sdk';
import { TASK_DEFINITION, createEstimator, readPenguins } from './penguins.mjs';

const log = getLogger('train');
const config = loadConfig();
const ll = await LifelongLearning.create({ createEstimator, config, taskDefinition: TASK_DEFINITION });
try {
  if (config.trainDatasetUrl === undefined) throw new Error('TRAIN_DATASET_URL is not set');
  // Reading inside train() makes a bad dataset a reported train failure.
  // A global model, trained on every sample, answers the birds of unseen tasks and of tasks the eval
  // worker drops (without one, the first task's model would, as in Sedna).
  const result = await ll.train(() => readPenguins(config.trainDatasetUrl), { globalModel: 'always' });
  const tasks = result.index.seen_task.task_groups.map((g) => ({
    entry: g.entry,
    samples: g.sample_num,
    model: g.model.entry,
    trainAccuracy: g.model.result?.accuracy ?? null,
  }));
  log.info({ action: result.action, tasks, index: result.indexUrl }, 'trained');
  process.stdout.write(
    `${JSON.stringify({ action: result.action, indexUrl: result.indexUrl, kbIndexUrl: result.kbIndexUrl, tasks, retrained: result.retrained, kept: result.kept })}\n`,
  );
} finally {
  await ll.close();
}
