#!/usr/bin/env node
// Joint inference, cloud worker (the JointInferenceService's cloudWorker): the big model behind
// POST /{JOB_NAME}/predict (JOB_NAME is not injected for this resource, so the route is
// /sedna/predict, as with Python Sedna).
//
// Configured by what the Sedna controller injects (MODEL_URL, BIG_MODEL_BIND_PORT) plus:
//   BIG_MODEL_BIND_IP  bind address (default: the host's primary IPv4, as Sedna)
//   max_concurrency    requests running at once (default 4)
//   batch_size         >1 turns on micro-batching of concurrent requests (default 1)
//
// SIGTERM (Kubernetes deleting the pod, `podman stop`) lets the requests in flight finish and exits
// 0. A missing or unreadable model is a coded error on stderr and exit code 1.
import { BigModelService, getIntegerParameter, getLogger } from 'sedna-sdk';
import { OnnxEstimator } from 'sedna-sdk/backend/onnx';

const log = getLogger('cloud');
/** The coded error on stderr (whatever LOG_LEVEL says) and exit code 1: the pod fails visibly. */
const fail = (err, context = 'failed') => {
  const coded = typeof err?.code === 'string' && err.code.startsWith('SEDNA_ERR_');
  process.stderr.write(`cloud: ${context}: ${coded ? `${err.code}: ${err.message}` : (err?.stack ?? err)}\n`);
  process.exitCode = 1;
};

let service;
const stop = async (signal) => {
  log.info(`${signal}: finishing the requests in flight`);
  await service?.close().catch((err) => fail(err, 'closing failed'));
  process.exit(); // with process.exitCode
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

try {
  const batchSize = getIntegerParameter('batch_size', 1, { min: 1 });
  service = await BigModelService.create({
    estimator: await OnnxEstimator.create(), // loaded from MODEL_URL
    maxConcurrency: getIntegerParameter('max_concurrency', 4, { min: 1 }),
    ...(batchSize > 1 ? { microBatch: { maxBatchSize: batchSize, maxDelayMs: 5 } } : {}),
  });
  const url = await service.start();
  log.info({ endpoint: service.endpoint }, `big model serving at ${url}`);
  // One line on stdout so launchers (and tests) know where the service listens.
  process.stdout.write(`${JSON.stringify({ endpoint: service.endpoint, port: service.port })}\n`);
} catch (err) {
  fail(err);
  await service?.close();
}
