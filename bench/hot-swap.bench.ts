/**
 * Model hot swap under steady load (issue 7): concurrent `IncrementalLearning.inference()` calls on
 * a TF.js digits model while the hot-update file is rewritten again and again, as the LC does on
 * deploy. Everything the real worker does runs: the poller (every 20 ms, in every phase), loading
 * the new model beside the old one, the warm-up, the swap, closing the old model, the deploy report
 * over HTTP to an LC emulator in its own process (as the real LC is).
 *
 * Same run, same process, same load. Steady phases (no swaps, the baseline) alternate with swap
 * phases (a swap every SWAP_EVERY_MS), ROUNDS times, so background noise hits both alike. Each
 * request's latency counts from its arrival (before it waits for the event loop) to its answer, so
 * an event-loop stall during a swap shows. Reported: failed requests (target 0), steady p99, p99 of
 * all requests in swap phases, and p99 of the requests that overlapped a swap (from the config
 * write to the `modelUpdate` event) with its ratio to the steady p99 (target ≤ 2×). Both swap
 * strategies run: a second estimator instance (`estimatorFactory`) and an in-place `load()`.
 *
 *   npx tsx bench/hot-swap.bench.ts     (ROUNDS=10 PHASE_MS=1000 CONCURRENCY=8 SWAP_EVERY_MS=150)
 */
import { spawn } from 'node:child_process';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { TfjsEstimator } from '../src/backend/tfjs.js';
import { loadConfig } from '../src/common/config.js';
import { IncrementalLearning } from '../src/core/incremental-learning/incremental-learning.js';
import { configureLogger } from '../src/common/logger.js';
import { loadDigits } from '../test/helpers/backend-fixtures.js';
import { constantModels, goTime, writeHotUpdateConfig } from '../test/helpers/il.js';

configureLogger({ level: 'error', name: 'bench' });
const ROUNDS = Number(process.env.ROUNDS ?? 10);
const PHASE_MS = Number(process.env.PHASE_MS ?? 1000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 8);
const SWAP_EVERY_MS = Number(process.env.SWAP_EVERY_MS ?? 150);

const rows = loadDigits('test').x.map((x) => [x]);

interface Sample {
  readonly start: number;
  readonly end: number;
}

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

async function startLc(): Promise<{ url: string; stop: () => Promise<string[][]> }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(import.meta.dirname, 'lib', 'lc-emulator-process.ts')],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, LOG_LEVEL: 'error' },
    },
  );
  const lines = readline.createInterface({ input: child.stdout });
  const next = (): Promise<string> => new Promise((resolve) => lines.once('line', resolve));
  const { url } = JSON.parse(await next()) as { url: string };
  return {
    url,
    stop: async () => {
      const last = next();
      child.kill('SIGTERM');
      return (JSON.parse(await last) as { reports: string[][] }).reports;
    },
  };
}

async function scenario(label: string, useFactory: boolean, models: readonly string[], dir: string, lcUrl: string) {
  const configFile = path.join(dir, `${useFactory ? 'factory' : 'in-place'}-model_config.json`);
  const il = await IncrementalLearning.create({
    estimator: await TfjsEstimator.create(),
    ...(useFactory ? { estimatorFactory: () => TfjsEstimator.create() } : {}),
    warmup: async (e) => {
      await e.predict(rows[0]!);
    },
    config: loadConfig({
      NAMESPACE: 'default',
      JOB_NAME: 'bench-il',
      WORKER_NAME: `inferworker-${useFactory ? 'factory' : 'inplace'}`,
      LC_SERVER: lcUrl,
      MODEL_URL: models[0]!,
      MODEL_HOT_UPDATE: 'true',
      MODEL_HOT_UPDATE_CONFIG: configFile,
      LOG_LEVEL: 'error',
    }),
    pollPeriodMs: 20,
  });
  const swaps: Sample[] = [];
  let pending: number | undefined;
  il.on('modelUpdate', () => {
    if (pending !== undefined) swaps.push({ start: pending, end: performance.now() });
    pending = undefined;
  });
  const updateErrors: string[] = [];
  il.on('modelUpdateFailed', (err) => updateErrors.push(String(err.details.reason)));
  let failures = 0;
  let k = 0;
  const run = async (ms: number, into: Sample[]): Promise<void> => {
    const until = performance.now() + ms;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (performance.now() < until) {
          // Requests arrive as I/O events in a server; yielding to the event loop does the same
          // (a loop of promise-only awaits would starve every timer, the poller's included).
          const start = performance.now();
          await new Promise(setImmediate);
          try {
            await il.inference(rows[k++ % rows.length]!);
            into.push({ start, end: performance.now() });
          } catch {
            failures++;
          }
        }
      }),
    );
  };
  let n = 0;
  /** Resolves once the last requested swap is serving. */
  const swapLanded = async (): Promise<void> => {
    const busy = (): boolean => pending !== undefined;
    while (busy()) await new Promise((resolve) => setTimeout(resolve, 5));
  };
  const swapOnce = (): void => {
    if (pending !== undefined) return; // the previous swap is still on its way
    n++;
    pending = performance.now();
    void writeHotUpdateConfig(
      configFile,
      models[n % models.length]!,
      goTime(new Date(Date.UTC(2025, 0, 1, 0, 0, 0, n))),
    );
  };
  const rounds: { steady: Sample[]; swapping: Sample[] }[] = [];
  try {
    // Warm-up, swaps included: the first swaps compile the loading code paths.
    const warmSwapper = setInterval(swapOnce, SWAP_EVERY_MS);
    await run(1000, []);
    clearInterval(warmSwapper);
    await swapLanded();
    swaps.length = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const r = { steady: [] as Sample[], swapping: [] as Sample[] };
      rounds.push(r);
      await run(PHASE_MS, r.steady);
      const swapper = setInterval(swapOnce, SWAP_EVERY_MS);
      await run(PHASE_MS, r.swapping);
      clearInterval(swapper);
      await swapLanded();
    }
  } finally {
    await il.close();
  }
  const latency = (s: readonly Sample[]): number[] => s.map((x) => x.end - x.start);
  const overlaps = (s: Sample): boolean => swaps.some((w) => s.start < w.end && s.end > w.start);
  const steady = rounds.flatMap((r) => r.steady);
  const swapping = rounds.flatMap((r) => r.swapping);
  const overlapping = swapping.filter(overlaps);
  // Per round (a steady second next to a swapping second): robust to a busy neighbour on the machine.
  const perRound = rounds.map(
    (r) => quantile(latency(r.swapping.filter(overlaps)), 0.99) / quantile(latency(r.steady), 0.99),
  );
  const steadyP99 = quantile(latency(steady), 0.99);
  const swapP99 = quantile(latency(swapping), 0.99);
  const overlapP99 = quantile(latency(overlapping), 0.99);
  const swapMs = swaps.map((w) => w.end - w.start);
  console.log(`\n${label}`);
  console.log(`  requests: steady ${steady.length}, in swap phases ${swapping.length}; failed: ${failures}`);
  console.log(
    `  swaps: ${swaps.length} (config write → new model serving: p50 ${quantile(swapMs, 0.5).toFixed(1)} ms, ` +
      `max ${Math.max(...swapMs).toFixed(1)} ms); failed updates: ${updateErrors.length}${updateErrors.length > 0 ? ` (${updateErrors.join(', ')})` : ''}`,
  );
  console.log(
    `  steady:             p50 ${quantile(latency(steady), 0.5).toFixed(3)} ms, p99 ${steadyP99.toFixed(3)} ms`,
  );
  console.log(
    `  swap phases (all):  p50 ${quantile(latency(swapping), 0.5).toFixed(3)} ms, p99 ${swapP99.toFixed(3)} ms → ${(swapP99 / steadyP99).toFixed(2)}× steady`,
  );
  console.log(
    `  overlapping a swap: ${overlapping.length} requests, p99 ${overlapP99.toFixed(3)} ms → ${(overlapP99 / steadyP99).toFixed(2)}× steady (target ≤ 2×)`,
  );
  console.log(
    `  per round, p99 overlapping / p99 steady: ${perRound.map((x) => x.toFixed(2)).join(', ')} → median ${quantile(perRound, 0.5).toFixed(2)}×`,
  );
}

const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'sedna-hot-swap-'));
const lc = await startLc();
try {
  const models = await constantModels(dir, [0, 1, 2]);
  const probe = await TfjsEstimator.create();
  await probe.close();
  console.log(
    `TF.js digits MLP (64-128-10) on ${probe.tfBackend}, ${os.cpus().length} cores, Node ${process.version}; ` +
      `${CONCURRENCY} requests in flight, ${ROUNDS} × (${PHASE_MS} ms steady + ${PHASE_MS} ms with a swap every ${SWAP_EVERY_MS} ms)`,
  );
  await scenario('second instance (estimatorFactory), the default in the example', true, models, dir, lc.url);
  await scenario('in-place load() (no factory)', false, models, dir, lc.url);
} finally {
  const reports = await lc.stop();
  const deploys = reports.filter(([kind]) => kind === 'deploy');
  console.log(
    `\nLC emulator (own process) received ${deploys.length} deploy reports, ${deploys.filter(([, s]) => s === 'completed').length} completed`,
  );
  await fsp.rm(dir, { recursive: true, force: true });
}
