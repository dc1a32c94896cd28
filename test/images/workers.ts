/**
 * How each example image's worker starts, as Sedna's controller would start its pod: the
 * environment it injects (../shared/spec/sedna-lib-spec.md §1.6), the volumes (hostPath mounts),
 * the line that says the worker is ready, and how it must end on `podman stop` (SIGTERM).
 *
 * Adding an image: write its Dockerfile (examples/<job>/Dockerfile.<worker>, FROM a base image);
 * scripts/images/build.mjs finds and builds it; then add its entry here, keyed by the image name.
 * test/images/start.test.ts fails for an image without one. See docs/deploy.md.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadDigits } from '../helpers/backend-fixtures.js';
import {
  FIXTURES,
  giveToImageUser,
  type LcContainer,
  type LcLine,
  type RunOptions,
  type Volume,
} from './containers.js';

export const NAMESPACE = 'default';

/** What a spec gets: the network and LC container it runs beside, and temp folders for its volumes. */
export interface WorkerContext {
  readonly network: string;
  readonly lc: LcContainer;
  /** A temp folder (removed after the test); `writable` ones belong to the image's user. */
  dir(label: string, writable?: boolean): string;
}

export interface Ready {
  readonly stream: 'stdout' | 'stderr';
  /** What the line says, for failure messages. */
  readonly what: string;
  readonly match: (line: string) => boolean;
}

export interface WorkerSpec {
  /** Containers that must run first (the aggregator a trainer joins, the cloud an edge calls). */
  readonly companions?: (ctx: WorkerContext) => { options: RunOptions; ready: Ready }[];
  /** The worker's container, named `worker` (WORKER_NAME). */
  readonly options: (ctx: WorkerContext, worker: string) => Omit<RunOptions, 'image'>;
  readonly ready: Ready;
  /** An HTTP health route on a published port, checked once ready. */
  readonly health?: { port: number; path: string };
  /** `stop`: the exit code `podman stop` ends it with; `exit`: it ends by itself with this code. */
  readonly end: { stop: number } | { exit: number };
  /** Checks the LC's reports from this worker once it ended (its final report arrived). */
  readonly finalReport?: (reports: LcLine[], ctx: WorkerContext) => boolean;
  /** The worker name prefix the controller uses. */
  readonly workerPrefix: string;
}

/** A pino JSON log line with this message (the workers log JSON on stderr). */
export function logLine(msg: string): Ready {
  return { stream: 'stderr', what: `log "${msg}"`, match: (line) => line.includes(`"msg":"${msg}"`) };
}

/** A JSON line on stdout with this key. */
export function stdoutJson(key: string, value?: string): Ready {
  const needle = value === undefined ? `"${key}":` : `"${key}":"${value}"`;
  return { stream: 'stdout', what: `stdout ${needle}`, match: (line) => line.startsWith('{') && line.includes(needle) };
}

const models = { host: path.join(FIXTURES, 'models'), container: '/home/data/models' };
const HEM = {
  HEM_NAME: 'CrossEntropy',
  HEM_PARAMETERS: JSON.stringify([{ key: 'threshold_cross_entropy', value: '0.75' }]),
};

/** Writes digits samples as Sedna's txt dataset (`<path> <label>` lines, one JSON file per sample). */
export function writeDigitsDataset(
  dir: string,
  split: 'train' | 'test',
  indices: readonly number[],
  prefix: string = split,
): string {
  const digits = loadDigits(split);
  fs.mkdirSync(path.join(dir, 'samples'), { recursive: true });
  const lines = indices.map((i) => {
    const rel = `samples/${prefix}-${i}.json`;
    fs.writeFileSync(path.join(dir, rel), JSON.stringify([digits.x[i]]));
    return `${rel} ${digits.y[i]}`;
  });
  const index = path.join(dir, `${prefix}.txt`);
  fs.writeFileSync(index, `${lines.join('\n')}\n`);
  giveToImageUser(dir);
  return index;
}

/** The JointInferenceService's cloud worker, as its Service `<service>-cloud.<namespace>`. */
export function jiCloud(
  ctx: Pick<WorkerContext, 'network' | 'lc'>,
  worker: string,
  service = 'digits-inference',
): RunOptions {
  return {
    image: 'sedna-sdk-example-joint-inference-cloud',
    name: worker,
    network: ctx.network,
    aliases: [`${service}-cloud.${NAMESPACE}`],
    env: {
      NAMESPACE,
      SERVICE_NAME: service,
      WORKER_NAME: worker,
      LC_SERVER: ctx.lc.url,
      MODEL_URL: `${models.container}/digits-cloud.onnx`,
      BIG_MODEL_BIND_PORT: '5000',
      LOG_LEVEL: 'info',
    },
    volumes: [models],
    publish: [5000],
  };
}

/** The FederatedLearningJob's aggregation worker, as its Service `<job>-aggregation.<namespace>`. */
export function flAggregator(
  ctx: Pick<WorkerContext, 'network'>,
  worker: string,
  settings: { job: string; participants: number; exitRound: number },
): RunOptions {
  return {
    image: 'sedna-sdk-example-federated-learning-aggregator',
    name: worker,
    network: ctx.network,
    aliases: [`${settings.job}-aggregation.${NAMESPACE}`],
    env: {
      NAMESPACE,
      JOB_NAME: settings.job,
      WORKER_NAME: worker,
      AGG_BIND_PORT: '7363',
      PARTICIPANTS_COUNT: String(settings.participants),
      TRANSMITTER: 'ws',
      aggregation_algorithm: 'FedAvg',
      exit_round: String(settings.exitRound),
      MIN_CLIENTS: String(settings.participants),
      ROUND_TIMEOUT: '0',
      LOG_LEVEL: 'info',
    },
  };
}

/** A final-report check: the worker's last report has this kind, status and owner kind. */
function lastReport(kind: string, status: string, ownerKind: string): (reports: LcLine[]) => boolean {
  return (reports) => {
    const last = reports.at(-1)?.body;
    return last?.kind === kind && last.status === status && last.ownerKind === ownerKind;
  };
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
      NAMESPACE,
      JOB_NAME: 'digits-il',
      WORKER_NAME: worker,
      LC_SERVER: ctx.lc.url,
      ORIGINAL_DATASET_URL: index,
      [dataset.split === 'train' ? 'TRAIN_DATASET_URL' : 'TEST_DATASET_URL']: index,
      LOG_LEVEL: 'info',
      ...env,
    },
    volumes: [{ host: data, container: '/home/data/data' }, ...volumes],
  };
}

export const WORKERS: Record<string, WorkerSpec> = {
  'sedna-sdk-example-joint-inference-cloud': {
    workerPrefix: 'cloudworker',
    options: (ctx, worker) => jiCloud(ctx, worker),
    ready: stdoutJson('endpoint'),
    health: { port: 5000, path: '/healthz' },
    end: { stop: 0 },
  },

  'sedna-sdk-example-joint-inference-edge': {
    workerPrefix: 'edgeworker',
    companions: (ctx) => [{ options: jiCloud(ctx, 'cloudworker-start'), ready: stdoutJson('endpoint') }],
    options: (ctx, worker) => ({
      network: ctx.network,
      env: {
        NAMESPACE,
        SERVICE_NAME: 'digits-inference',
        WORKER_NAME: worker,
        LC_SERVER: ctx.lc.url,
        LC_PERIOD: '1',
        MODEL_URL: `${models.container}/digits-edge.onnx`,
        BIG_MODEL_IP: `digits-inference-cloud.${NAMESPACE}`,
        BIG_MODEL_PORT: '5000',
        ...HEM,
        input_url: '/data/input/digits-test.csv',
        output_url: '/data/output',
        loop: 'true',
        interval_ms: '5',
        LOG_LEVEL: 'info',
      },
      volumes: [
        models,
        { host: path.join(FIXTURES, 'data'), container: '/data/input' },
        { host: ctx.dir('edge-output', true), container: '/data/output', writable: true },
      ],
    }),
    ready: logLine('edge worker running'),
    end: { stop: 0 },
    // The final counters reach the LC: as many inferences as lines the worker wrote.
    finalReport: (reports, ctx) => {
      const out = fs
        .readFileSync(path.join(ctx.dir('edge-output', true), 'all.jsonl'), 'utf8')
        .trim()
        .split('\n');
      const info = reports.at(-1)?.body.ownerInfo;
      return out.length > 0 && info?.inferenceNumber === out.length;
    },
  },

  'sedna-sdk-example-federated-learning-aggregator': {
    workerPrefix: 'aggworker',
    options: (ctx, worker) => flAggregator(ctx, worker, { job: 'digits-fl', participants: 2, exitRound: 3 }),
    ready: stdoutJson('event', 'listening'),
    end: { stop: 143 }, // stopped before its exit round
  },

  'sedna-sdk-example-federated-learning-trainer': {
    workerPrefix: 'trainworker',
    companions: (ctx) => [
      {
        options: flAggregator(ctx, 'aggworker-start', { job: 'digits-fl', participants: 1, exitRound: 1000 }),
        ready: stdoutJson('event', 'listening'),
      },
    ],
    options: (ctx, worker) => ({
      network: ctx.network,
      env: {
        NAMESPACE,
        JOB_NAME: 'digits-fl',
        WORKER_NAME: worker,
        LC_SERVER: ctx.lc.url,
        AGG_IP: `digits-fl-aggregation.${NAMESPACE}`,
        AGG_PORT: '7363',
        PARTICIPANTS_COUNT: '1',
        TRANSMITTER: 'ws',
        MODEL_URL: '/home/data/output/model',
        TRAIN_DATASET_URL: '/home/data/data/digits-train.csv',
        aggregation_algorithm: 'FedAvg',
        epochs: '100000', // still training when stopped
        LOG_LEVEL: 'info',
      },
      volumes: [
        { host: path.join(FIXTURES, 'data'), container: '/home/data/data' },
        { host: ctx.dir('fl-output', true), container: '/home/data/output', writable: true },
      ],
    }),
    ready: logLine('connected to the aggregator'),
    end: { stop: 143 },
    finalReport: lastReport('train', 'failed', 'federatedlearningjob'),
  },

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
        NAMESPACE,
        JOB_NAME: 'digits-il',
        WORKER_NAME: worker,
        LC_SERVER: ctx.lc.url,
        MODEL_URL: `${models.container}/digits-mlp-tfjs`,
        ...HEM,
        MODEL_HOT_UPDATE: 'true',
        MODEL_POLL_PERIOD_SECONDS: '1',
        MODEL_HOT_UPDATE_CONFIG: '/model-hot-update/model_config.json',
        HE_SAVED_URL: '/home/data/data/hard-examples',
        bind_port: '5000',
        LOG_LEVEL: 'info',
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
