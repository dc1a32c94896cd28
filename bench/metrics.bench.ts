/**
 * Prometheus metrics on vs off on POST /sedna/predict (InferenceServer, trivial model): each server
 * in its own process, autocannon in a third. Target (issue 17): metrics on ≥ 0.95× the requests/s
 * of metrics off.
 *
 * Two measures per run:
 * - req/s, as autocannon sees it. On a shared 2-core machine this swings by 2× between runs with
 *   whatever else is running, so both servers stay up, runs alternate off/on (each pair in a new
 *   order), and the median of the per-pair ratios is printed.
 * - the server's CPU time per answered request (its own `process.cpuUsage()`, read before and after
 *   the load). The server is single-threaded and CPU-bound here, so off/on of that is the req/s
 *   ratio one core can sustain, and other load on the machine does not move it. The target is
 *   judged on this one.
 */
import path from 'node:path';
import { autocannon, median, serverCpuMicros, startServerProcess } from './lib/autocannon.js';

const serve = path.join(import.meta.dirname, 'lib', 'serve.ts');
const rounds = Number(process.env.BENCH_ROUNDS ?? 12);
const seconds = Number(process.env.BENCH_SECONDS ?? 2);
const body = JSON.stringify({ post_process: null, data: [Array.from({ length: 64 }, (_, i) => i / 64)] });
const request = { method: 'POST', body, headers: { 'content-type': 'application/json' } };

type Mode = 'off' | 'on';
interface Run {
  requestsPerSec: number;
  cpuMicrosPerRequest: number;
}

// Both servers live through the whole bench (same JIT state for every run), and the runs
// alternate between them often, so drift in the machine's load falls on both alike.
const servers = {
  off: await startServerProcess(serve, ['predict']),
  on: await startServerProcess(serve, ['predict-metrics']),
};

async function measure(mode: Mode): Promise<Run> {
  const server = servers[mode];
  const cpuBefore = await serverCpuMicros(server);
  const r = await autocannon(server.url, { ...request, seconds });
  const cpuAfter = await serverCpuMicros(server);
  if (r.errors > 0 || r.non2xx > 0) throw new Error(`${mode}: ${r.errors} errors, ${r.non2xx} non-2xx`);
  return { requestsPerSec: r.requestsPerSec, cpuMicrosPerRequest: (cpuAfter - cpuBefore) / r.requests };
}

const runs: Record<Mode, Run[]> = { off: [], on: [] };
const rpsRatios: number[] = [];
const cpuRatios: number[] = [];
try {
  for (const mode of ['off', 'on'] as const) await autocannon(servers[mode].url, { ...request, seconds: 2 }); // warm-up
  for (let round = 0; round < rounds; round++) {
    const order: Mode[] = round % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
    const pair: Partial<Record<Mode, Run>> = {};
    for (const mode of order) {
      const run = await measure(mode);
      pair[mode] = run;
      runs[mode].push(run);
      console.log(
        `round ${String(round + 1).padStart(2)} metrics ${mode.padEnd(3)} ${run.requestsPerSec.toFixed(0).padStart(6)} req/s  ` +
          `server CPU ${run.cpuMicrosPerRequest.toFixed(1)} µs/request`,
      );
    }
    rpsRatios.push(pair.on!.requestsPerSec / pair.off!.requestsPerSec);
    cpuRatios.push(pair.off!.cpuMicrosPerRequest / pair.on!.cpuMicrosPerRequest);
  }
  // The scrape works and counted every request the server with metrics answered.
  const answered = runs.on.reduce((n, r) => n + r.requestsPerSec * seconds, 0);
  const text = await (await fetch(new URL('/metrics', servers.on.url))).text();
  const counted = /sedna_http_requests_total\{[^}]*route="\/sedna\/predict"[^}]*status="200"\} (\d+)/.exec(text);
  if (counted === null || Number(counted[1]) < 0.9 * answered) {
    throw new Error(`/metrics counted ${counted?.[1] ?? 'nothing'} of about ${answered.toFixed(0)} requests`);
  }
} finally {
  servers.off.stop();
  servers.on.stop();
}

const rps = (mode: Mode): number => median(runs[mode].map((r) => r.requestsPerSec));
const cpu = (mode: Mode): number => median(runs[mode].map((r) => r.cpuMicrosPerRequest));
console.log(`\nmedian req/s: metrics off ${rps('off').toFixed(0)}, on ${rps('on').toFixed(0)}`);
console.log(
  `req/s ratio on/off, median of ${rounds} pairs = ${median(rpsRatios).toFixed(3)} (moves with machine load)`,
);
console.log(`median server CPU per request: off ${cpu('off').toFixed(1)} µs, on ${cpu('on').toFixed(1)} µs`);
console.log(
  `CPU-bound throughput ratio on/off, median of ${rounds} pairs = ${median(cpuRatios).toFixed(3)} (target ≥ 0.95)`,
);
