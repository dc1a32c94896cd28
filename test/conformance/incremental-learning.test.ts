/**
 * @jest-environment ./test/helpers/node-realm-environment.cjs
 *
 * Incremental learning reports → the real LocalController (with the GM's insert of the job, as in
 * a cluster): what reaches the GlobalManager for train, eval and deploy, and that it equals what
 * the LC emulator says it would forward.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TfjsEstimator } from '../../src/backend/tfjs.js';
import { loadConfig } from '../../src/common/config.js';
import { IncrementalLearning } from '../../src/core/incremental-learning/incremental-learning.js';
import { LCEmulator } from '../../src/testing/lc-emulator.js';
import { MLP_TFJS, loadDigits } from '../helpers/backend-fixtures.js';
import { goTime, writeHotUpdateConfig } from '../helpers/il.js';
import { REAL_LC_DIR, RealLC, type GmMessage } from './real-lc.js';

const insert = JSON.parse(
  fs.readFileSync(path.join(REAL_LC_DIR, 'example-insert-incrementallearningjob.json'), 'utf8'),
) as object;
const train = loadDigits('train');
const test = loadDigits('test');

let lc: RealLC;
let emulator: LCEmulator;
let tmp: string;

beforeAll(async () => {
  lc = await RealLC.start({ inserts: [insert] });
  emulator = await LCEmulator.start({
    knownJobs: [{ kind: 'incrementallearningjob', namespace: 'default', name: 'helmet-il' }],
  });
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'il-conformance-'));
});
afterAll(async () => {
  await lc.stop();
  await emulator.close();
  await fsp.rm(tmp, { recursive: true, force: true });
});

const env = (lcServer: string, worker: string, extra: Record<string, string>) =>
  loadConfig({
    NAMESPACE: 'default',
    JOB_NAME: 'helmet-il',
    WORKER_NAME: worker,
    LC_SERVER: lcServer,
    DATA_PATH_PREFIX: tmp,
    LOG_LEVEL: 'silent',
    ...extra,
  });

/** Runs one train, one eval and one hot update against `lcServer`. */
async function cycle(lcServer: string, label: string): Promise<void> {
  const out = path.join(tmp, label, 'output', 'train', '1');
  const trainer = await IncrementalLearning.create({
    estimator: await TfjsEstimator.create(),
    config: env(lcServer, 'train-worker-abcde', { BASE_MODEL_URL: MLP_TFJS, MODEL_URL: out }),
  });
  await trainer.train({ x: train.x.slice(0, 100), y: train.y.slice(0, 100) }, undefined, { epochs: 1, shuffle: false });
  await trainer.close();
  const evaluator = await IncrementalLearning.create({
    estimator: await TfjsEstimator.create(),
    config: env(lcServer, 'eval-worker-fghij', { MODEL_URLS: `${out}/model/model.json;${MLP_TFJS}` }),
  });
  await evaluator.evaluate({ x: test.x, y: test.y });
  await evaluator.close();
  const configFile = path.join(tmp, label, 'model-hot-update', 'model_config.json');
  const inference = await IncrementalLearning.create({
    estimator: await TfjsEstimator.create(),
    config: env(lcServer, 'inferworker-klmno', {
      MODEL_URL: MLP_TFJS,
      MODEL_HOT_UPDATE: 'true',
      MODEL_HOT_UPDATE_CONFIG: configFile,
    }),
    hotUpdateSettleMs: 0,
  });
  await writeHotUpdateConfig(configFile, path.join(out, 'model'), goTime(new Date(Date.UTC(2025, 0, 1))));
  await inference.pollHotUpdate();
  await writeHotUpdateConfig(configFile, path.join(tmp, 'missing'), goTime(new Date(Date.UTC(2025, 0, 2))));
  await inference.pollHotUpdate();
  await inference.close();
}

it('train, eval and deploy reports reach the GM as IncrementalLearningJob status, as the emulator predicts', async () => {
  await cycle(lc.lcServer, 'real');
  const messages = await lc.waitFor((m) => m.filter((x) => x.header.resourceName === 'helmet-il').length >= 4);
  const status = messages.filter((m) => m.header.operation === 'status');
  expect(status.map((m) => [m.header.resourceKind, m.content.phase, m.content.status])).toEqual([
    ['IncrementalLearningJob', 'train', 'completed'],
    ['IncrementalLearningJob', 'eval', 'completed'],
    ['IncrementalLearningJob', 'deploy', 'completed'],
    ['IncrementalLearningJob', 'deploy', 'failed'],
  ]);
  const [trainMsg, evalMsg, deployMsg] = status as [GmMessage, GmMessage, GmMessage];
  expect(trainMsg.content.output.models).toEqual([
    expect.objectContaining({ format: 'json', url: '/real/output/train/1/model/model.json' }),
    expect.objectContaining({ format: 'tfjs', url: '/real/output/train/1/model' }),
  ]);
  const evalModels = evalMsg.content.output.models as { metrics: { accuracy: number[] } }[];
  expect(evalModels).toHaveLength(2);
  for (const m of evalModels) expect(m.metrics.accuracy).toEqual([expect.any(Number)]);
  expect(deployMsg.content.output).toEqual({ models: null, ownerInfo: null });

  // The emulator forwards the same messages: equal as JSON values (the real LC, a Go map, sorts
  // keys), with the folder label and the metric values (two trainings) masked.
  await cycle(emulator.url, 'emulated');
  const normalise = (m: { header: object; content: object }): unknown =>
    JSON.parse(
      JSON.stringify({ header: m.header, content: m.content }, (_key, value: unknown) =>
        typeof value === 'number'
          ? 0
          : typeof value === 'string'
            ? value.replace(/^\/(real|emulated)\//, '/X/')
            : value,
      ),
    );
  expect(emulator.forwarded.map(normalise)).toEqual(status.map(normalise));
});
