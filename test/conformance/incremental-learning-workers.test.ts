/**
 * The incremental-learning example workers as they run in pods (child processes configured only by
 * the variables the controller injects) reporting to the real LocalController, with the job inserted
 * by the GM first: train, eval, a failed train, and a hot deploy by the inference worker.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { MLP_TFJS, loadDigits } from '../helpers/backend-fixtures.js';
import { runNode } from '../helpers/child.js';
import { goTime, writeHotUpdateConfig, writeTxtDataset as writeDataset } from '../helpers/il.js';
import { ROOT } from '../helpers/paths.js';
import { REAL_LC_DIR, RealLC, type GmMessage } from './real-lc.js';

const example = path.join(ROOT, 'examples', 'incremental-learning');
const insert = JSON.parse(
  fs.readFileSync(path.join(REAL_LC_DIR, 'example-insert-incrementallearningjob.json'), 'utf8'),
) as object;

describe('incremental learning workers → real LocalController', () => {
  let lc: RealLC;
  let tmp: string;
  const hostData = (): string => path.join(tmp, 'home-data'); // DATA_PATH_PREFIX in the pods
  const podEnv = (worker: string, extra: Record<string, string>): NodeJS.ProcessEnv => ({
    NAMESPACE: 'default',
    JOB_NAME: 'helmet-il',
    WORKER_NAME: worker,
    LC_SERVER: lc.lcServer,
    DATA_PATH_PREFIX: hostData(),
    LOG_LEVEL: 'error',
    ...extra,
  });
  const ours = (m: GmMessage[]): GmMessage[] => m.filter((x) => x.header.resourceName === 'helmet-il');

  beforeAll(async () => {
    lc = await RealLC.start({ inserts: [insert] });
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'il-workers-'));
  });
  afterAll(async () => {
    await lc.stop();
    await fsp.rm(tmp, { recursive: true, force: true });
  });

  it('reports train, eval, a failed train and a hot deploy as the GM expects', async () => {
    const train = loadDigits('train');
    const test = loadDigits('test');
    const data = path.join(hostData(), 'datasets', 'digits');
    const trainIndex = await writeDataset(data, 'train', train.x.slice(0, 200), train.y.slice(0, 200));
    const testIndex = await writeDataset(data, 'test', test.x.slice(0, 120), test.y.slice(0, 120));
    const round = path.join(hostData(), 'models', 'helmet-il', 'train', '1');

    // 1. The train worker, starting from the deployed model.
    const trained = await runNode([path.join(example, 'train.mjs')], {
      name: 'train-worker',
      cwd: ROOT,
      timeoutMs: 120_000,
      env: podEnv('train-worker-a1b2c', {
        BASE_MODEL_URL: MLP_TFJS,
        MODEL_URL: round,
        TRAIN_DATASET_URL: trainIndex,
        ORIGINAL_DATASET_URL: trainIndex,
        epochs: '2',
      }),
    });
    expect([trained.code, trained.stderr]).toEqual([0, '']);
    let messages = ours(await lc.waitFor((m) => ours(m).length >= 1));
    expect(messages[0]!.header).toEqual({
      namespace: 'default',
      resourceKind: 'IncrementalLearningJob',
      resourceName: 'helmet-il',
      operation: 'status',
    });
    expect(messages[0]!.content).toMatchObject({
      phase: 'train',
      status: 'completed',
      output: {
        // DATA_PATH_PREFIX removed: the LC and GM know host paths. json first: the LC uses results[0].
        models: [
          expect.objectContaining({ format: 'json', url: '/models/helmet-il/train/1/model/model.json' }),
          expect.objectContaining({ format: 'tfjs', url: '/models/helmet-il/train/1/model' }),
        ],
        ownerInfo: null,
      },
    });

    // 2. The eval worker: the new model first, the deployed one second, metrics as lists.
    const newModel = path.join(round, 'model', 'model.json');
    const evaluated = await runNode([path.join(example, 'eval.mjs')], {
      name: 'eval-worker',
      cwd: ROOT,
      timeoutMs: 120_000,
      env: podEnv('eval-worker-d3e4f', {
        MODEL_URLS: `${newModel};${path.join(MLP_TFJS, 'model.json')}`,
        TEST_DATASET_URL: testIndex,
        ORIGINAL_DATASET_URL: testIndex,
      }),
    });
    expect([evaluated.code, evaluated.stderr]).toEqual([0, '']);
    messages = ours(await lc.waitFor((m) => ours(m).length >= 2));
    const evalModels = messages[1]!.content.output.models as {
      format: string;
      url: string;
      metrics: { accuracy: number[] };
    }[];
    expect(messages[1]!.content).toMatchObject({ phase: 'eval', status: 'completed' });
    expect(evalModels.map((m) => m.url)).toEqual([
      '/models/helmet-il/train/1/model/model.json',
      path.join(MLP_TFJS, 'model.json'),
    ]);
    for (const m of evalModels) expect(m.metrics.accuracy).toEqual([expect.any(Number)]);

    // 3. A failed stage: a train dataset naming files that do not exist.
    const broken = path.join(data, 'broken.txt');
    await fsp.writeFile(broken, 'train/0.json 3\nmissing/1.json 4\n');
    const failed = await runNode([path.join(example, 'train.mjs')], {
      name: 'train-worker (broken dataset)',
      cwd: ROOT,
      timeoutMs: 120_000,
      env: podEnv('train-worker-g5h6i', {
        BASE_MODEL_URL: MLP_TFJS,
        MODEL_URL: path.join(hostData(), 'models', 'r2'),
        TRAIN_DATASET_URL: broken,
        ORIGINAL_DATASET_URL: broken,
      }),
    });
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toContain('SEDNA_ERR_FILE_NOT_FOUND');
    messages = ours(await lc.waitFor((m) => ours(m).length >= 3));
    expect(messages[2]!.content).toEqual({
      phase: 'train',
      status: 'failed',
      output: { models: null, ownerInfo: null },
    });

    // 4. The inference worker hot-deploys the new model when the hot-update file changes, the way
    //    the LC writes it (it copies results[0], one file, next to the file).
    const hot = path.join(tmp, 'model-hot-update');
    await fsp.mkdir(hot, { recursive: true });
    const configFile = path.join(hot, 'model_config.json');
    const inference = spawn(process.execPath, [path.join(example, 'inference.mjs')], {
      cwd: ROOT,
      env: {
        ...process.env,
        ...podEnv('inferworker-j7k8l', {
          MODEL_URL: MLP_TFJS,
          MODEL_HOT_UPDATE: 'true',
          MODEL_POLL_PERIOD_SECONDS: '1',
          MODEL_HOT_UPDATE_CONFIG: configFile,
          HE_SAVED_URL: path.join(tmp, 'he'),
          bind_ip: '127.0.0.1',
          bind_port: '0',
        }),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        readline.createInterface({ input: inference.stdout }).once('line', () => resolve());
        inference.once('exit', (code) => reject(new Error(`inference.mjs exited with ${code}`)));
      });
      await fsp.copyFile(newModel, path.join(hot, 'model.json'));
      await writeHotUpdateConfig(configFile, path.join(hot, 'model.json'), goTime(new Date()));
      messages = ours(await lc.waitFor((m) => ours(m).length >= 4, 30_000));
      expect(messages[3]!.content).toEqual({
        phase: 'deploy',
        status: 'completed',
        output: { models: null, ownerInfo: null },
      });
    } finally {
      inference.kill('SIGTERM');
    }
  });
});
