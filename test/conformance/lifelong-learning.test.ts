/**
 * Lifelong learning reports → the real LocalController (with the GM's insert of the job, as in a
 * cluster): what reaches the GlobalManager for train and eval, with a real knowledge base, and
 * that it equals what the LC emulator says it would forward.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ClassicalEstimator } from '../../src/backend/classical.js';
import { loadConfig } from '../../src/common/config.js';
import { LifelongLearning } from '../../src/core/lifelong-learning/index.js';
import { KBServer } from '../../src/service/server/kb-server.js';
import { LCEmulator } from '../../src/testing/lc-emulator.js';
import { seasonDataset as dataset } from '../helpers/lifelong.js';
import { RealLC, type GmMessage } from './real-lc.js';

const JOB = 'atcii-ll';

/** What the GlobalManager sends the LC for a LifelongLearningJob (the CR, as the CRD shapes it). */
const insert = {
  header: { namespace: 'default', resourceKind: 'lifelonglearningjob', resourceName: JOB, operation: 'insert' },
  content: {
    apiVersion: 'sedna.io/v1alpha1',
    kind: 'LifelongLearningJob',
    metadata: { name: JOB, namespace: 'default' },
    spec: {
      dataset: { name: 'atcii-ds', trainProb: 0.8 },
      trainSpec: {
        template: { spec: { containers: [] } },
        trigger: {
          checkPeriodSeconds: 60,
          timer: { start: '00:00', end: '24:00' },
          condition: { operator: '>', threshold: 500, metric: 'num_of_samples' },
        },
      },
      evalSpec: { template: { spec: { containers: [] } } },
      deploySpec: { template: { spec: { containers: [] } } },
      outputDir: '/output',
    },
  },
};

let lc: RealLC;
let emulator: LCEmulator;
let kb: KBServer;
let tmp: string;

/** Resolves once the real LC's log says it started the inserted job (it forwards reports only then). */
function jobStarted(logFile: string, timeoutMs = 15_000): Promise<void> {
  const line = `lifelong learning job(default/lifelonglearningjob/${JOB}) is started`;
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (!fs.readFileSync(logFile, 'utf8').includes(line)) return;
      clearInterval(poll);
      clearTimeout(timer);
      resolve();
    };
    const poll = setInterval(check, 50);
    const timer = setTimeout(() => {
      clearInterval(poll);
      reject(new Error(`the real LC did not start the inserted job within ${timeoutMs} ms (see ${logFile})`));
    }, timeoutMs);
    check();
  });
}

beforeAll(async () => {
  lc = await RealLC.start({ inserts: [insert] });
  await jobStarted(lc.lcLog);
  emulator = await LCEmulator.start({ knownJobs: [{ kind: 'lifelonglearningjob', namespace: 'default', name: JOB }] });
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'll-conformance-'));
  kb = await KBServer.create({
    dir: path.join(tmp, 'kb'),
    dbUrl: `sqlite:///${path.join(tmp, 'kb.sqlite3')}`,
    host: '127.0.0.1',
    port: 0,
  });
  await kb.listen();
});
afterAll(async () => {
  await lc.stop();
  await emulator.close();
  await kb.close();
  await fsp.rm(tmp, { recursive: true, force: true });
});

/** One train and one eval against `lcServer`, each worker configured as the controller does. */
async function cycle(lcServer: string, label: string): Promise<void> {
  const config = (worker: string, extra: Record<string, string> = {}) =>
    loadConfig({
      NAMESPACE: 'default',
      JOB_NAME: JOB,
      WORKER_NAME: worker,
      LC_SERVER: lcServer,
      KB_SERVER: kb.url,
      DATA_PATH_PREFIX: tmp,
      OUTPUT_URL: path.join(tmp, label, 'output'),
      LOG_LEVEL: 'silent',
      ...extra,
    });
  const createEstimator = () => ClassicalEstimator.create({ maxDepth: 4 });
  const trainer = await LifelongLearning.create({
    createEstimator,
    config: config('train-worker-abcde'),
    taskDefinition: { method: 'TaskDefinitionByDataAttr', param: { attribute: ['season', 'strategy'] } },
  });
  await trainer.train(dataset(1, 60));
  await trainer.close();
  const evaluator = await LifelongLearning.create({
    createEstimator,
    config: config('eval-worker-fghij', { operator: '<', model_threshold: '0.5' }),
  });
  await evaluator.evaluate(dataset(2, 30));
  // A test set that cannot be read: reported as a failed eval, then rethrown.
  await expect(evaluator.evaluate(() => Promise.reject(new Error('no test data')))).rejects.toThrow('no test data');
  await evaluator.close();
}

it('train, eval and failed-eval reports reach the GM as LifelongLearningJob status, as the emulator predicts', async () => {
  await cycle(lc.lcServer, 'real');
  const messages = await lc.waitFor((m) => m.filter((x) => x.header.resourceName === JOB).length >= 3);
  const status = messages.filter((m) => m.header.resourceName === JOB && m.header.operation === 'status');
  expect(status.map((m) => [m.header.resourceKind, m.content.phase, m.content.status])).toEqual([
    ['LifelongLearningJob', 'train', 'completed'],
    ['LifelongLearningJob', 'eval', 'completed'],
    ['LifelongLearningJob', 'eval', 'failed'],
  ]);
  const [trainMsg, evalMsg] = status as [GmMessage, GmMessage];
  // The one result is the index, as Sedna's model_info(<OUTPUT_URL>/index.pkl).
  expect(trainMsg.content.output.models).toEqual([{ format: 'pkl', url: '/real/output/index.pkl', metrics: null }]);
  const evalModels = evalMsg.content.output.models as { format: string; url: string; metrics: object }[];
  expect(evalModels.map((r) => [r.format, r.url, Object.keys(r.metrics)])).toEqual([
    ['pkl', '/real/output/index.pkl', ['precision_score']],
  ]);
  expect((evalModels[0]?.metrics as { precision_score: unknown }).precision_score).toEqual(expect.any(Number));

  // The emulator forwards the same messages: equal as JSON values (the real LC, a Go map, sorts
  // keys), with the folder label masked.
  await cycle(emulator.url, 'emulated');
  const normalise = (m: { header: object; content: object }): unknown =>
    JSON.parse(
      JSON.stringify({ header: m.header, content: m.content }, (_key, value: unknown) =>
        typeof value === 'string' ? value.replace(/^\/(real|emulated)\//, '/X/') : value,
      ),
    );
  expect(emulator.forwarded.map(normalise)).toEqual(status.map(normalise));
});
