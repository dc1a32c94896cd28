/**
 * How the server factory (base.ts) wires metrics into a server, kept here so base.ts only calls
 * three functions: `intercept` answers `GET /metrics` in the raw node handler (before fastify, like
 * the health check); `install` adds one onResponse hook that records route, status and duration
 * (fastify's own `reply.elapsedTime`: stamping the raw request ourselves gave every
 * IncomingMessage a new shape); `countError` counts coded error answers.
 */
import type http from 'node:http';
import type { FastifyInstance } from 'fastify';
import { loadMetricsConfig } from '../../common/config.js';
import { METRICS_CONTENT_TYPE, METRICS_PATH, ServerMetrics } from './metrics.js';

export interface MetricsHook {
  readonly metrics: ServerMetrics;
  /** True when it answered the request itself (`GET /metrics`). */
  intercept(req: http.IncomingMessage, res: http.ServerResponse): boolean;
  install(app: FastifyInstance): void;
  countError(code: string): void;
}

/** The hook for a server, or undefined when metrics are off (`enabled`, else SEDNA_METRICS). */
export function metricsHookFor(name: string, enabled: boolean | undefined): MetricsHook | undefined {
  if (!(enabled ?? loadMetricsConfig().enabled)) return undefined;
  const metrics = new ServerMetrics(name);
  return {
    metrics,
    intercept(req, res) {
      if (req.method === 'GET' && req.url === METRICS_PATH) {
        metrics.render().then(
          (text) => res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE }).end(text),
          () => res.writeHead(500).end(),
        );
        return true;
      }
      return false;
    },
    install(app) {
      app.addHook('onResponse', (request, reply, done) => {
        metrics.observe(
          request.method,
          request.routeOptions.url ?? 'unmatched',
          reply.statusCode,
          reply.elapsedTime / 1000,
        );
        done();
      });
    },
    countError(code) {
      metrics.error(code);
    },
  };
}
