#!/usr/bin/env node
// Incremental learning, inference worker (the IncrementalLearningJob's deploySpec).
//
// Configured by what the Sedna controller injects: WORKER_NAME, NAMESPACE, JOB_NAME, LC_SERVER,
// MODEL_URL, HEM_NAME, HEM_PARAMETERS, and with `hotUpdateEnabled` MODEL_HOT_UPDATE=true,
// MODEL_POLL_PERIOD_SECONDS and MODEL_HOT_UPDATE_CONFIG; plus the pod template's variables:
//
//   HE_SAVED_URL  folder for hard examples (default /tmp/hard-examples), as in Sedna's helmet example
//   bind_ip       listen address (default 0.0.0.0)
//   bind_port     listen port (default 5000; 0 picks a free one)
//
// Serves `POST /{JOB_NAME}/predict` with `{"data": [sample, ...]}`, where a sample is a row of 64
// scaled pixels or `{"x": row, "ref": "<where it came from>", "mine": false}` (`ref` goes into the
// hard example's metadata, `mine: false` keeps evaluation traffic out of the hard examples).
// Answers `{"result": [{label, confidence, isHardExample, modelVersion}, ...]}`. A newly deployed
// model is swapped in without a restart. Prints one JSON line when it listens.
//
// SIGTERM (Kubernetes deleting the pod, `podman stop`) lets the requests in flight finish, stops the
// hot-update poller and exits 0. A missing model or hot-update setting is a coded error on stderr
// and exit code 1; so is a last report (a deploy) the LC never got.
import {
  IncrementalLearning,
  InferenceServer,
  getIntegerParameter,
  getLogger,
  getParameter,
  loadConfig,
} from 'sedna-sdk';
import { TfjsEstimator } from 'sedna-sdk/backend/tfjs';
import { argmax } from './digits.mjs';

const log = getLogger('inference');
/** The coded error on stderr (whatever LOG_LEVEL says) and exit code 1: the pod fails visibly. */
const fail = (err, context = 'failed') => {
  const coded = typeof err?.code === 'string' && err.code.startsWith('SEDNA_ERR_');
  process.stderr.write(`inference: ${context}: ${coded ? `${err.code}: ${err.message}` : (err?.stack ?? err)}\n`);
  process.exitCode = 1;
};

let il;
let server;
const stop = async (signal) => {
  log.info(`${signal}: finishing the requests in flight`);
  await server?.close().catch((err) => fail(err, 'closing the server failed'));
  if (il !== undefined) {
    log.info(il.stats, 'inference worker done');
    await il.close().catch((err) => fail(err, 'closing failed'));
    if (!il.reportHealth.lastReportDelivered)
      fail(il.reportHealth.lastReportError, 'the last report did not reach the LocalController');
  }
  process.exit(); // with process.exitCode
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

try {
  const config = loadConfig();
  il = await IncrementalLearning.create({
    estimator: await TfjsEstimator.create(),
    // A hot update loads the new model into a second instance, then swaps: requests in flight finish
    // on the model they started with.
    estimatorFactory: () => TfjsEstimator.create(),
    // A new model answers one row before it serves: a corrupt or mismatched model is refused.
    warmup: async (estimator) => {
      await estimator.predict([new Array(64).fill(0)]);
    },
    hardExampleDir: getParameter('HE_SAVED_URL', '/tmp/hard-examples'),
    config,
  });
  il.on('modelUpdate', (update) => log.info(update, 'now serving a new model'));

  server = await InferenceServer.create({
    servername: config.jobName,
    host: getParameter('bind_ip', '0.0.0.0'),
    port: getIntegerParameter('bind_port', 5000, { min: 0, max: 65535 }),
    model: {
      async inference(data) {
        const answers = [];
        for (const sample of data) {
          const { x, ref, mine } = Array.isArray(sample) ? { x: sample } : sample;
          const out = await il.inference([x], {
            meta: ref === undefined ? {} : { ref },
            saveHardExample: mine !== false,
          });
          const probabilities = out.result[0];
          const label = argmax(probabilities);
          answers.push({
            label,
            confidence: probabilities[label],
            isHardExample: out.isHardExample,
            modelVersion: out.model.version ?? null,
          });
        }
        return answers;
      },
    },
  });
  await server.start();
  log.info({ endpoint: server.endpoint }, 'serving');
  process.stdout.write(`${JSON.stringify({ endpoint: server.endpoint, port: server.port })}\n`);
} catch (err) {
  fail(err);
  await server?.close();
  await il?.close();
}
