/**
 * No worker outlives its `sedna run` (issue 17, "Bad input"): killed with SIGTERM, the runner
 * stops its workers itself; killed with SIGKILL, its reaper (a process reading a pipe the kernel
 * closes) ends them, and the local S3 server a local map starts. Checked in the process table:
 * every descendant of the runner is gone.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { processAlive, startRun, tempStateDir } from '../helpers/sedna-run.js';

const JI = 'examples/joint-inference/joint-inference-service.yaml';

let dir: string;
beforeEach(async () => {
  dir = await tempStateDir('sedna-run-orphans-');
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** Every process whose parent chain leads to `root` (from /proc). */
async function descendants(root: number): Promise<number[]> {
  const parents = new Map<number, number>();
  for (const entry of await fs.readdir('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = await fs.readFile(path.join('/proc', entry, 'stat'), 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parents.set(pid, Number(fields[1]));
    } catch {
      // ended meanwhile
    }
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const parent = queue.shift() as number;
    for (const [pid, ppid] of parents)
      if (ppid === parent) {
        found.push(pid);
        queue.push(pid);
      }
  }
  return found;
}

async function untilGone(pids: readonly number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const alive = pids.filter(processAlive);
    if (alive.length === 0 || Date.now() > deadline) return alive;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function runningService(): Promise<{ run: ReturnType<typeof startRun>; pids: number[]; workers: number[] }> {
  const run = startRun([JI], dir, { SEDNA_REAPER_GRACE_MS: '2000' });
  const workers = await run.until('both workers running', (s) => {
    const ws = s.jobs[0]?.workers ?? [];
    return ws.length === 2 && ws.every((w) => w.phase === 'Running' && w.pids.length > 0)
      ? ws.flatMap((w) => w.pids)
      : undefined;
  });
  const pids = await descendants(run.child.pid as number);
  // The reaper and both workers (and whatever the workers started) descend from the runner.
  expect(pids.length).toBeGreaterThanOrEqual(3);
  for (const w of workers) expect(pids).toContain(w);
  return { run, pids, workers };
}

test('SIGTERM: the runner stops every worker and exits', async () => {
  const { run, pids } = await runningService();
  run.child.kill('SIGTERM');
  const exit = await run.exited;
  expect(exit.code).toBe(143);
  expect(await untilGone(pids, 15_000)).toEqual([]);
}, 120_000);

test('SIGKILL: the reaper ends every worker', async () => {
  const { run, pids, workers } = await runningService();
  run.child.kill('SIGKILL');
  expect((await run.exited).signal).toBe('SIGKILL');
  // The workers were not told by the runner (it had no chance): the reaper ends them.
  expect(await untilGone(pids, 20_000)).toEqual([]);
  expect(workers.every((w) => !processAlive(w))).toBe(true);
}, 120_000);

test("SIGKILL: the local map's S3 server (Swift and memcached) ends with the workers", async () => {
  // The FL v2 example's sedna.local.yaml starts scripts/s3-server.mjs before the job.
  const run = startRun(['examples/federated-learning-v2/federated-learning-v2-job.yaml'], dir, {
    SEDNA_REAPER_GRACE_MS: '2000',
  });
  await run.until('the aggregator running', (s) =>
    s.jobs[0]?.workers.some((w) => w.role === 'aggregator' && w.phase === 'Running' && w.pids.length > 0),
  );
  const [runDir] = await fs.readdir(path.join(dir, 'runs'));
  const log = await fs.readFile(path.join(dir, 'runs', runDir ?? '', 'logs', 'local-s3-server.log'), 'utf8');
  const s3 = (JSON.parse(log.split('\n')[0] ?? '{}') as { pid: number }).pid;
  const pids = await descendants(run.child.pid as number);
  const swift = await descendants(s3);
  // The server script, memcached and Swift's four servers, all under the runner.
  expect(pids).toContain(s3);
  expect(swift.length).toBeGreaterThanOrEqual(5);
  for (const p of swift) expect(pids).toContain(p);
  run.child.kill('SIGKILL');
  expect((await run.exited).signal).toBe('SIGKILL');
  expect(await untilGone(pids, 20_000)).toEqual([]);
}, 120_000);
