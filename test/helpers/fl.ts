/** Shared set-up of the federated-learning integration tests: a trainer's config and a started aggregator. */
import { loadConfig, type SednaConfig } from '../../src/common/config.js';
import { AggregationServer, type AggregationServerOptions } from '../../src/service/server/aggregation-server.js';

/** What the controller injects into a trainer talking to an aggregator on 127.0.0.1:`port`. */
export function trainerConfig(
  port: number,
  name: string,
  base: { jobName: string; lcServer: string },
  extra: Record<string, string> = {},
): SednaConfig {
  return loadConfig({
    AGG_IP: '127.0.0.1',
    AGG_PORT: String(port),
    WORKER_NAME: name,
    JOB_NAME: base.jobName,
    NAMESPACE: 'default',
    LC_SERVER: base.lcServer,
    CONNECT_TIMEOUT: '10',
    ...extra,
  });
}

/** An aggregator on 127.0.0.1, a free port, listening; leaving clients get 200 ms after the exit round. */
export async function startAggregator(options: AggregationServerOptions): Promise<AggregationServer> {
  const server = await AggregationServer.create({ host: '127.0.0.1', port: 0, exitGraceMs: 200, ...options });
  await server.start();
  return server;
}
