/**
 * Our server factory vs a bare node:http handler, same JSON route, each server in its own process
 * and autocannon in a third (2 cores: the load generator and the server each get one).
 * Target: factory ≥ 0.9× bare requests/s. Rounds alternate A/B; medians are compared.
 */
import path from 'node:path';
import { autocannon, median, startServerProcess } from './lib/autocannon.js';

const serve = path.join(import.meta.dirname, 'lib', 'serve.ts');
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const seconds = Number(process.env.BENCH_SECONDS ?? 4);
const results: Record<'bare' | 'factory', number[]> = { bare: [], factory: [] };

for (let round = 0; round < rounds; round++) {
  for (const mode of ['bare', 'factory'] as const) {
    const server = await startServerProcess(serve, [mode]);
    try {
      await autocannon(server.url, { seconds: 1 }); // warm-up
      const r = await autocannon(server.url, { seconds });
      if (r.errors > 0 || r.non2xx > 0) throw new Error(`${mode}: ${r.errors} errors, ${r.non2xx} non-2xx`);
      results[mode].push(r.requestsPerSec);
      console.log(
        `round ${round + 1} ${mode.padEnd(8)} ${r.requestsPerSec.toFixed(0)} req/s  p50 ${r.latencyP50Ms} ms  p99 ${r.latencyP99Ms} ms`,
      );
    } finally {
      server.stop();
    }
  }
}
const bare = median(results.bare);
const factory = median(results.factory);
console.log(`\nmedian req/s: bare node:http ${bare.toFixed(0)}, server factory ${factory.toFixed(0)}`);
console.log(`ratio factory/bare = ${(factory / bare).toFixed(3)} (target ≥ 0.9)`);
