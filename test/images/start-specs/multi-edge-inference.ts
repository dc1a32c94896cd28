/** Start specs of examples/multi-edge-inference's image (see ../workers.ts): its default worker, feature extraction. */
import { NAMESPACE, stdoutJson, type StartSpecs } from '../workers.js';

const specs: StartSpecs = {
  'sedna-sdk-example-multi-edge-inference': {
    workerPrefix: 'feature-extraction-fe',
    options: (ctx, worker) => ({
      network: ctx.network,
      aliases: [`feature-extraction-fe.${NAMESPACE}`],
      env: {
        NAMESPACE,
        SERVICE_NAME: 'feature-extraction',
        WORKER_NAME: worker,
        LC_SERVER: ctx.lc.url,
        FE_MODEL_BIND_PORT: '6000',
        DET_MODEL_BIND_URL: `video-analytics-videoanalytics.${NAMESPACE}`,
        LOG_LEVEL: 'info',
      },
      publish: [6000],
    }),
    ready: stdoutJson('event', 'listening'),
    health: { port: 6000, path: '/healthz' },
    end: { stop: 0 },
  },
};

export default specs;
