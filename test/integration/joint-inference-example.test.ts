/**
 * examples/joint-inference as it runs in a pod: the two worker scripts as child processes,
 * configured only by environment variables, against the LC emulator; and its YAML against the
 * real JointInferenceService CRD.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LCEmulator } from '../../src/testing/lc-emulator.js';
import { runNode } from '../helpers/child.js';
import { crdValidator, validateResources } from '../helpers/crd.js';
import { ROOT } from '../helpers/paths.js';
import { EDGE_ONNX } from '../helpers/backend-fixtures.js';
import { edgeWorkerEnv, JI_EXAMPLE as example, startCloudWorker } from '../helpers/ji-example.js';

describe('examples/joint-inference YAML', () => {
  it('validates against the real Sedna CRDs', () => {
    const checks = validateResources(path.join(example, 'joint-inference-service.yaml'));
    expect(checks.map((c) => c.kind)).toEqual(['Model', 'Model', 'JointInferenceService']);
    expect(checks.map((c) => [c.name, c.errors])).toEqual([
      ['digits-little-model', []],
      ['digits-big-model', []],
      ['digits-inference', []],
    ]);
  });

  it('the validation catches a broken resource', () => {
    const validate = crdValidator('JointInferenceService');
    expect(
      validate({
        apiVersion: 'sedna.io/v1alpha1',
        kind: 'JointInferenceService',
        spec: { edgeWorker: { model: { name: 'x' } } },
      }),
    ).toBe(false);
    expect(JSON.stringify(validate.errors)).toContain('cloudWorker');
  });
});

describe('examples/joint-inference workers as child processes', () => {
  let lc: LCEmulator;
  let cloud: { child: ChildProcess; port: number };
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'ji-example-'));

  beforeAll(async () => {
    if (!fs.existsSync(path.join(ROOT, 'dist', 'index.js')))
      throw new Error('dist/ is missing: run `npm run build` (npm test does)');
    lc = await LCEmulator.start();
    cloud = await startCloudWorker();
  });
  afterAll(async () => {
    cloud.child.kill('SIGTERM');
    await lc.close();
    fs.rmSync(out, { recursive: true, force: true });
  });

  it('the edge worker classifies the input, offloads hard examples and reports to the LC', async () => {
    const result = await runNode([path.join(example, 'edge.mjs')], {
      cwd: ROOT,
      timeoutMs: 60_000,
      env: edgeWorkerEnv({ lcServer: lc.url, cloudPort: cloud.port, outputDir: out }),
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const all = fs
      .readFileSync(path.join(out, 'all.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map(
        (l) => JSON.parse(l) as { label: number; prediction: number; isHardExample: boolean; cloudAnswered: boolean },
      );
    const hard = fs.readFileSync(path.join(out, 'hard.jsonl'), 'utf8').trim().split('\n');
    expect(all).toHaveLength(359);
    expect(hard.length).toBe(all.filter((r) => r.isHardExample).length);
    expect(all.filter((r) => r.isHardExample).every((r) => r.cloudAnswered)).toBe(true);
    const accuracy = all.filter((r) => r.prediction === r.label).length / all.length;
    expect(accuracy).toBeGreaterThan(0.95);
    const last = lc.accepted().at(-1)!;
    expect(last).toMatchObject({
      name: 'edgeworker-x1y2z',
      namespace: 'default',
      ownerName: 'digits-inference', // SERVICE_NAME: the resource the counters belong to
      ownerKind: 'jointinferenceservice',
      kind: 'inference',
      ownerInfo: { inferenceNumber: 359, hardExampleNumber: hard.length },
    });
  });

  it('the edge worker fails fast, with a coded error, on a bad HEM parameter', async () => {
    const result = await runNode([path.join(example, 'edge.mjs')], {
      cwd: ROOT,
      env: {
        MODEL_URL: EDGE_ONNX,
        HEM_NAME: 'CrossEntropy',
        HEM_PARAMETERS: '[{"key":"threshold_cross_entropy","value":"high"}]',
        LC_SERVER: lc.url,
        output_url: out,
        LOG_LEVEL: 'silent',
      },
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('SEDNA_ERR_INVALID_ALGORITHM_PARAM');
  });
});
