/**
 * What `sedna run` injects into a worker is what Sedna's GlobalManager injects (spec §1.6): the
 * federated-learning example with each container's command replaced by one that prints its
 * environment. The template's own env is kept, the GM's variables are added, nothing of the
 * runner's environment but the basics (PATH, HOME) leaks in.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { editedExample, printEnvInFederatedJob, printedEnvs } from '../helpers/job-yaml.js';
import { runCli, tempStateDir } from '../helpers/sedna-run.js';

let dir: string;
beforeAll(async () => {
  dir = await tempStateDir('sedna-run-env-');
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

test("FL workers get the GlobalManager's variables, their template env, and the URLs of their Model and Dataset", async () => {
  const file = await editedExample('examples/federated-learning/federated-learning-job.yaml', dir, (docs) => {
    printEnvInFederatedJob(docs);
  });
  const stateDir = path.join(dir, 'state');
  const result = await runCli(
    ['run', file, '--local', 'examples/federated-learning/sedna.local.yaml', '--state-dir', stateDir, '--json'],
    { env: { SEDNA_TEST_SECRET: 'runner-only' } },
  );
  expect(result.code).toBe(0);
  const envOf = (prefix: string): Promise<Record<string, string>[]> => printedEnvs(stateDir, prefix);

  const [agg] = await envOf('digits-fl-aggregation-');
  expect(agg).toMatchObject({
    NAMESPACE: 'default',
    JOB_NAME: 'digits-fl',
    PARTICIPANTS_COUNT: '3',
    // The template's own env.
    aggregation_algorithm: 'FedAvg',
    exit_round: '5',
  });
  expect(agg?.WORKER_NAME).toMatch(/^aggworker-[a-z0-9]{5}$/);
  expect(Number(agg?.AGG_BIND_PORT)).toBeGreaterThan(0);
  expect(agg?.MODEL_URL).toBeDefined();
  // The aggregator reports nothing to the LC in Sedna: it gets no LC_SERVER.
  expect(agg?.LC_SERVER).toBeUndefined();
  expect(agg?.SEDNA_TEST_SECRET).toBeUndefined();

  const trainers = await envOf('digits-fl-train-');
  expect(trainers).toHaveLength(3);
  const names = new Set<string>();
  for (const env of trainers) {
    expect(env).toMatchObject({
      NAMESPACE: 'default',
      JOB_NAME: 'digits-fl',
      PARTICIPANTS_COUNT: '3',
      AGG_PORT: agg?.AGG_BIND_PORT,
    });
    expect(env.DATASET_NAME).toMatch(/^digits-/);
    expect(env.WORKER_NAME).toMatch(/^trainworker-[a-z0-9]{5}$/);
    names.add(env.WORKER_NAME as string);
    expect(env.LC_SERVER).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(env.AGG_IP).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    // The Dataset's URL on the trainer's own node, readable there.
    expect((await fs.stat(env.TRAIN_DATASET_URL as string)).isFile()).toBe(true);
    expect(env.MODEL_URL).toBeDefined();
    expect(env.SEDNA_TEST_SECRET).toBeUndefined();
    expect(env.PATH).toBeDefined();
  }
  expect(names.size).toBe(3);
  // The round's per-job token: one file, for the aggregator and every trainer, readable by its owner only.
  const tokenFile = agg?.AGG_TOKEN_FILE as string;
  expect(trainers.map((e) => e.AGG_TOKEN_FILE)).toEqual([tokenFile, tokenFile, tokenFile]);
  expect((await fs.stat(tokenFile)).mode & 0o077).toBe(0);
  expect((await fs.readFile(tokenFile, 'utf8')).length).toBeGreaterThanOrEqual(32);

  // --no-fl-token (Python trainers send none): Sedna's variables only.
  const plain = path.join(dir, 'plain');
  const again = await runCli([
    'run',
    file,
    '--local',
    'examples/federated-learning/sedna.local.yaml',
    '--state-dir',
    plain,
    '--json',
    '--no-fl-token',
  ]);
  expect(again.code).toBe(0);
  const [plainAgg] = await printedEnvs(plain, 'digits-fl-aggregation-');
  expect(plainAgg?.AGG_TOKEN_FILE).toBeUndefined();
  expect(plainAgg?.JOB_NAME).toBe('digits-fl');
  // Each trainer's dataset is its own node's file.
  expect(new Set(trainers.map((e) => e.TRAIN_DATASET_URL)).size).toBe(3);
}, 180_000);
