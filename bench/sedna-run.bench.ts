/**
 * `sedna run` of the joint-inference example YAML, unchanged: time from start to the first
 * answered inference (the edge's first line in all.jsonl on its node), then the runner's own CPU
 * and RSS over a window while the job runs (the workers excluded: they are other processes).
 * Target (issue 17): the runner ≤ 5 % of one core. Baseline in the same run: `node -e ''`'s
 * start-up time, to read the first number against.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

const root = path.resolve(import.meta.dirname, '..');
// 35 s: the window holds at least one of the edge's reports (LC_PERIOD 30 in the example).
const windowSeconds = Number(process.env.BENCH_SECONDS ?? 35);
const ticks = Number(spawnSync('getconf', ['CLK_TCK']).stdout.toString().trim() || 100);

async function cpuSeconds(pid: number): Promise<number> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticks;
}

async function rssMiB(pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

const nodeStart = performance.now();
spawnSync(process.execPath, ['-e', '']);
const nodeMs = performance.now() - nodeStart;

const state = await fs.mkdtemp(path.join(os.tmpdir(), 'sedna-run-bench-'));
const started = performance.now();
const runner = spawn(
  process.execPath,
  [
    path.join(root, 'dist', 'cli', 'main.js'),
    'run',
    'examples/joint-inference/joint-inference-service.yaml',
    '--no-live',
    '--state-dir',
    state,
  ],
  { cwd: root, stdio: 'ignore' },
);
try {
  const answers = path.join(state, 'nodes', 'edge-node', 'joint_inference', 'output', 'all.jsonl');
  for (;;) {
    const size = await fs.stat(answers).then(
      (s) => s.size,
      () => 0,
    );
    if (size > 0) break;
    if (runner.exitCode !== null) throw new Error(`sedna run exited (${runner.exitCode}) before an answer`);
    if (performance.now() - started > 120_000) throw new Error('no answer after 120 s');
    await new Promise((r) => setTimeout(r, 20));
  }
  const firstMs = performance.now() - started;
  const pid = runner.pid as number;
  const cpu0 = await cpuSeconds(pid);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, windowSeconds * 1000));
  const cpu = (await cpuSeconds(pid)) - cpu0;
  const wall = (performance.now() - t0) / 1000;
  console.log(`node start-up (baseline): ${nodeMs.toFixed(0)} ms`);
  console.log(
    `sedna run → first answered inference: ${firstMs.toFixed(0)} ms (${(firstMs / nodeMs).toFixed(1)}× node start-up)`,
  );
  console.log(
    `runner while the job runs (${wall.toFixed(1)} s): CPU ${((100 * cpu) / wall).toFixed(2)} % of one core (target ≤ 5 %), RSS ${(await rssMiB(pid)).toFixed(0)} MiB`,
  );
} finally {
  runner.kill('SIGINT');
  await new Promise((r) => runner.once('close', r));
  await fs.rm(state, { recursive: true, force: true });
}
