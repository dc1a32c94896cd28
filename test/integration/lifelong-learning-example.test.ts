/**
 * examples/lifelong-learning as it runs: the YAML against the real Sedna CRDs, and the whole cycle
 * (`npm run example:ll -- --json`: the KB and the three worker scripts as child processes
 * configured by environment variables, with the LC emulator).
 */
import fs from 'node:fs';
import path from 'node:path';
import { runNode } from '../helpers/child.js';
import { crdValidator, validateResources } from '../helpers/crd.js';
import { ROOT } from '../helpers/paths.js';

const example = path.join(ROOT, 'examples', 'lifelong-learning');

beforeAll(() => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'index.js')))
    throw new Error('dist/ is missing: run `npm run build` (npm test does)');
});

describe('examples/lifelong-learning YAML', () => {
  it('validates against the real Sedna CRDs', () => {
    const checks = validateResources(path.join(example, 'lifelong-learning-job.yaml'));
    expect(checks.map((c) => [c.kind, c.name, c.errors])).toEqual([
      ['Dataset', 'penguins-dataset', []],
      ['LifelongLearningJob', 'penguins-ll', []],
    ]);
  });

  it('the validation catches a broken job (no train trigger)', () => {
    const validate = crdValidator('LifelongLearningJob');
    const ok = validate({
      apiVersion: 'sedna.io/v1alpha1',
      kind: 'LifelongLearningJob',
      metadata: { name: 'x' },
      spec: {
        dataset: { name: 'd', trainProb: 0.8 },
        outputDir: '/o',
        trainSpec: { template: {} },
        evalSpec: { template: {} },
        deploySpec: { template: {} },
      },
    });
    expect(ok).toBe(false);
    expect(JSON.stringify(validate.errors)).toContain('trigger');
  });
});

describe('the full cycle (npm run example:ll -- --json)', () => {
  it('tasks by species and island beat one global model; the weak tasks are dropped; unseen birds flagged', async () => {
    const result = await runNode([path.join(example, 'run-local.mjs'), '--json'], {
      cwd: ROOT,
      timeoutMs: 120_000,
      env: { LOG_LEVEL: 'error' },
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as {
      globalModelAccuracy: number;
      lifelongAccuracy: number;
      tasks: { entry: string; trainSamples: number; testPrecision: number; deployed: boolean }[];
      droppedTasks: string[];
      unseenDetected: { precision: number; recall: number };
      streamSamples: number;
      unseenSamples: number;
      unseenFilesSaved: number;
      lcReports: string[];
    };
    expect(summary.lcReports).toEqual(['train:completed', 'eval:completed']);
    expect(summary.tasks.map((t) => [t.entry, t.trainSamples])).toEqual([
      ['Adelie_Biscoe', 26],
      ['Adelie_Dream', 33],
      ['Chinstrap_Dream', 40],
      ['Gentoo_Biscoe', 71],
    ]);
    // The drop rule as the CRD sets it: precision < 0.9 on the test split.
    expect(summary.droppedTasks).toEqual(summary.tasks.filter((t) => t.testPrecision < 0.9).map((t) => t.entry));
    expect(summary.droppedTasks.length).toBeGreaterThan(0);
    expect(summary.tasks.filter((t) => !t.deployed).map((t) => t.entry)).toEqual(summary.droppedTasks);
    expect(summary.lifelongAccuracy).toBeGreaterThan(summary.globalModelAccuracy);
    expect(summary.streamSamples).toBe(105);
    expect(summary.unseenSamples).toBe(47);
    expect(summary.unseenDetected).toEqual({ precision: 1, recall: 1 });
    // One call per bird: each unseen one was saved in a file of its own.
    expect(summary.unseenFilesSaved).toBe(47);
  }, 120_000);
});
