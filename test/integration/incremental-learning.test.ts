/**
 * @jest-environment ./test/helpers/node-realm-environment.cjs
 *
 * IncrementalLearning train and eval workers against the LC emulator: the exact report bodies the
 * LocalController receives (field by field, in the order LCClient sends them), what it forwards
 * to the GlobalManager, saving to s3://, and every bad input reported as `status: failed`.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TfjsEstimator, accuracy } from '../../src/backend/tfjs.js';
import { loadConfig, type SednaConfig } from '../../src/common/config.js';
import { IncrementalLearning } from '../../src/core/incremental-learning/incremental-learning.js';
import { FileOps } from '../../src/datasources/file-ops.js';
import { TxtDataParse } from '../../src/datasources/txt.js';
import { LCEmulator } from '../../src/testing/lc-emulator.js';
import { MLP_TFJS, loadDigits } from '../helpers/backend-fixtures.js';
import { s3FileOps, s3TestSettings, uniquePrefix } from '../helpers/s3.js';
import { rejectionOf } from '../helpers/errors.js';

const train = loadDigits('train');
const test = loadDigits('test');
const small = { x: train.x.slice(0, 200), y: train.y.slice(0, 200) };
const testSet = { x: test.x, y: test.y };

let lc: LCEmulator;
let tmp: string;
let deployed: string;

beforeAll(async () => {
  lc = await LCEmulator.start({
    knownJobs: [{ kind: 'incrementallearningjob', namespace: 'default', name: 'helmet-il' }],
  });
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'sedna-il-'));
  // The deployed model, under DATA_PATH_PREFIX (= tmp) as in a pod.
  deployed = path.join(tmp, 'models', 'deployed');
  await fsp.cp(MLP_TFJS, deployed, { recursive: true });
});

afterAll(async () => {
  await lc.close();
  await fsp.rm(tmp, { recursive: true, force: true });
});

beforeEach(() => lc.clear());

function config(env: Record<string, string>): SednaConfig {
  return loadConfig({
    NAMESPACE: 'default',
    JOB_NAME: 'helmet-il',
    LC_SERVER: lc.url,
    DATA_PATH_PREFIX: tmp,
    LOG_LEVEL: 'silent',
    ...env,
  });
}

async function job(env: Record<string, string>, extra: Partial<Parameters<typeof IncrementalLearning.create>[0]> = {}) {
  return IncrementalLearning.create({ estimator: await TfjsEstimator.create(), config: config(env), ...extra });
}

const lastRaw = (): string => lc.reports.at(-1)!.raw;

describe('train', () => {
  it('starts from BASE_MODEL_URL, saves to MODEL_URL/model and reports both TF.js formats', async () => {
    const output = path.join(tmp, 'output', 'train', '1');
    const il = await job({ WORKER_NAME: 'train-worker-a1b2c', BASE_MODEL_URL: deployed, MODEL_URL: output });
    try {
      const progress: number[] = [];
      const result = await il.train(small, undefined, {
        epochs: 2,
        batchSize: 32,
        onEpoch: (p) => progress.push(p.epoch),
      });
      expect(progress).toEqual([1, 2]);
      // Started from the deployed model (98.9 %), not from scratch: still accurate after 2 epochs.
      expect((await il.estimator.evaluate(testSet)).accuracy).toBeGreaterThan(0.95);
      expect(result.modelUrl).toBe(path.join(output, 'model'));
      expect(fs.readdirSync(result.modelUrl).sort()).toEqual(['model.json', 'weights.bin']);
      expect(Object.keys(result.metrics).sort()).toEqual(['acc', 'loss']);
      expect(result.report).toEqual({ sent: true });
      // Exactly the body the LC gets, key order included (DATA_PATH_PREFIX removed from the URLs).
      expect(lastRaw()).toBe(
        JSON.stringify({
          name: 'train-worker-a1b2c',
          namespace: 'default',
          ownerName: 'helmet-il',
          ownerKind: 'incrementallearningjob',
          kind: 'train',
          status: 'completed',
          results: [
            { format: 'json', url: '/output/train/1/model/model.json', metrics: result.metrics },
            { format: 'tfjs', url: '/output/train/1/model', metrics: result.metrics },
          ],
        }),
      );
      expect(lc.reports.at(-1)!.status).toBe(200);
      expect(lc.forwarded.at(-1)).toEqual({
        header: {
          namespace: 'default',
          resourceKind: 'IncrementalLearningJob',
          resourceName: 'helmet-il',
          operation: 'status',
        },
        content: { phase: 'train', status: 'completed', output: { models: result.results, ownerInfo: null } },
      });
    } finally {
      await il.close();
    }
  });

  it('applies postProcess to the trained estimator and reads a lazily loaded dataset', async () => {
    const il = await job({ WORKER_NAME: 'train-worker-p', BASE_MODEL_URL: deployed, MODEL_URL: path.join(tmp, 'pp') });
    try {
      const result = await il.train(() => Promise.resolve(small), undefined, {
        epochs: 1,
        postProcess: (estimator) => estimator.backend,
      });
      expect(result.postProcessed).toBe('tfjs');
    } finally {
      await il.close();
    }
  });

  it('a dataset index naming missing files: reported failed, coded error, nothing saved', async () => {
    const dataset = path.join(tmp, 'ds-missing');
    await fsp.mkdir(dataset, { recursive: true });
    await fsp.writeFile(path.join(dataset, 'index.txt'), 'samples/1.json 3\nsamples/2.json 4\n');
    const output = path.join(tmp, 'output', 'train', 'missing');
    const il = await job({ WORKER_NAME: 'train-worker-x', BASE_MODEL_URL: deployed, MODEL_URL: output });
    try {
      const load = () =>
        new TxtDataParse<string, string>('train').parse(path.join(dataset, 'index.txt'), {
          pathRoot: 'index',
          checkFiles: true,
        }) as unknown as Promise<{ x: number[][]; y: number[] }>;
      const err = await rejectionOf(il.train(load, undefined, { epochs: 1 }));
      expect(err.code).toBe('SEDNA_ERR_FILE_NOT_FOUND');
      expect(err.message).toContain('index.txt:1');
      expect(lastRaw()).toBe(
        JSON.stringify({
          name: 'train-worker-x',
          namespace: 'default',
          ownerName: 'helmet-il',
          ownerKind: 'incrementallearningjob',
          kind: 'train',
          status: 'failed',
        }),
      );
      expect(lc.forwarded.at(-1)?.content).toEqual({
        phase: 'train',
        status: 'failed',
        output: { models: null, ownerInfo: null },
      });
      expect(fs.existsSync(output)).toBe(false);
    } finally {
      await il.close();
    }
  });

  it('a missing base model: reported failed, SEDNA_ERR_MODEL_NOT_FOUND', async () => {
    const il = await job({
      WORKER_NAME: 'train-worker-y',
      BASE_MODEL_URL: path.join(tmp, 'no-such-model'),
      MODEL_URL: path.join(tmp, 'out-y'),
    });
    try {
      expect((await rejectionOf(il.train(small, undefined, { epochs: 1 }))).code).toBe('SEDNA_ERR_MODEL_NOT_FOUND');
      expect(JSON.parse(lastRaw())).toMatchObject({ kind: 'train', status: 'failed' });
    } finally {
      await il.close();
    }
  });

  it('saves to an s3:// MODEL_URL after a complete local write, and evaluates from there', async () => {
    const s3 = s3TestSettings();
    const prefix = uniquePrefix('il-train');
    const files = s3FileOps();
    const modelUrl = `s3://${s3.bucket}/${prefix}/train/1`;
    const il = await job(
      {
        WORKER_NAME: 'train-worker-s3',
        BASE_MODEL_URL: deployed,
        MODEL_URL: modelUrl,
        MODEL_URLS: `${modelUrl}/model/model.json;${deployed}`,
      },
      { fileOps: files },
    );
    try {
      const result = await il.train(small, undefined, { epochs: 1 });
      expect(result.modelUrl).toBe(`${modelUrl}/model`);
      expect(result.results.map((r) => [r.format, r.url])).toEqual([
        ['json', `${modelUrl}/model/model.json`],
        ['tfjs', `${modelUrl}/model`],
      ]);
      expect(await files.exists(`${modelUrl}/model/model.json`)).toBe(true);
      expect(await files.exists(`${modelUrl}/model/weights.bin`)).toBe(true);
      // The eval worker gets results[0] (model.json on S3): its folder is fetched with it.
      const evaluated = await il.evaluate(testSet);
      expect(evaluated.models.map((m) => m.url)).toEqual([`${modelUrl}/model/model.json`, deployed]);
      expect(evaluated.models[0]!.metrics.accuracy![0]).toBeGreaterThan(0.9);
    } finally {
      await il.close();
      await files.remove(`s3://${s3.bucket}/${prefix}`);
      await files.close();
    }
  });
});

describe('evaluate', () => {
  let trained: string;

  beforeAll(async () => {
    // A weaker "new" model: the MLP retrained briefly from scratch on few samples.
    const e = await TfjsEstimator.create({
      model: (tf) =>
        tf.sequential({
          layers: [
            tf.layers.dense({
              units: 16,
              inputShape: [64],
              activation: 'relu',
              kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }),
            }),
            tf.layers.dense({
              units: 10,
              activation: 'softmax',
              kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }),
            }),
          ],
        }),
    });
    await e.train({ x: train.x.slice(0, 150), y: train.y.slice(0, 150) }, undefined, {
      epochs: 5,
      shuffle: false,
      learningRate: 0.01,
    });
    trained = await e.save(path.join(tmp, 'output', 'train', '2', 'model'));
    await e.close();
  });

  /** Accuracy of a saved model on the test split, computed independently of the job. */
  async function accuracyOf(url: string): Promise<number> {
    const e = await TfjsEstimator.create({ modelUrl: url });
    try {
      return accuracy(testSet.y, await e.predict(testSet.x));
    } finally {
      await e.close();
    }
  }

  it('reports two results in MODEL_URLS order with metrics as lists, and the delta the LC computes', async () => {
    const modelUrls = `${trained}/model.json;${deployed}`;
    const il = await job({ WORKER_NAME: 'eval-worker-q9w8e', MODEL_URLS: modelUrls, TEST_DATASET_URL: '/unused' });
    try {
      const result = await il.evaluate(testSet);
      const [newAcc, oldAcc] = [await accuracyOf(trained), await accuracyOf(deployed)];
      expect(newAcc).toBeLessThan(oldAcc);
      expect(result.models).toEqual([
        { url: `${trained}/model.json`, metrics: { accuracy: [newAcc] } },
        { url: deployed, metrics: { accuracy: [oldAcc] } },
      ]);
      expect(result.deltas).toEqual({ accuracy: [newAcc], accuracy_delta: [newAcc - oldAcc] });
      expect(lastRaw()).toBe(
        JSON.stringify({
          name: 'eval-worker-q9w8e',
          namespace: 'default',
          ownerName: 'helmet-il',
          ownerKind: 'incrementallearningjob',
          kind: 'eval',
          status: 'completed',
          results: [
            { format: 'json', url: '/output/train/2/model/model.json', metrics: { accuracy: [newAcc] } },
            { format: 'json', url: '/models/deployed/model.json', metrics: { accuracy: [oldAcc] } },
          ],
        }),
      );
      expect(lc.forwarded.at(-1)?.content.output.models).toEqual(result.results);
    } finally {
      await il.close();
    }
  });

  it('named metrics, including per-class lists, with a fresh estimator per model when a factory is given', async () => {
    const perClass = (y: readonly unknown[], p: readonly unknown[]): number[] =>
      [0, 1].map((c) => {
        const idx = y.map((v, i) => (v === c ? i : -1)).filter((i) => i >= 0);
        return accuracy(
          idx.map((i) => y[i] as number),
          idx.map((i) => p[i] as number[]),
        );
      });
    const il = await job(
      { WORKER_NAME: 'eval-worker-f', MODEL_URLS: `${trained};${deployed}` },
      { estimatorFactory: () => TfjsEstimator.create() },
    );
    try {
      const result = await il.evaluate(testSet, {
        metrics: { recall: perClass, accuracy: (y, p) => accuracy(y as number[], p as number[][]) },
      });
      expect(Object.keys(result.models[0]!.metrics)).toEqual(['recall', 'accuracy']);
      expect(result.models[0]!.metrics.recall).toHaveLength(2);
      expect(result.deltas.recall_delta).toHaveLength(2);
      expect(JSON.parse(lastRaw())).toMatchObject({ kind: 'eval', status: 'completed' });
    } finally {
      await il.close();
    }
  });

  it('MODEL_URLS with one entry: SEDNA_ERR_INVALID_CONFIG, reported failed', async () => {
    const il = await job({ WORKER_NAME: 'eval-worker-1', MODEL_URLS: deployed });
    try {
      const err = await rejectionOf(il.evaluate(testSet));
      expect(err.code).toBe('SEDNA_ERR_INVALID_CONFIG');
      expect(err.message).toContain('MODEL_URLS');
      expect(lastRaw()).toBe(
        JSON.stringify({
          name: 'eval-worker-1',
          namespace: 'default',
          ownerName: 'helmet-il',
          ownerKind: 'incrementallearningjob',
          kind: 'eval',
          status: 'failed',
        }),
      );
    } finally {
      await il.close();
    }
  });

  it('a metric returning a non-number: SEDNA_ERR_METRIC, reported failed, no completed report', async () => {
    const il = await job({ WORKER_NAME: 'eval-worker-m', MODEL_URLS: `${trained};${deployed}` });
    try {
      const err = await rejectionOf(
        il.evaluate(testSet, { metrics: { precision: () => 'high' as unknown as number } }),
      );
      expect(err.code).toBe('SEDNA_ERR_METRIC');
      expect(lc.accepted().map((r) => [r.kind, r.status])).toEqual([['eval', 'failed']]);
      // A post-process that breaks the list rule is caught the same way.
      const err2 = await rejectionOf(il.evaluate(testSet, { postProcess: () => ({ accuracy: Number.NaN }) }));
      expect(err2.code).toBe('SEDNA_ERR_METRIC');
      expect(lc.accepted().map((r) => r.status)).toEqual(['failed', 'failed']);
    } finally {
      await il.close();
    }
  });

  it('a missing model in MODEL_URLS: reported failed', async () => {
    const il = await job({ WORKER_NAME: 'eval-worker-n', MODEL_URLS: `${path.join(tmp, 'nope')};${deployed}` });
    try {
      expect((await rejectionOf(il.evaluate(testSet))).code).toBe('SEDNA_ERR_MODEL_NOT_FOUND');
      expect(JSON.parse(lastRaw())).toMatchObject({ kind: 'eval', status: 'failed' });
    } finally {
      await il.close();
    }
  });
});

describe('reporting', () => {
  it('an unreachable LC never fails the stage: the failure is logged, counted and returned', async () => {
    const il = await IncrementalLearning.create({
      estimator: await TfjsEstimator.create(),
      config: config({
        WORKER_NAME: 'train-worker-z',
        BASE_MODEL_URL: deployed,
        MODEL_URL: path.join(tmp, 'out-z'),
        LC_SERVER: 'http://127.0.0.1:9',
      }),
    });
    try {
      const result = await il.train(small, undefined, { epochs: 1 });
      expect(result.report.sent).toBe(false);
      expect(result.report.error?.code).toBe('SEDNA_ERR_NETWORK');
      expect(il.stats.reportFailures).toBe(1);
      expect(fs.existsSync(path.join(tmp, 'out-z', 'model', 'model.json'))).toBe(true);
    } finally {
      await il.close();
    }
  }, 30_000);

  it('the job works with a FileOps it does not own', async () => {
    const files = new FileOps();
    const il = await job({ WORKER_NAME: 'w', MODEL_URL: path.join(tmp, 'fo') }, { fileOps: files, lcClient: false });
    await il.close();
    expect(await files.exists(tmp)).toBe(true); // still open
    await files.close();
  });
});
