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
import { AggregationServer, getIntegerParameter, getLogger, getNumberParameter, loadConfig } from 'sedna-sdk';

const log = getLogger('aggregator');
const config = loadConfig();
const server = await AggregationServer.create({
  ...AggregationServer.optionsFromConfig(config),
  minClients: getIntegerParameter('MIN_CLIENTS', 1, { min: 1 }),
  roundTimeoutMs: getNumberParameter('ROUND_TIMEOUT', 600, { min: 0 }) * 1000,
});
const stop = () => {
  void server.close();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
server.on('round', (event) => {
  log.info(event, `round ${event.round} done`);
  process.stdout.write(`${JSON.stringify({ event: 'round', ...event })}\n`);
});
server.on('client-error', (event) => log.warn(event, 'dropped a client'));
await server.start();
process.stdout.write(`${JSON.stringify({ event: 'listening', url: server.wsUrl, port: server.port })}\n`);
const summary = await server.done;
process.stdout.write(`${JSON.stringify({ event: 'done', rounds: summary.rounds })}\n`);
