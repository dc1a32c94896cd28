/**
 * `sedna run` resolves Dataset URLs as Sedna's storage initializer does (spec §1.7): an
 * `http(s)://` or `s3://` dataset is downloaded before the worker starts and the worker gets the
 * local copy; S3 with the user's credentials, or with the Secret the Dataset's `credentialName`
 * names. A URL that cannot be read stops the run with a coded error naming it.
 * The FL example's trainers print their environment instead of training.
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import {
  containerOf,
  documentOf,
  editedExample,
  printEnvInFederatedJob,
  printedEnvs,
  type JobDocument,
} from '../helpers/job-yaml.js';
import { s3FileOps, s3TestSettings, uniquePrefix } from '../helpers/s3.js';
import { runCli, startRun, tempStateDir } from '../helpers/sedna-run.js';
import { CLOUD_ONNX, EDGE_ONNX } from '../helpers/backend-fixtures.js';
import { ROOT } from '../helpers/paths.js';

const FL = 'examples/federated-learning/federated-learning-job.yaml';
const FL_LOCAL = 'examples/federated-learning/sedna.local.yaml';
const JI = 'examples/joint-inference/joint-inference-service.yaml';
const JI_LOCAL = 'examples/joint-inference/sedna.local.yaml';
const CSV = path.join(ROOT, 'test', 'fixtures', 'data', 'digits-test.csv');

let dir: string;
let web: http.Server;
let webUrl: string;
beforeAll(async () => {
  dir = await tempStateDir('sedna-run-storage-');
  const files: Record<string, Buffer> = {
    '/digits.csv': await fs.readFile(CSV),
    '/digits-edge.onnx': await fs.readFile(EDGE_ONNX),
  };
  web = http.createServer((req, res) => {
    const body = files[req.url ?? ''];
    if (body !== undefined) res.writeHead(200).end(body);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
  webUrl = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;
});
afterAll(async () => {
  web.close();
  await fs.rm(dir, { recursive: true, force: true });
});

function datasets(docs: JobDocument[]): JobDocument[] {
  return docs.filter((d) => d.kind === 'Dataset');
}

test("FL datasets at http:// and s3:// reach the trainers as Sedna gives them: the URL, and the Secret's credentials", async () => {
  const s3 = s3TestSettings();
  const file = await editedExample(FL, dir, (docs) => {
    const [one, two, three] = datasets(docs);
    if (one === undefined || two === undefined || three === undefined) throw new Error('three Datasets expected');
    one.spec.url = `${webUrl}/digits.csv`;
    two.spec.url = `s3://${s3.bucket}/somewhere/digits.csv`;
    three.spec.url = `s3://${s3.bucket}/elsewhere/digits.csv`;
    three.spec.credentialName = 's3-secret';
    docs.push({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's3-secret', namespace: 'default', annotations: { 's3-endpoint': s3.endpoint } },
      stringData: { ACCESS_KEY_ID: s3.accessKeyId, SECRET_ACCESS_KEY: s3.secretAccessKey },
    } as unknown as JobDocument);
    printEnvInFederatedJob(docs);
  });
  const stateDir = path.join(dir, 'fl');
  const result = await runCli(['run', file, '--local', FL_LOCAL, '--state-dir', stateDir, '--json']);
  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
  const envs = await printedEnvs(stateDir, 'digits-fl-train-');
  // Sedna's FL controller mounts the dataset without the storage initializer: the trainer gets
  // the URL itself and reads it (FileOps), with the credentials of the Dataset's Secret if any.
  expect(envs.map((e) => e.TRAIN_DATASET_URL).sort()).toEqual(
    [`${webUrl}/digits.csv`, `s3://${s3.bucket}/somewhere/digits.csv`, `s3://${s3.bucket}/elsewhere/digits.csv`].sort(),
  );
  const withSecret = envs.filter((e) => e.ACCESS_KEY_ID !== undefined);
  expect(withSecret).toHaveLength(1);
  expect(withSecret[0]).toMatchObject({
    TRAIN_DATASET_URL: `s3://${s3.bucket}/elsewhere/digits.csv`,
    S3_ENDPOINT_URL: s3.endpoint,
    ACCESS_KEY_ID: s3.accessKeyId,
    SECRET_ACCESS_KEY: s3.secretAccessKey,
  });
}, 180_000);

test("JI models at http:// and s3:// (the user's credentials) are downloaded first: MODEL_URL is the local copy", async () => {
  const s3 = s3TestSettings();
  const prefix = uniquePrefix('sedna-run');
  const ops = s3FileOps();
  await ops.upload(CLOUD_ONNX, `s3://${s3.bucket}/${prefix}/digits-cloud.onnx`);
  await ops.close();
  const file = await editedExample(JI, dir, (docs) => {
    const models = docs.filter((d) => d.kind === 'Model');
    const edge = models.find((m) => (m.metadata as { name: string }).name === 'digits-little-model');
    const cloud = models.find((m) => (m.metadata as { name: string }).name === 'digits-big-model');
    if (edge === undefined || cloud === undefined) throw new Error('two Models expected');
    edge.spec.url = `${webUrl}/digits-edge.onnx`;
    cloud.spec.url = `s3://${s3.bucket}/${prefix}/digits-cloud.onnx`;
    const job = documentOf(docs, 'JointInferenceService');
    // The cloud listens (so the edge starts), the edge waits; both print their environment first.
    containerOf(job, 'cloudWorker').command = [
      'node',
      '-e',
      'console.log("ENV " + JSON.stringify(process.env)); require("node:http").createServer((q, s) => s.end()).listen(Number(process.env.BIG_MODEL_BIND_PORT))',
    ];
    containerOf(job, 'edgeWorker').command = [
      'node',
      '-e',
      'console.log("ENV " + JSON.stringify(process.env)); setInterval(() => {}, 1000)',
    ];
  });
  const run = startRun([file, '--local', JI_LOCAL], path.join(dir, 'ji'), {
    S3_ENDPOINT_URL: s3.endpoint,
    ACCESS_KEY_ID: s3.accessKeyId,
    SECRET_ACCESS_KEY: s3.secretAccessKey,
  });
  try {
    const pods = await run.until('both workers running', (snapshot) => {
      const ws = snapshot.jobs[0]?.workers ?? [];
      return ws.length === 2 && ws.every((w) => w.phase === 'Running') ? ws.map((w) => w.pod) : undefined;
    });
    const envOf = async (pod: string): Promise<Record<string, string>> => {
      for (;;) {
        const lines = (await (await fetch(`${await run.api()}/api/logs/${pod}`)).json()) as { text: string }[];
        const line = lines.find((l) => l.text.startsWith('ENV {'));
        if (line !== undefined) return JSON.parse(line.text.slice(4)) as Record<string, string>;
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const [cloudEnv, edgeEnv] = [await envOf(pods[0] as string), await envOf(pods[1] as string)];
    for (const [env, source] of [
      [cloudEnv, CLOUD_ONNX],
      [edgeEnv, EDGE_ONNX],
    ] as const) {
      const local = env.MODEL_URL as string;
      expect(path.isAbsolute(local)).toBe(true);
      expect(Buffer.compare(await fs.readFile(local), await fs.readFile(source))).toBe(0);
    }
    // JI's workers get no S3 credentials: the initializer used them.
    expect(cloudEnv.ACCESS_KEY_ID).toBeUndefined();
  } finally {
    run.child.kill('SIGINT');
    await run.exited;
  }
}, 180_000);

test('a node path with no file stops the run and the workers it started, naming it', async () => {
  let bad = '';
  const file = await editedExample(FL, dir, (docs) => {
    const dataset = datasets(docs)[1] as JobDocument;
    bad = `${dataset.spec.url as string}-missing`;
    dataset.spec.url = bad;
  });
  const result = await runCli(['run', file, '--local', FL_LOCAL, '--state-dir', path.join(dir, 'missing')]);
  expect(result.code).toBe(1);
  expect(result.stderr).toContain('SEDNA_ERR_FILE_NOT_FOUND');
  expect(result.stderr).toContain(bad);
}, 120_000);

test('a model URL that answers 404 stops the run, naming it', async () => {
  const file = await editedExample(JI, dir, (docs) => {
    const model = docs.find((d) => d.kind === 'Model') as JobDocument;
    model.spec.url = `${webUrl}/missing.onnx`;
  });
  const result = await runCli(['run', file, '--local', JI_LOCAL, '--state-dir', path.join(dir, 'model-404')]);
  expect(result.code).toBe(1);
  expect(result.stderr).toContain('SEDNA_ERR_STORAGE');
  expect(result.stderr).toContain(`${webUrl}/missing.onnx`);
}, 120_000);

test("an FL dataset URL a trainer cannot read fails the job with the trainer's last log lines", async () => {
  const file = await editedExample(FL, dir, (docs) => {
    (datasets(docs)[1] as JobDocument).spec.url = `${webUrl}/missing.csv`;
  });
  const result = await runCli([
    'run',
    file,
    '--local',
    FL_LOCAL,
    '--state-dir',
    path.join(dir, 'dataset-404'),
    '--json',
    '--max-restarts',
    '0',
  ]);
  expect(result.code).toBe(1);
  const out = JSON.parse(result.stdout) as { jobs: { phase: string; reason: string }[] };
  expect(out.jobs[0]?.phase).toBe('Failed');
  expect(out.jobs[0]?.reason).toContain(`${webUrl}/missing.csv`);
}, 180_000);
