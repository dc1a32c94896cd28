/** Start specs of examples/federated-learning's images (see ../workers.ts). */
import path from 'node:path';
import { FIXTURES, type RunOptions } from '../containers.js';
import { NAMESPACE, lastReport, logLine, stdoutJson, type StartSpecs, type WorkerContext } from '../workers.js';

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

/** A training worker still training when stopped, its aggregator at the job's Service name. */
export function flTrainer(
  ctx: WorkerContext,
  worker: string,
  settings: { job: string; aggregation: string },
): Omit<RunOptions, 'image'> {
  return {
    network: ctx.network,
    env: {
      NAMESPACE,
      JOB_NAME: settings.job,
      WORKER_NAME: worker,
      LC_SERVER: ctx.lc.url,
      AGG_IP: `${settings.job}-aggregation.${NAMESPACE}`,
      AGG_PORT: '7363',
      PARTICIPANTS_COUNT: '1',
      TRANSMITTER: 'ws',
      MODEL_URL: '/home/data/output/model',
      TRAIN_DATASET_URL: '/home/data/data/digits-train.csv',
      aggregation_algorithm: settings.aggregation,
      epochs: '100000', // still training when stopped
      LOG_LEVEL: 'info',
    },
    volumes: [
      { host: path.join(FIXTURES, 'data'), container: '/home/data/data' },
      { host: ctx.dir(`${settings.job}-output`, true), container: '/home/data/output', writable: true },
    ],
  };
}

const specs: StartSpecs = {
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
    options: (ctx, worker) => flTrainer(ctx, worker, { job: 'digits-fl', aggregation: 'FedAvg' }),
    ready: logLine('connected to the aggregator'),
    end: { stop: 143 },
    finalReport: lastReport('train', 'failed', 'federatedlearningjob'),
  },
};

export default specs;
