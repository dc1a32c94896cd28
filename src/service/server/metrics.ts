/**
 * Prometheus metrics (prom-client) for the servers of the SDK. The server factory (base.ts) makes
 * one ServerMetrics per server when metrics are on (`metrics: true`, or `SEDNA_METRICS=true` in
 * the environment) and serves it at `/metrics`, merged with the process-wide registry
 * (processMetrics(): Node's own metrics, and counters a job adds, such as hard examples):
 *
 *   sedna_http_requests_total{server,method,route,status}
 *   sedna_http_request_duration_seconds{server,method,route}   (histogram)
 *   sedna_http_errors_total{server,code}                        (answers with a SEDNA_ERR_* code)
 *
 * A server adds its own families through `gauge()` / `counter()` (queue depths are gauges read at
 * scrape time, so they cost nothing per request). The three per-request families are counted in
 * plain numbers (request-tally.ts), so a request costs two map lookups and a few increments.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { RequestTally } from './request-tally.js';

export const METRICS_PATH = '/metrics';
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

let processRegistry: Registry | undefined;

/** The process-wide registry: Node's process metrics plus job-level counters. Made on first use. */
export function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: 'sedna_process_' });
  }
  return processRegistry;
}

/** A job-level counter in the process registry, made once per name. */
export function processCounter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
  const registry = processMetrics();
  const existing = registry.getSingleMetric(name);
  if (existing instanceof Counter) return existing;
  return new Counter({ name, help, labelNames: [...labelNames], registers: [registry] });
}

/** A gauge in the process registry whose values `collect` sets at scrape time (made once per name). */
export function processGauge<L extends string>(
  name: string,
  help: string,
  labelNames: readonly L[],
  collect: (gauge: Gauge<L>) => void,
): void {
  const registry = processMetrics();
  if (registry.getSingleMetric(name) !== undefined) return;
  new Gauge({
    name,
    help,
    labelNames: [...labelNames],
    registers: [registry],
    collect() {
      this.reset();
      collect(this);
    },
  });
}

export class ServerMetrics {
  /** This server's own families (gauges, counters, histograms a server adds). */
  readonly registry = new Registry();
  /** The per-request families, counted without prom-client's per-call label handling. */
  private readonly requests: RequestTally;

  constructor(readonly server: string) {
    this.requests = new RequestTally(server);
  }

  /** One answered request. */
  observe(method: string, route: string, status: number, seconds: number): void {
    this.requests.observe(method, route, status, seconds);
  }

  /** One answer with a coded error. */
  error(code: string): void {
    this.requests.error(code);
  }

  /** A gauge read at scrape time (queue depths, connected clients...). */
  gauge(name: string, help: string, read: () => number): void {
    const server = this.server;
    new Gauge({
      name,
      help,
      labelNames: ['server'],
      registers: [this.registry],
      collect() {
        this.labels(server).set(read());
      },
    });
  }

  /** A counter of this server's own (rounds, bytes...). */
  counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<'server' | L> {
    return new Counter({ name, help, labelNames: ['server', ...labelNames], registers: [this.registry] });
  }

  histogram<L extends string>(
    name: string,
    help: string,
    buckets: number[],
    labelNames: readonly L[] = [],
  ): Histogram<'server' | L> {
    return new Histogram({ name, help, buckets, labelNames: ['server', ...labelNames], registers: [this.registry] });
  }

  /** The exposition text of this server plus the process-wide metrics. */
  async render(): Promise<string> {
    const rest = await Registry.merge([this.registry, processMetrics()]).metrics();
    return `${this.requests.render()}\n${rest}`;
  }
}
