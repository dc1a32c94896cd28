/**
 * `sedna run` of examples/federated-learning-v2 (issue 17): the v2 YAML, unchanged, with no flag,
 * trains to the end with its weights going through S3: the example's sedna.local.yaml starts a
 * local S3-compatible server (Swift + s3api) that stands for the cluster's MinIO and makes the
 * Secret the YAML reads the keys from. Then the local S3 section's bad input.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { RunSnapshot } from '../../src/cli/run/status.js';
import { TfjsEstimator } from '../../src/backend/tfjs.js';
import { editedExample, type JobDocument } from '../helpers/job-yaml.js';
import { jobOf, processAlive, runCli, tempStateDir } from '../helpers/sedna-run.js';
import { ROOT } from '../helpers/paths.js';

const FL_V2 = 'examples/federated-learning-v2/federated-learning-v2-job.yaml';

let dir: string;
beforeEach(async () => {
  dir = await tempStateDir('sedna-run-fl-v2-');
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** The JSON lines a worker printed on stdout, from its log in the run folder. */
async function stdoutJson(stateDir: string, pod: string): Promise<Record<string, unknown>[]> {
  const [run] = await fs.readdir(path.join(stateDir, 'runs'));
  const log = await fs.readFile(path.join(stateDir, 'runs', run ?? '', 'logs', `${pod}.log`), 'utf8');
  return [...log.matchAll(/ stdout (\{.*\})$/gm)].map((m) => JSON.parse(m[1] ?? '{}') as Record<string, unknown>);
}

/** The digits test split as the example's scripts read it (pixels / 16). */
async function digitsTest(): Promise<{ x: number[][]; y: number[] }> {
  const [, ...rows] = (await fs.readFile(path.join(ROOT, 'test/fixtures/data/digits-test.csv'), 'utf8'))
    .trim()
    .split('\n');
  const parsed = rows.map((r) => r.split(',').map(Number));
  return { x: parsed.map((r) => r.slice(0, 64).map((p) => p / 16)), y: parsed.map((r) => r[64] ?? -1) };
}

test('federated learning v2: the example YAML, unchanged, trains through a local S3 server and exits 0', async () => {
  const result = await runCli(['run', FL_V2, '--json', '--state-dir', dir], { timeoutMs: 240_000 });
  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
  const out = JSON.parse(result.stdout) as { ok: boolean; status: RunSnapshot };
  const job = jobOf(out.status);
  expect(out.ok).toBe(true);
  expect(job.phase).toBe('Succeeded');
  expect(job.workers.map((w) => [w.role, w.node, w.phase])).toEqual([
    ['aggregator', 'cloud-node', 'Succeeded'],
    ['trainer 1', 'edge-node-1', 'Succeeded'],
    ['trainer 2', 'edge-node-2', 'Succeeded'],
  ]);
  for (const trainer of job.workers.slice(1))
    expect(trainer.lastReport).toMatchObject({ kind: 'train', status: 'completed' });

  // The override is visible: the job's facts and the timeline say what stands for the cluster's store.
  const store = /^http:\/\/minio\.sedna\.svc:9000 is the local S3 server (http:\/\/127\.0\.0\.1:\d+)$/.exec(
    job.facts['object store'] ?? '',
  );
  expect(store).not.toBeNull();
  const timeline = out.status.timeline.map((e) => e.message);
  expect(timeline).toContain(
    `local S3 server ${store?.[1] ?? ''} stands for http://minio.sedna.svc:9000 (template values naming it are rewritten); ` +
      'Secret default/digits-fl-v2-s3 made from its keys',
  );

  // The trainers' LC reports give one point per round, in order, and the model learned. The job
  // ends at the aggregator's `rounds` (5) or once the global model reaches target_accuracy 0.95.
  const rounds = job.charts.fl;
  expect(rounds.length).toBeGreaterThanOrEqual(2);
  expect(rounds.length).toBeLessThanOrEqual(5);
  expect(rounds.map((r) => r.round)).toEqual(rounds.map((_, i) => i + 1));
  // Both trainers' samples (the two shards of the training split: 1438 rows).
  expect(rounds.every((r) => r.samples === 1438)).toBe(true);
  const first = rounds[0]?.accuracy ?? 1;
  const last = rounds.at(-1)?.accuracy ?? 0;
  expect(last).toBeGreaterThan(0.9);
  expect(last).toBeGreaterThan(first);

  // Every worker used the S3 transmitter, through the rewritten endpoint and the made Secret.
  const [aggregatorPod, ...trainerPods] = job.workers.map((w) => w.pod);
  const done = (await stdoutJson(dir, aggregatorPod ?? '')).find((l) => l.event === 'done');
  expect(done).toMatchObject({ transmitter: 's3', rounds: rounds.length });
  const accuracies = done?.accuracies as number[];
  expect(accuracies).toHaveLength(rounds.length);
  expect(done?.reachedTarget).toBe((accuracies.at(-1) ?? 0) >= 0.95);
  if (rounds.length < 5) expect(done?.reachedTarget).toBe(true);
  for (const pod of trainerPods) {
    const [summary] = await stdoutJson(dir, pod);
    expect(summary).toMatchObject({ transmitter: 's3' });
    expect((summary?.rounds as unknown[]).length).toBe(rounds.length);
  }

  // The global model, saved by the aggregator and both trainers at the Model's URL on each node:
  // the same bytes everywhere, and it scores on the test split what the aggregator measured.
  const weights = await Promise.all(
    ['cloud-node', 'edge-node-1', 'edge-node-2'].map((node) =>
      fs.readFile(path.join(dir, 'nodes', node, 'models', 'digits-fl-v2', 'weights.bin')),
    ),
  );
  expect(weights[0]?.length).toBe((64 * 32 + 32 + 32 * 10 + 10) * 4);
  expect(weights[1]?.equals(weights[0] ?? Buffer.alloc(0))).toBe(true);
  expect(weights[2]?.equals(weights[0] ?? Buffer.alloc(0))).toBe(true);
  const model = await TfjsEstimator.create({
    modelUrl: `file://${path.join(dir, 'nodes', 'cloud-node', 'models', 'digits-fl-v2')}`,
  });
  try {
    const { accuracy } = await model.evaluate(await digitsTest());
    expect(typeof accuracy).toBe('number');
    expect(accuracy as number).toBeCloseTo(accuracies.at(-1) ?? 0, 2);
  } finally {
    await model.close();
  }

  // The local S3 server ended with the run (its settings line is the first of its log).
  const [run] = await fs.readdir(path.join(dir, 'runs'));
  const s3Log = await fs.readFile(path.join(dir, 'runs', run ?? '', 'logs', 'local-s3-server.log'), 'utf8');
  const settings = JSON.parse(s3Log.split('\n')[0] ?? '{}') as { pid: number; dir: string; buckets: string[] };
  expect(settings.buckets).toEqual(['sedna-fl']);
  expect(processAlive(settings.pid)).toBe(false);
  await expect(fs.stat(settings.dir)).rejects.toMatchObject({ code: 'ENOENT' });
}, 300_000);

describe("the local map's S3 server, on bad input", () => {
  /** The v2 YAML in `dir` (edited), with a sedna.local.yaml beside it holding only `s3`. */
  async function jobWithLocalS3(s3: string, edit: Parameters<typeof editedExample>[2] = () => {}): Promise<string> {
    const file = await editedExample(FL_V2, dir, edit);
    await fs.writeFile(
      path.join(dir, 'sedna.local.yaml'),
      `apiVersion: sedna-sdk.io/v1alpha1\nkind: LocalRun\ns3:\n${s3}`,
    );
    return file;
  }

  test('a server that exits before it is ready: SEDNA_ERR_STORAGE with its last words, no worker started', async () => {
    const file = await jobWithLocalS3(
      `  server: [node, -e, "console.error('no object store here'); process.exit(3)"]\n  replaces: http://minio.sedna.svc:9000\n`,
    );
    const result = await runCli(['run', file, '--state-dir', path.join(dir, 'state')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('SEDNA_ERR_STORAGE');
    expect(result.stderr).toContain('exited (code 3) before it was ready: no object store here');
    expect(result.stdout).not.toContain('worker');
  });

  test('a server that prints something other than its settings', async () => {
    const file = await jobWithLocalS3(
      `  server: [node, -e, "console.log('listening on 9000'); setInterval(() => {}, 1000)"]\n  replaces: http://minio.sedna.svc:9000\n`,
    );
    const result = await runCli(['run', file, '--state-dir', path.join(dir, 'state')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('SEDNA_ERR_STORAGE');
    expect(result.stderr).toContain('printed "listening on 9000", not its settings as one JSON line');
  });

  test('a Secret the job files define and the local server would make too', async () => {
    const file = await jobWithLocalS3(
      '  server: [node, -e, "process.exit(0)"]\n  replaces: http://minio.sedna.svc:9000\n  secrets: [digits-fl-v2-s3]\n',
      (docs) => {
        const secret = {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: 'digits-fl-v2-s3', namespace: 'default' },
          stringData: { ACCESS_KEY_ID: 'a', SECRET_ACCESS_KEY: 'b' },
        };
        docs.push(secret as unknown as JobDocument);
      },
    );
    const result = await runCli(['run', file, '--state-dir', path.join(dir, 'state')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('SEDNA_ERR_INVALID_ARGUMENT');
    expect(result.stderr).toContain('s3.secrets names Secret default/digits-fl-v2-s3, which');
  });
});
