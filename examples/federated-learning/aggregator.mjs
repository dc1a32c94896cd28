#!/usr/bin/env node
// Federated learning, aggregation worker (the FederatedLearningJob's aggregationWorker).
//
// Configured by what the Sedna controller injects: AGG_BIND_PORT (7363), PARTICIPANTS_COUNT (the
// number of training workers), JOB_NAME, WORKER_NAME; plus the pod template's own variables:
//
//   aggregation_algorithm  the algorithm and WebSocket path (default FedAvg)
//   exit_round             rounds before the job ends (default 3)
//   CONNECT_TIMEOUT        seconds a silent trainer is kept (default 300)
//   MIN_CLIENTS            updates a round needs once ROUND_TIMEOUT has passed (default 1)
//   ROUND_TIMEOUT          seconds after a round's first update to close it with what arrived
//                          (default 600; 0 waits for every trainer, as Sedna does)
//
// Serves `ws://<pod>:<AGG_BIND_PORT>/<aggregation_algorithm>` until the exit round is delivered,
// then exits 0. Prints one JSON line per round, and one with the summary.
//
// SIGTERM (Kubernetes deleting the pod, `podman stop`) closes the server, the trainers' connections
// with it, and exits 143 (128 + SIGTERM): the job did not reach its exit round. A bad setting is a coded error on
// stderr and exit code 1.
import { constants } from 'node:os';
import { AggregationServer, getIntegerParameter, getLogger, getNumberParameter, loadConfig } from 'sedna-sdk';

const log = getLogger('aggregator');
/** The coded error on stderr (whatever LOG_LEVEL says) and exit code 1: the pod fails visibly. */
const fail = (err, context = 'failed') => {
  const coded = typeof err?.code === 'string' && err.code.startsWith('SEDNA_ERR_');
  process.stderr.write(`aggregator: ${context}: ${coded ? `${err.code}: ${err.message}` : (err?.stack ?? err)}\n`);
  process.exitCode = 1;
};

let server;
let stoppedBy;
const stop = (signal) => {
  log.info(`${signal}: closing the aggregation server`);
  stoppedBy = signal;
  if (server === undefined) process.exit(128 + constants.signals[signal]);
  void server.close();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

try {
  server = await AggregationServer.create({
    ...AggregationServer.optionsFromConfig(loadConfig()),
    minClients: getIntegerParameter('MIN_CLIENTS', 1, { min: 1 }),
    roundTimeoutMs: getNumberParameter('ROUND_TIMEOUT', 600, { min: 0 }) * 1000,
  });
  server.on('round', (event) => {
    log.info(event, `round ${event.round} done`);
    process.stdout.write(`${JSON.stringify({ event: 'round', ...event })}\n`);
  });
  server.on('client-error', (event) => log.warn(event, 'dropped a client'));
  await server.start();
  process.stdout.write(`${JSON.stringify({ event: 'listening', url: server.wsUrl, port: server.port })}\n`);
  const summary = await server.done;
  process.stdout.write(`${JSON.stringify({ event: 'done', rounds: summary.rounds })}\n`);
  if (stoppedBy !== undefined) process.exitCode = 128 + constants.signals[stoppedBy]; // stopped, not finished
} catch (err) {
  fail(err);
  await server?.close();
}
