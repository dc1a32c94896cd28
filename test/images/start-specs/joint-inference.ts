/** Start specs of examples/joint-inference's images (see ../workers.ts). */
import fs from 'node:fs';
import path from 'node:path';
import { FIXTURES, type RunOptions } from '../containers.js';
import { HEM, NAMESPACE, logLine, models, stdoutJson, type StartSpecs, type WorkerContext } from '../workers.js';

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

const specs: StartSpecs = {
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
};

export default specs;
