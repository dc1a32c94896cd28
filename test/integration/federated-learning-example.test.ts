/**
 * examples/federated-learning as it runs: the YAML against the real Sedna CRDs, and the whole job
 * (`npm run example:fl -- --json`: one aggregator and three trainers as child processes
 * configured by environment variables, with the LC emulator).
 */
import fs from 'node:fs';
import path from 'node:path';
import { runNode } from '../helpers/child.js';
import { crdValidator, validateResources } from '../helpers/crd.js';
import { ROOT } from '../helpers/paths.js';

const example = path.join(ROOT, 'examples', 'federated-learning');

beforeAll(() => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'index.js')))
    throw new Error('dist/ is missing: run `npm run build` (npm test does)');
});

describe('examples/federated-learning YAML', () => {
  it('validates against the real Sedna CRDs', () => {
    const checks = validateResources(path.join(example, 'federated-learning-job.yaml'));
    expect(checks.map((c) => [c.kind, c.name, c.errors])).toEqual([
      ['Dataset', 'digits-edge-1', []],
      ['Dataset', 'digits-edge-2', []],
      ['Dataset', 'digits-edge-3', []],
      ['Model', 'digits-fl-model', []],
      ['FederatedLearningJob', 'digits-fl', []],
    ]);
  });

  it('the validation catches a broken job (a trainer without its dataset)', () => {
    const validate = crdValidator('FederatedLearningJob');
    const ok = validate({
      apiVersion: 'sedna.io/v1alpha1',
      kind: 'FederatedLearningJob',
      metadata: { name: 'x' },
      spec: { aggregationWorker: { model: { name: 'm' }, template: {} }, trainingWorkers: [{ template: {} }] },
    });
    expect(ok).toBe(false);
    expect(JSON.stringify(validate.errors)).toContain('dataset');
  });
});

describe('the whole job (npm run example:fl -- --json)', () => {
  it('three skewed trainers: the federated model beats every local-only model', async () => {
    const result = await runNode([path.join(example, 'run-local.mjs'), '--json'], {
      cwd: ROOT,
      timeoutMs: 90_000,
      env: { LOG_LEVEL: 'error' },
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as {
      localAccuracies: number[];
      federatedAccuracy: number;
      rounds: number;
      trainers: { reportedAccuracy: number }[];
      lcReports: string[];
    };
    expect(summary.rounds).toBe(5);
    expect(summary.localAccuracies).toHaveLength(3);
    expect(summary.federatedAccuracy).toBeGreaterThan(0.85);
    for (const local of summary.localAccuracies) expect(summary.federatedAccuracy).toBeGreaterThan(local + 0.1);
    // Every trainer ends with the same (aggregated) model.
    for (const t of summary.trainers) expect(t.reportedAccuracy).toBeCloseTo(summary.federatedAccuracy, 10);
    expect(summary.lcReports).toHaveLength(15);
    expect(summary.lcReports.filter((r) => r.endsWith(':train:completed'))).toHaveLength(3);
  }, 90_000);
});
