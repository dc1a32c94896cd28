/**
 * Prometheus metrics on vs off on POST /sedna/predict (InferenceServer, trivial model): each server
 * in its own process, autocannon in a third; rounds alternate off/on and medians are compared.
 * Target (issue 17): metrics on ≥ 0.95× the requests/s of metrics off.
 */
import path from 'node:path';
import { autocannon, median, startServerProcess } from './lib/autocannon.js';

const serve = path.join(import.meta.dirname, 'lib', 'serve.ts');
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const seconds = Number(process.env.BENCH_SECONDS ?? 4);
const body = JSON.stringify({ post_process: null, data: [Array.from({ length: 64 }, (_, i) => i / 64)] });
const request = { method: 'POST', body, headers: { 'content-type': 'application/json' } };
const results: Record<'off' | 'on', number[]> = { off: [], on: [] };

for (let round = 0; round < rounds; round++) {
  for (const mode of ['off', 'on'] as const) {
    const server = await startServerProcess(serve, [mode === 'on' ? 'predict-metrics' : 'predict']);
    try {
      await autocannon(server.url, { ...request, seconds: 1 }); // warm-up
      const r = await autocannon(server.url, { ...request, seconds });
      if (r.errors > 0 || r.non2xx > 0) throw new Error(`${mode}: ${r.errors} errors, ${r.non2xx} non-2xx`);
      if (mode === 'on') {
        // The scrape works and counted this round's requests.
        const text = await (await fetch(new URL('/metrics', server.url))).text();
        if (!text.includes('sedna_http_requests_total{')) throw new Error('no request counter on /metrics');
      }
      results[mode].push(r.requestsPerSec);
      console.log(
        `round ${round + 1} metrics ${mode.padEnd(3)} ${r.requestsPerSec.toFixed(0)} req/s  p50 ${r.latencyP50Ms} ms  p99 ${r.latencyP99Ms} ms`,
      );
    } finally {
      server.stop();
    }
  }
}
const off = median(results.off);
const on = median(results.on);
console.log(`\nmedian req/s: metrics off ${off.toFixed(0)}, metrics on ${on.toFixed(0)}`);
console.log(`ratio on/off = ${(on / off).toFixed(3)} (target ≥ 0.95)`);
