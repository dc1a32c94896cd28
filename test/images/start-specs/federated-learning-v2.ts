/** Start specs of examples/federated-learning-v2's image (see ../workers.ts): one image, two workers. */
import type { RunOptions } from '../containers.js';
import { NAMESPACE, lastReport, logLine, type StartSpecs, type WorkerContext } from '../workers.js';
import { flTrainer } from './federated-learning.js';

const IMAGE = 'sedna-sdk-example-federated-learning-v2';
const JOB = 'digits-fl-v2';

/** The aggregation worker: the same image, the script the YAML's command names. */
function aggregatorV2(ctx: Pick<WorkerContext, 'network'>, worker: string): RunOptions {
  return {
    image: IMAGE,
    name: worker,
    network: ctx.network,
    aliases: [`${JOB}-aggregation.${NAMESPACE}`],
    args: ['examples/federated-learning-v2/aggregator.mjs'],
    env: {
      NAMESPACE,
      JOB_NAME: JOB,
      WORKER_NAME: worker,
      AGG_BIND_PORT: '7363',
      PARTICIPANTS_COUNT: '1',
      TRANSMITTER: 'ws',
      aggregation_algorithm: 'FedAvgV2',
      rounds: '1000', // still running when the trainer is stopped
      LOG_LEVEL: 'info',
    },
  };
}

const specs: StartSpecs = {
  // Its CMD is the trainer; the aggregator (the same image) runs first.
  [IMAGE]: {
    workerPrefix: 'trainworker',
    companions: (ctx) => [
      { options: aggregatorV2(ctx, 'aggworker-v2-start'), ready: logLine('aggregation server for FedAvgV2 listening') },
    ],
    options: (ctx, worker) => flTrainer(ctx, worker, { job: JOB, aggregation: 'FedAvgV2' }),
    ready: logLine('subscribed'),
    end: { stop: 143 },
    finalReport: lastReport('train', 'failed', 'federatedlearningjob'),
  },
};

export default specs;
