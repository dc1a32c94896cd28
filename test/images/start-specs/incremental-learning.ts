/** Start specs of examples/incremental-learning's images (see ../workers.ts). */
import path from 'node:path';
import { type RunOptions, type Volume } from '../containers.js';
import {
  HEM,
  NAMESPACE,
  lastReport,
  logLine,
  models,
  stdoutJson,
  writeDigitsDataset,
  type StartSpecs,
  type WorkerContext,
} from '../workers.js';

/** Who an incremental-learning worker is and where its LC is, as the controller injects it. */
function ilIdentity(ctx: WorkerContext, worker: string): Record<string, string> {
  return { NAMESPACE, JOB_NAME: 'digits-il', WORKER_NAME: worker, LC_SERVER: ctx.lc.url, LOG_LEVEL: 'info' };
}

/** An incremental-learning worker's environment and its dataset volume (`count` digits samples). */
function ilWorker(
  ctx: WorkerContext,
  worker: string,
  dataset: { split: 'train' | 'test'; count: number },
  env: Record<string, string>,
  volumes: readonly Volume[] = [],
): Omit<RunOptions, 'image'> {
  const data = ctx.dir(`il-${dataset.split}-data`);
  const index = `/home/data/data/${path.basename(writeDigitsDataset(data, dataset.split, [...Array(dataset.count).keys()]))}`;
  return {
    network: ctx.network,
    env: {
      ...ilIdentity(ctx, worker),
      ORIGINAL_DATASET_URL: index,
      [dataset.split === 'train' ? 'TRAIN_DATASET_URL' : 'TEST_DATASET_URL']: index,
      ...env,
    },
    volumes: [{ host: data, container: '/home/data/data' }, ...volumes],
  };
}

const specs: StartSpecs = {
  'sedna-sdk-example-incremental-learning-train': {
    workerPrefix: 'train-worker',
    options: (ctx, worker) =>
      ilWorker(
        ctx,
        worker,
        { split: 'train', count: 40 },
        { MODEL_URL: '/home/data/output/train/1', epochs: '100000' }, // still training when stopped
        [{ host: ctx.dir('il-output', true), container: '/home/data/output', writable: true }],
      ),
    ready: logLine('training'),
    end: { stop: 143 },
    finalReport: lastReport('train', 'failed', 'incrementallearningjob'),
  },

  'sedna-sdk-example-incremental-learning-eval': {
    workerPrefix: 'eval-worker',
    options: (ctx, worker) =>
      ilWorker(
        ctx,
        worker,
        { split: 'test', count: 40 },
        { MODEL_URLS: `${models.container}/digits-mlp-tfjs;${models.container}/digits-mlp-tfjs` },
        [models],
      ),
    ready: logLine('evaluating'),
    end: { exit: 0 },
    finalReport: (reports) =>
      lastReport('eval', 'completed', 'incrementallearningjob')(reports) && reports.at(-1)?.body.results?.length === 2,
  },

  'sedna-sdk-example-incremental-learning-inference': {
    workerPrefix: 'inferworker',
    options: (ctx, worker) => ({
      network: ctx.network,
      env: {
        ...ilIdentity(ctx, worker),
        MODEL_URL: `${models.container}/digits-mlp-tfjs`,
        ...HEM,
        MODEL_HOT_UPDATE: 'true',
        MODEL_POLL_PERIOD_SECONDS: '1',
        MODEL_HOT_UPDATE_CONFIG: '/model-hot-update/model_config.json',
        HE_SAVED_URL: '/home/data/data/hard-examples',
        bind_port: '5000',
      },
      volumes: [
        models,
        { host: ctx.dir('il-hot-update', true), container: '/model-hot-update', writable: true },
        { host: ctx.dir('il-hard', true), container: '/home/data/data/hard-examples', writable: true },
      ],
      publish: [5000],
    }),
    ready: stdoutJson('endpoint'),
    health: { port: 5000, path: '/healthz' },
    end: { stop: 0 },
  },
};

export default specs;
