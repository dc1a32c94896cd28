/**
 * POST /{servername}/predict on the InferenceServer with a trivial model (sum of each sample):
 * requests/s and p50/p99 latency with autocannon in a separate process. The same-run baseline is
 * the factory's plain GET route (what the predict path costs on top: JSON body parsing,
 * validation, the concurrency limiter, the model call).
 */
import path from 'node:path';
import { autocannon, startServerProcess } from './lib/autocannon.js';

const serve = path.join(import.meta.dirname, 'lib', 'serve.ts');
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const body = JSON.stringify({ post_process: null, data: [Array.from({ length: 64 }, (_, i) => i / 64)] });

const baseline = await startServerProcess(serve, ['factory']);
let base;
try {
  await autocannon(baseline.url, { seconds: 1 });
  base = await autocannon(baseline.url, { seconds });
} finally {
  baseline.stop();
}
const predict = await startServerProcess(serve, ['predict']);
try {
  const opts = { seconds, method: 'POST', body, headers: { 'content-type': 'application/json' } };
  await autocannon(predict.url, { ...opts, seconds: 1 });
  const r = await autocannon(predict.url, opts);
  if (r.errors > 0 || r.non2xx > 0) throw new Error(`${r.errors} errors, ${r.non2xx} non-2xx`);
  console.log(
    `GET hello (baseline): ${base.requestsPerSec.toFixed(0)} req/s, p50 ${base.latencyP50Ms} ms, p99 ${base.latencyP99Ms} ms`,
  );
  console.log(
    `POST /sedna/predict (1×64 floats): ${r.requestsPerSec.toFixed(0)} req/s, p50 ${r.latencyP50Ms} ms, p99 ${r.latencyP99Ms} ms`,
  );
  console.log(`ratio predict/baseline = ${(r.requestsPerSec / base.requestsPerSec).toFixed(3)}`);
} finally {
  predict.stop();
}
