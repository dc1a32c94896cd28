/**
 * `sedna run` on bad input (issue 17, "Bad input"): each gets a clear, coded error and no worker is
 * left behind.
 */
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { containerOf, documentOf, editedExample } from '../helpers/job-yaml.js';
import { runCli, tempStateDir } from '../helpers/sedna-run.js';

const JI = 'examples/joint-inference/joint-inference-service.yaml';
const JI_LOCAL = 'examples/joint-inference/sedna.local.yaml';

let dir: string;
beforeEach(async () => {
  dir = await tempStateDir('sedna-run-errors-');
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

test('a document that breaks the CRD schema: the error names the file, document, field path and rule', async () => {
  const file = await editedExample(JI, dir, (docs) => {
    const job = documentOf(docs, 'JointInferenceService');
    (job.spec.edgeWorker as Record<string, unknown>).hardExampleMining = { parameters: 'high' };
  });
  const result = await runCli(['run', file, '--local', JI_LOCAL, '--state-dir', path.join(dir, 'state')]);
  expect(result.code).toBe(1);
  expect(result.stderr).toContain('SEDNA_ERR_INVALID_RESOURCE');
  expect(result.stderr).toContain(path.basename(file));
  expect(result.stderr).toMatch(/document 3/);
  expect(result.stderr).toContain('spec.edgeWorker.hardExampleMining');
  // Both broken rules: the missing `name` and the wrong type of `parameters`.
  expect(result.stderr).toMatch(/name/);
  expect(result.stderr).toMatch(/parameters[^\n]*(array|type)/);
});

test('a Model the job names but no file defines', async () => {
  const file = await editedExample(JI, dir, (docs) => {
    docs.splice(
      docs.findIndex((d) => d.kind === 'Model' && (d.metadata as { name: string }).name === 'digits-big-model'),
      1,
    );
  });
  const result = await runCli(['run', file, '--local', JI_LOCAL, '--state-dir', path.join(dir, 'state')]);
  expect(result.code).toBe(1);
  expect(result.stderr).toContain('SEDNA_ERR_INVALID_RESOURCE');
  expect(result.stderr).toContain('digits-big-model');
  expect(result.stderr).toContain('spec.cloudWorker.model.name');
});

test('a template command that does not exist', async () => {
  const file = await editedExample(JI, dir, (docs) => {
    containerOf(documentOf(docs, 'JointInferenceService'), 'cloudWorker').command = ['no-such-sedna-worker'];
  });
  const result = await runCli(['run', file, '--local', JI_LOCAL, '--state-dir', path.join(dir, 'state'), '--json']);
  expect(result.code).toBe(1);
  expect(result.stdout + result.stderr).toContain('SEDNA_ERR_WORKER_COMMAND');
  expect(result.stdout + result.stderr).toContain('"no-such-sedna-worker" not found');
});

test('a status page port that is taken', async () => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const { port } = blocker.address() as net.AddressInfo;
  try {
    const result = await runCli(['run', JI, '--ui', '--ui-port', String(port), '--state-dir', path.join(dir, 'state')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('SEDNA_ERR_PORT_IN_USE');
    expect(result.stderr).toContain(String(port));
  } finally {
    blocker.close();
  }
});

test('a worker that crashes in a loop: backoff, then the job fails with its last log lines', async () => {
  const file = await editedExample(JI, dir, (docs) => {
    containerOf(documentOf(docs, 'JointInferenceService'), 'cloudWorker').command = [
      'node',
      '-e',
      "console.log('loading the big model'); console.error('boom: the cloud model is corrupt'); process.exit(3)",
    ];
  });
  const started = Date.now();
  const result = await runCli(
    [
      'run',
      file,
      '--local',
      JI_LOCAL,
      '--state-dir',
      path.join(dir, 'state'),
      '--json',
      '--max-restarts',
      '2',
      '--backoff',
      '200',
    ],
    { timeoutMs: 90_000 },
  );
  expect(result.code).toBe(1);
  const out = JSON.parse(result.stdout) as {
    jobs: { phase: string; reason: string }[];
    status: { jobs: { workers: { role: string; restarts: number; phase: string }[] }[] };
  };
  expect(out.jobs[0]?.phase).toBe('Failed');
  expect(out.jobs[0]?.reason).toContain('boom: the cloud model is corrupt');
  const cloud = out.status.jobs[0]?.workers.find((w) => w.role === 'cloud');
  expect(cloud?.restarts).toBe(2);
  expect(cloud?.phase).toBe('Failed');
  // Backoff: 200 ms then 400 ms between the three starts.
  expect(Date.now() - started).toBeGreaterThanOrEqual(600);
}, 120_000);
