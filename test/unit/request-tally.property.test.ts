/**
 * The per-request families are counted without prom-client (request-tally.ts) but must read the
 * same to a scraper: the same observations fed to prom-client's Counter and Histogram and to
 * RequestTally give the same samples, for random routes, methods, statuses, durations and label
 * values that need escaping.
 */
import fc from 'fast-check';
import { Counter, Histogram, Registry } from 'prom-client';
import { DURATION_BUCKETS, RequestTally } from '../../src/service/server/request-tally.js';

/** `name{labels} value` lines as a map from name plus sorted labels to the value text. */
function samples(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const brace = line.indexOf('{');
    const close = line.lastIndexOf('}');
    const name = line.slice(0, brace);
    const labels = [...line.slice(brace + 1, close).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)]
      .map((m) => `${m[1]}=${m[2]}`)
      .sort();
    const key = `${name}{${labels.join(',')}}`;
    expect(out.has(key)).toBe(false);
    out.set(key, line.slice(close + 2));
  }
  return out;
}

/** HELP and TYPE lines by family name. */
function headers(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('#'))
    .sort();
}

const labelText = fc.string({ unit: fc.constantFrom('a', '/', ':', '"', '\\', '\n', 'é', ' '), maxLength: 8 });
const request = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT'),
  route: fc.oneof(fc.constantFrom('/sedna/predict', '/ok/:id', 'unmatched'), labelText),
  status: fc.constantFrom(200, 201, 400, 404, 413, 500, 503),
  // Durations on and around the bucket bounds as well as between them.
  seconds: fc.oneof(fc.constantFrom(0, ...DURATION_BUCKETS), fc.double({ min: 0, max: 20, noNaN: true })),
});

test('RequestTally writes the same samples as prom-client for the same observations', async () => {
  await fc.assert(
    fc.asyncProperty(
      labelText,
      fc.array(request, { maxLength: 60 }),
      fc.array(fc.oneof(fc.constantFrom('SEDNA_ERR_INVALID_ARGUMENT', 'SEDNA_ERR_NOT_FOUND'), labelText), {
        maxLength: 10,
      }),
      async (server, requests, errors) => {
        const registry = new Registry();
        const counter = new Counter({
          name: 'sedna_http_requests_total',
          help: 'HTTP requests answered, by route and status',
          labelNames: ['server', 'method', 'route', 'status'],
          registers: [registry],
        });
        const histogram = new Histogram({
          name: 'sedna_http_request_duration_seconds',
          help: 'Time from a request to its answer',
          labelNames: ['server', 'method', 'route'],
          buckets: [...DURATION_BUCKETS],
          registers: [registry],
        });
        const errorCounter = new Counter({
          name: 'sedna_http_errors_total',
          help: 'Answers with a SEDNA_ERR_* code, by code',
          labelNames: ['server', 'code'],
          registers: [registry],
        });
        const tally = new RequestTally(server);
        for (const r of requests) {
          counter.labels(server, r.method, r.route, String(r.status)).inc();
          histogram.labels(server, r.method, r.route).observe(r.seconds);
          tally.observe(r.method, r.route, r.status, r.seconds);
        }
        for (const code of errors) {
          errorCounter.labels(server, code).inc();
          tally.error(code);
        }
        const expected = await registry.metrics();
        const actual = tally.render();
        expect(samples(actual)).toEqual(samples(expected));
        expect(headers(actual)).toEqual(headers(expected));
      },
    ),
    { numRuns: 150 },
  );
});

test('a duration exactly on a bound counts in that bucket, one above it in the next', () => {
  const tally = new RequestTally('s');
  tally.observe('GET', '/x', 200, 0.001);
  tally.observe('GET', '/x', 200, 0.0010001);
  tally.observe('GET', '/x', 200, 99);
  const text = tally.render();
  const value = (le: string): string | undefined =>
    samples(text).get(`sedna_http_request_duration_seconds_bucket{le=${le},method=GET,route=/x,server=s}`);
  expect(value('0.0005')).toBe('0');
  expect(value('0.001')).toBe('1');
  expect(value('0.0025')).toBe('2');
  expect(value('10')).toBe('2');
  expect(value('+Inf')).toBe('3');
});
