/**
 * Runs examples/federated-learning's (or federated-learning-v2's) workers as pods would: an aggregator and two trainers, child
 * processes configured only by environment variables, the trainers reporting to an LC (shared by
 * the conformance suite and `npm run stress:fl`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { runNode, type ChildResult } from './child.js';
import { ROOT } from './paths.js';
import { deadPort } from './scripted-server.js';

export const FL_EXAMPLE = path.join(ROOT, 'examples', 'federated-learning');
/** The v2 workers (AggregationServerV2, FederatedLearningV2). */
export const FL_V2_EXAMPLE = path.join(ROOT, 'examples', 'federated-learning-v2');
const TRAIN_CSV = path.join(ROOT, 'test', 'fixtures', 'data', 'digits-train.csv');

/** Two shards of the digits train split (300 and 200 rows, with the header) under `hostData`/data. */
export function writeFederatedShards(hostData: string): string[] {
  fs.mkdirSync(path.join(hostData, 'data'), { recursive: true });
  const [header, ...rows] = fs.readFileSync(TRAIN_CSV, 'utf8').trim().split('\n');
  return [rows.slice(0, 300), rows.slice(300, 500)].map((part, k) => {
    const file = path.join(hostData, 'data', `shard-${k}.csv`);
    fs.writeFileSync(file, `${header!}\n${part.join('\n')}\n`);
    return file;
  });
}

export interface FederatedJobOptions {
  lcServer: string;
  /** DATA_PATH_PREFIX: the shards and the models live under it. */
  hostData: string;
  shards: readonly string[];
  jobName: string;
  rounds: number;
  /** Each worker's kill timer. */
  timeoutMs: number;
  /** Which example's workers: v1 (FederatedLearning, FedAvg; default) or v2 (the V2 classes, FedAvgV2). */
  api?: 'v1' | 'v2';
  /** More variables for every worker (TRANSMITTER=s3 and its settings, say). */
  env?: Record<string, string>;
}

/**
 * Runs the aggregator and one trainer per shard to completion. CONNECT_TIMEOUT (60 s) bounds the
 * aggregator's stall detection too, so a round that cannot complete is reported by the aggregator
 * before a test's kill timer (`timeoutMs`, larger) finds it.
 */
export async function runFederatedJob(options: FederatedJobOptions): Promise<ChildResult[]> {
  const port = await deadPort();
  const v2 = options.api === 'v2';
  const dir = v2 ? FL_V2_EXAMPLE : FL_EXAMPLE;
  const common = {
    ...options.env,
    NAMESPACE: 'default',
    JOB_NAME: options.jobName,
    aggregation_algorithm: v2 ? 'FedAvgV2' : 'FedAvg',
    exit_round: String(options.rounds),
    CONNECT_TIMEOUT: '60',
    LOG_LEVEL: 'error',
  };
  const aggregator = runNode([path.join(dir, 'aggregator.mjs')], {
    name: 'aggworker',
    cwd: ROOT,
    timeoutMs: options.timeoutMs,
    env: {
      ...common,
      WORKER_NAME: 'aggworker-abcde',
      AGG_BIND_IP: '127.0.0.1',
      AGG_BIND_PORT: String(port),
      PARTICIPANTS_COUNT: String(options.shards.length),
    },
  });
  const trainers = options.shards.map((shard, k) =>
    runNode([path.join(dir, 'trainer.mjs')], {
      name: `trainworker-${k}`,
      cwd: ROOT,
      timeoutMs: options.timeoutMs,
      env: {
        ...common,
        WORKER_NAME: `trainworker-${k}`,
        AGG_IP: '127.0.0.1',
        AGG_PORT: String(port),
        LC_SERVER: options.lcServer,
        DATA_PATH_PREFIX: options.hostData,
        MODEL_URL: path.join(options.hostData, 'models', `trainworker-${k}`),
        TRAIN_DATASET_URL: shard,
        epochs: '1',
      },
    }),
  );
  return Promise.all([aggregator, ...trainers]);
}
