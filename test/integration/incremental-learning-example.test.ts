/**
 * examples/incremental-learning as it runs: the YAML against the real Sedna CRDs, the whole cycle
 * (`npm run example:il -- --json`: the three worker scripts as child processes configured by
 * environment variables, with the LC emulator), and the workers' failures reported to the LC.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LCEmulator } from '../../src/testing/lc-emulator.js';
import { runNode } from '../helpers/child.js';
import { crdValidator, validateResources } from '../helpers/crd.js';
import { ROOT } from '../helpers/paths.js';

const example = path.join(ROOT, 'examples', 'incremental-learning');

beforeAll(() => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'index.js')))
    throw new Error('dist/ is missing: run `npm run build` (npm test does)');
});

describe('examples/incremental-learning YAML', () => {
  it('validates against the real Sedna CRDs', () => {
    const checks = validateResources(path.join(example, 'incremental-learning-job.yaml'));
    expect(checks.map((c) => [c.kind, c.name, c.errors])).toEqual([
      ['Dataset', 'digits-dataset', []],
      ['Model', 'digits-initial-model', []],
      ['Model', 'digits-deploy-model', []],
      ['IncrementalLearningJob', 'digits-il', []],
    ]);
  });

  it('the validation catches a broken job (no deploy trigger)', () => {
    const validate = crdValidator('IncrementalLearningJob');
    const ok = validate({
      apiVersion: 'sedna.io/v1alpha1',
      kind: 'IncrementalLearningJob',
      metadata: { name: 'x' },
      spec: {
        initialModel: { name: 'm' },
        dataset: { name: 'd', trainProb: 0.8 },
        outputDir: '/o',
        trainSpec: { template: {}, trigger: { condition: { operator: '>', threshold: 1, metric: 'num_of_samples' } } },
        evalSpec: { template: {} },
        deploySpec: { model: { name: 'm' }, hardExampleMining: { name: 'IBT' }, template: {} },
      },
    });
    expect(ok).toBe(false);
    expect(JSON.stringify(validate.errors)).toContain('trigger');
  });
});

describe('the full cycle (npm run example:il -- --json)', () => {
  it('weak model → hard examples → retrain → eval delta → hot deploy → better accuracy', async () => {
    const result = await runNode([path.join(example, 'run-local.mjs'), '--json'], {
      cwd: ROOT,
      timeoutMs: 90_000,
      env: { LOG_LEVEL: 'error' },
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as {
      accuracyBefore: number;
      accuracyAfter: number;
      hardExamples: number;
      evalMetrics: { new: { accuracy: number[] }; deployed: { accuracy: number[] }; accuracy_delta: number[] };
      deployed: boolean;
      lcReports: string[];
    };
    expect(summary.deployed).toBe(true);
    expect(summary.lcReports).toEqual(['train:completed', 'eval:completed', 'deploy:completed']);
    expect(summary.hardExamples).toBeGreaterThan(50);
    expect(summary.accuracyBefore).toBeLessThan(0.85);
    expect(summary.accuracyAfter).toBeGreaterThan(summary.accuracyBefore + 0.1);
    // What the inference worker answers after the hot swap is what the eval worker measured.
    expect(summary.evalMetrics.new.accuracy[0]).toBeCloseTo(summary.accuracyAfter, 10);
    expect(summary.evalMetrics.deployed.accuracy[0]).toBeCloseTo(summary.accuracyBefore, 10);
    expect(summary.evalMetrics.accuracy_delta[0]).toBeCloseTo(summary.accuracyAfter - summary.accuracyBefore, 10);
  }, 90_000);
});

describe('worker failures are reported to the LC', () => {
  let lc: LCEmulator;
  let tmp: string;
  beforeAll(async () => {
    lc = await LCEmulator.start({
      knownJobs: [{ kind: 'incrementallearningjob', namespace: 'default', name: 'digits-il' }],
    });
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'sedna-il-example-bad-'));
  });
  afterAll(async () => {
    await lc.close();
    await fsp.rm(tmp, { recursive: true, force: true });
  });

  const env = (worker: string): Record<string, string> => ({
    NAMESPACE: 'default',
    JOB_NAME: 'digits-il',
    WORKER_NAME: worker,
    LC_SERVER: lc.url,
    LOG_LEVEL: 'silent',
  });

  it('train.mjs with an index naming missing files: train failed, coded error, non-zero exit', async () => {
    const index = path.join(tmp, 'index.txt');
    await fsp.writeFile(index, 'samples/a.json 1\nsamples/b.json 2\n');
    const result = await runNode([path.join(example, 'train.mjs')], {
      cwd: ROOT,
      env: {
        ...env('train-worker-bad'),
        MODEL_URL: path.join(tmp, 'out'),
        TRAIN_DATASET_URL: index,
        ORIGINAL_DATASET_URL: index,
      },
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('SEDNA_ERR_FILE_NOT_FOUND');
    expect(lc.accepted().filter((r) => r.name === 'train-worker-bad')).toEqual([
      {
        name: 'train-worker-bad',
        namespace: 'default',
        ownerName: 'digits-il',
        ownerKind: 'incrementallearningjob',
        kind: 'train',
        status: 'failed',
      },
    ]);
    expect(fs.existsSync(path.join(tmp, 'out'))).toBe(false);
  });

  it('eval.mjs with one model in MODEL_URLS: eval failed, SEDNA_ERR_INVALID_CONFIG', async () => {
    const result = await runNode([path.join(example, 'eval.mjs')], {
      cwd: ROOT,
      env: {
        ...env('eval-worker-bad'),
        MODEL_URLS: path.join(ROOT, 'test', 'fixtures', 'models', 'digits-mlp-tfjs'),
        TEST_DATASET_URL: path.join(tmp, 'index.txt'),
      },
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('SEDNA_ERR_INVALID_CONFIG');
    expect(
      lc
        .accepted()
        .filter((r) => r.name === 'eval-worker-bad')
        .map((r) => [r.kind, r.status]),
    ).toEqual([['eval', 'failed']]);
  });
});
