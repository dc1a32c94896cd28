/**
 * The per-request families of a server's `/metrics` page, counted in plain numbers and written
 * in the Prometheus text format only when scraped:
 *
 *   sedna_http_requests_total{server,method,route,status}            counter
 *   sedna_http_request_duration_seconds{server,method,route}         histogram
 *   sedna_http_errors_total{server,code}                             counter
 *
 * Why not prom-client's Counter and Histogram: each of their `inc`/`observe` calls rebuilds and
 * validates a label set and hashes it, even on a cached child, which put the per-request cost of
 * metrics at several percent of a small /predict (issue 17 asks ≥ 0.95× the req/s). Here a
 * request costs two map lookups, an increment and a bucket search; the page is identical in
 * format to prom-client's (test/unit/request-tally.test.ts compares the two on random input).
 */

/** Upper bounds (seconds) of the duration histogram's buckets, as prom-client's defaults tuned for RPCs. */
export const DURATION_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

interface RouteTally {
  readonly method: string;
  readonly route: string;
  /** Answers by status code. */
  readonly statuses: Map<number, number>;
  /** Observations per bucket (not cumulative); the last slot counts those above every bound. */
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

/** Escapes a label value as the text format requires: backslash, double quote, newline. */
function labelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** A number as the text format writes it (Go's strconv for ±Inf and NaN). */
function sampleValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

export class RequestTally {
  /** route → method → tally; two lookups on interned strings, no key built per request. */
  private readonly routes = new Map<string, Map<string, RouteTally>>();
  private readonly errors = new Map<string, number>();
  private readonly serverLabel: string;

  constructor(server: string) {
    this.serverLabel = `server="${labelValue(server)}"`;
  }

  /** One answered request that took `seconds`. */
  observe(method: string, route: string, status: number, seconds: number): void {
    let byMethod = this.routes.get(route);
    if (byMethod === undefined) {
      byMethod = new Map();
      this.routes.set(route, byMethod);
    }
    let tally = byMethod.get(method);
    if (tally === undefined) {
      tally = {
        method,
        route,
        statuses: new Map(),
        buckets: new Float64Array(DURATION_BUCKETS.length + 1),
        sum: 0,
        count: 0,
      };
      byMethod.set(method, tally);
    }
    tally.statuses.set(status, (tally.statuses.get(status) ?? 0) + 1);
    let bucket = 0;
    while (bucket < DURATION_BUCKETS.length && seconds > (DURATION_BUCKETS[bucket] as number)) bucket += 1;
    (tally.buckets[bucket] as number) += 1;
    tally.sum += seconds;
    tally.count += 1;
  }

  /** One answer with a coded error. */
  error(code: string): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  /** The three families in the Prometheus text format (each family ends with a newline). */
  render(): string {
    const requests: string[] = [];
    const durations: string[] = [];
    for (const byMethod of this.routes.values()) {
      for (const tally of byMethod.values()) {
        const labels = `${this.serverLabel},method="${labelValue(tally.method)}",route="${labelValue(tally.route)}"`;
        for (const [status, count] of tally.statuses) {
          requests.push(`sedna_http_requests_total{${labels},status="${status}"} ${count}`);
        }
        let cumulative = 0;
        DURATION_BUCKETS.forEach((bound, i) => {
          cumulative += tally.buckets[i] as number;
          durations.push(`sedna_http_request_duration_seconds_bucket{le="${bound}",${labels}} ${cumulative}`);
        });
        durations.push(`sedna_http_request_duration_seconds_bucket{le="+Inf",${labels}} ${tally.count}`);
        durations.push(`sedna_http_request_duration_seconds_sum{${labels}} ${sampleValue(tally.sum)}`);
        durations.push(`sedna_http_request_duration_seconds_count{${labels}} ${tally.count}`);
      }
    }
    const errors = [...this.errors].map(
      ([code, count]) => `sedna_http_errors_total{${this.serverLabel},code="${labelValue(code)}"} ${count}`,
    );
    return [
      family('sedna_http_requests_total', 'counter', 'HTTP requests answered, by route and status', requests),
      family('sedna_http_request_duration_seconds', 'histogram', 'Time from a request to its answer', durations),
      family('sedna_http_errors_total', 'counter', 'Answers with a SEDNA_ERR_* code, by code', errors),
    ].join('\n');
  }
}

function family(name: string, type: string, help: string, samples: readonly string[]): string {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples].join('\n') + '\n';
}
