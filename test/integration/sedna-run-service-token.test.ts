/**
 * `sedna run`'s per-run SERVICE_TOKEN (docs/sedna-run.md, docs/security.md): one random token per
 * run, in a 0600 file named by SERVICE_TOKEN_FILE in every worker of the REST kinds. The joint
 * inference example shows both sides: the cloud worker's BigModelService refuses a request without
 * it (401 SEDNA_ERR_UNAUTHORIZED) while the edge worker, the job's own client, gets its hard
 * examples answered by the cloud. `--no-service-token` injects nothing and the cloud answers anyone.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { JobState } from '../../src/cli/run/status.js';
import { containerOf, documentOf, editedExample, setEnv } from '../helpers/job-yaml.js';
import { ROOT } from '../helpers/paths.js';
import { environOf, jobOf, startRun, tempStateDir, type RunnerProcess } from '../helpers/sedna-run.js';

const JI = 'examples/joint-inference/joint-inference-service.yaml';
const LOCAL = 'examples/joint-inference/sedna.local.yaml';

let dir: string;
let file: string;
beforeAll(async () => {
  dir = await tempStateDir('sedna-run-token-');
  // The example reports every 30 s (LC_PERIOD); the test wants the edge's counters sooner.
  file = await editedExample(JI, dir, (docs) => {
    setEnv(containerOf(documentOf(docs, 'JointInferenceService'), 'edgeWorker'), 'LC_PERIOD', '1');
  });
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** One digit (the first row of the fixture's test set) to the cloud's predict route. */
async function predict(url: string, token?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const csv = await fs.readFile(path.join(ROOT, 'test', 'fixtures', 'data', 'digits-test.csv'), 'utf8');
  const row = (csv.split('\n')[1] ?? '').split(',').slice(0, 64).map(Number);
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify({ data: [row] }),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Runs the edited JI example until the edge has reported a hard example; returns the serving job. */
async function serving(run: RunnerProcess): Promise<JobState> {
  const job = await run.until('an edge report with hard examples', (s) => {
    const j = jobOf(s);
    return j.charts.ji.some((p) => p.hardExampleNumber > 0) && j.workers.every((w) => w.pids.length > 0) && j;
  });
  expect(job.workers.map((w) => [w.role, w.phase])).toEqual([
    ['cloud', 'Running'],
    ['edge', 'Running'],
  ]);
  return job;
}

const cloudUrl = (job: JobState): string => `http://${job.facts.cloud ?? ''}`;

test('the cloud refuses a request without the run token; the edge, with it, gets its hard examples answered', async () => {
  const stateDir = path.join(dir, 'with-token');
  const run = startRun([file, '--local', LOCAL], stateDir);
  let token: string;
  try {
    const job = await serving(run);
    const [cloud, edge] = await Promise.all(job.workers.map((w) => environOf(w.pids[0])));
    // One file for both workers, in the run's folder, readable by its owner only.
    const tokenFile = cloud?.SERVICE_TOKEN_FILE ?? '';
    expect(tokenFile).toMatch(/\/runs\/[^/]+\/secrets\/service\.token$/);
    expect(edge?.SERVICE_TOKEN_FILE).toBe(tokenFile);
    expect(cloud?.SERVICE_TOKEN).toBeUndefined();
    expect((await fs.stat(tokenFile)).mode & 0o077).toBe(0);
    token = await fs.readFile(tokenFile, 'utf8');
    expect(token.length).toBeGreaterThanOrEqual(32);

    const url = cloudUrl(job);
    expect(url).toMatch(/^http:\/\/[\d.]+:\d+\/sedna\/predict$/);
    for (const offered of [undefined, `${token}x`]) {
      const refused = await predict(url, offered);
      expect(refused.status).toBe(401);
      expect(refused.body.code).toBe('SEDNA_ERR_UNAUTHORIZED');
    }
    const answered = await predict(url, token);
    expect(answered.status).toBe(200);
    expect(Array.isArray(answered.body.result)).toBe(true);
  } finally {
    run.child.kill('SIGINT');
  }
  expect((await run.exited).code).toBe(130);

  // The edge's own record of each sample: its hard examples went to the cloud and came back.
  const output = path.join(stateDir, 'nodes', 'edge-node', 'joint_inference', 'output', 'all.jsonl');
  const records = (await fs.readFile(output, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { isHardExample: boolean; cloudAnswered: boolean; cloudError?: string });
  const hard = records.filter((r) => r.isHardExample);
  expect(hard.length).toBeGreaterThan(0);
  expect(hard.every((r) => r.cloudAnswered)).toBe(true);
  expect(records.filter((r) => r.cloudError !== undefined)).toEqual([]);
  // The timeline says so; the token itself is in no output.
  expect(run.stdout()).toContain('per-run token (SERVICE_TOKEN_FILE');
  expect(run.stdout() + run.stderr()).not.toContain(token);
}, 180_000);

test('--no-service-token injects nothing: no token file, no variable, and the cloud answers a request without one', async () => {
  const stateDir = path.join(dir, 'no-token');
  const run = startRun([file, '--local', LOCAL, '--no-service-token'], stateDir);
  try {
    const job = await serving(run);
    for (const w of job.workers) {
      const env = await environOf(w.pids[0]);
      expect(env.SERVICE_TOKEN_FILE).toBeUndefined();
      expect(env.SERVICE_TOKEN).toBeUndefined();
      expect(env.WORKER_NAME).toBe(w.workerName); // the environment of that worker indeed
    }
    const answered = await predict(cloudUrl(job));
    expect(answered.status).toBe(200);
  } finally {
    run.child.kill('SIGINT');
  }
  expect((await run.exited).code).toBe(130);
  const [runFolder] = await fs.readdir(path.join(stateDir, 'runs'));
  await expect(fs.readdir(path.join(stateDir, 'runs', runFolder ?? '', 'secrets'))).rejects.toThrow(/ENOENT/);
  expect(run.stdout()).not.toContain('per-run token');
}, 180_000);

test('a template that sets its own SERVICE_TOKEN keeps it: the run injects no file into that worker', async () => {
  const own = await editedExample(
    JI,
    dir,
    (docs) => {
      const job = documentOf(docs, 'JointInferenceService');
      setEnv(containerOf(job, 'edgeWorker'), 'LC_PERIOD', '1');
      for (const worker of ['edgeWorker', 'cloudWorker'])
        setEnv(containerOf(job, worker), 'SERVICE_TOKEN', 'the-template-s-own-token');
    },
    'own-token.yaml',
  );
  const run = startRun([own, '--local', LOCAL], path.join(dir, 'own-token'));
  try {
    const job = await serving(run);
    for (const w of job.workers) {
      const env = await environOf(w.pids[0]);
      expect(env.SERVICE_TOKEN).toBe('the-template-s-own-token');
      expect(env.SERVICE_TOKEN_FILE).toBeUndefined();
    }
    expect((await predict(cloudUrl(job))).status).toBe(401);
    expect((await predict(cloudUrl(job), 'the-template-s-own-token')).status).toBe(200);
  } finally {
    run.child.kill('SIGINT');
  }
  expect((await run.exited).code).toBe(130);
}, 180_000);
