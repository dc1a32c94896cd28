/** Start specs of examples/lifelong-learning's images (see ../workers.ts). */
import fs from 'node:fs';
import path from 'node:path';
import { FIXTURES, giveToImageUser, type RunOptions } from '../containers.js';
import { NAMESPACE, lastReport, stdoutJson, type StartSpecs, type WorkerContext } from '../workers.js';

const JOB = 'penguins-ll';
const KB_PORT = 9020;

/** The penguins CSV on a volume: all of it for training, every third bird for testing and the stream. */
function penguins(ctx: WorkerContext): string {
  const dir = ctx.dir('ll-data');
  const text = fs
    .readFileSync(path.join(FIXTURES, 'data', 'penguins.csv'), 'utf8')
    .trim()
    .split('\n');
  const [header, ...rows] = text as [string, ...string[]];
  fs.writeFileSync(path.join(dir, 'train.csv'), `${text.join('\n')}\n`);
  fs.writeFileSync(path.join(dir, 'test.csv'), `${[header, ...rows.filter((_, i) => i % 3 === 0)].join('\n')}\n`);
  giveToImageUser(dir);
  return dir;
}

function identity(ctx: WorkerContext, worker: string): Record<string, string> {
  return { NAMESPACE, JOB_NAME: JOB, WORKER_NAME: worker, LC_SERVER: ctx.lc.url, LOG_LEVEL: 'info' };
}

/** The knowledge base, as Sedna's KB Deployment and its Service (`kb`, port 9020). */
function kb(ctx: WorkerContext, name: string): RunOptions {
  return {
    image: 'sedna-sdk-example-lifelong-learning-kb',
    name,
    network: ctx.network,
    aliases: ['kb'],
    env: {
      KnowledgeBaseServer: `http://0.0.0.0:${KB_PORT}`,
      KnowledgeBasePath: '/kb',
      KB_URL: 'sqlite:////kb/kb.sqlite3',
      LOG_LEVEL: 'info',
    },
    volumes: [{ host: ctx.dir('ll-kb', true), container: '/kb', writable: true }],
    publish: [KB_PORT],
  };
}

/** The train worker: tasks by species and island into the KB and `<OUTPUT_URL>/index.pkl`. */
function train(ctx: WorkerContext, worker: string): Omit<RunOptions, 'image'> {
  return {
    network: ctx.network,
    env: {
      ...identity(ctx, worker),
      KB_SERVER: `http://kb:${KB_PORT}`,
      OUTPUT_URL: '/output',
      TRAIN_DATASET_URL: '/data/train.csv',
      ORIGINAL_DATASET_URL: '/data/train.csv',
      HAS_COMPLETED_INITIAL_TRAINING: 'false',
      // The job stages files in the temp folder; the container's /tmp is read-only here.
      TMPDIR: '/output',
    },
    volumes: [
      { host: penguins(ctx), container: '/data' },
      { host: ctx.dir('ll-output', true), container: '/output', writable: true },
    ],
  };
}

/** The KB and a finished training: what eval and inference start from. */
const trained = (ctx: WorkerContext) => [
  { options: kb(ctx, 'll-kb-start'), ready: stdoutJson('url') },
  {
    options: {
      image: 'sedna-sdk-example-lifelong-learning-train',
      name: 'll-train-start',
      ...train(ctx, 'train-worker-start'),
    },
    ready: stdoutJson('indexUrl'),
  },
];

const specs: StartSpecs = {
  'sedna-sdk-example-lifelong-learning-kb': {
    workerPrefix: 'kb',
    options: (ctx, worker) => {
      const { image: _image, ...options } = kb(ctx, worker);
      return options;
    },
    ready: stdoutJson('url'),
    health: { port: KB_PORT, path: '/healthz' },
    end: { stop: 0 },
  },

  'sedna-sdk-example-lifelong-learning-train': {
    workerPrefix: 'train-worker',
    companions: (ctx) => [{ options: kb(ctx, 'll-kb-train'), ready: stdoutJson('url') }],
    options: train,
    ready: stdoutJson('indexUrl'),
    end: { exit: 0 },
    finalReport: lastReport('train', 'completed', 'lifelonglearningjob'),
  },

  'sedna-sdk-example-lifelong-learning-eval': {
    workerPrefix: 'eval-worker',
    companions: trained,
    options: (ctx, worker) => ({
      network: ctx.network,
      env: {
        ...identity(ctx, worker),
        KB_SERVER: `http://kb:${KB_PORT}`,
        OUTPUT_URL: '/output',
        MODEL_URLS: '/output/index.pkl',
        TEST_DATASET_URL: '/data/test.csv',
        operator: '<',
        model_threshold: '0.5',
        TMPDIR: '/output',
      },
      volumes: [
        { host: penguins(ctx), container: '/data' },
        { host: ctx.dir('ll-output', true), container: '/output', writable: true },
      ],
    }),
    ready: stdoutJson('dropped'),
    end: { exit: 0 },
    finalReport: lastReport('eval', 'completed', 'lifelonglearningjob'),
  },

  'sedna-sdk-example-lifelong-learning-inference': {
    workerPrefix: 'inferworker',
    companions: trained,
    options: (ctx, worker) => ({
      network: ctx.network,
      env: {
        ...identity(ctx, worker),
        MODEL_URLS: '/output/index.pkl',
        infer_dataset_url: '/data/test.csv',
        infer_poll_ms: '200',
        UT_SAVED_URL: '/edge/unseen',
        edge_output_url: '/edge/kb',
        TMPDIR: '/edge',
      },
      volumes: [
        // Writable: the answers go beside the samples (`<infer_dataset_url>_out.csv`, as in Sedna).
        { host: penguins(ctx), container: '/data', writable: true },
        { host: ctx.dir('ll-output', true), container: '/output' },
        { host: ctx.dir('ll-edge', true), container: '/edge', writable: true },
      ],
    }),
    ready: stdoutJson('answered'),
    end: { stop: 0 },
  },
};

export default specs;
