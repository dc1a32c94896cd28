/**
 * examples/multi-edge-inference as it runs: `run-local.mjs --json` starts the four workers as
 * child processes (configured only by environment variables) over REST and over Kafka (the mock
 * cluster), and scores ReID's matches against the scene's ground truth; and its YAML against the
 * real VideoAnalyticsJob, FeatureExtractionService and ReidJob CRDs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { runNode } from '../helpers/child.js';
import { crdValidator, validateResources } from '../helpers/crd.js';
import { ROOT } from '../helpers/paths.js';

const example = path.join(ROOT, 'examples', 'multi-edge-inference');

describe('examples/multi-edge-inference YAML', () => {
  it('validates against the real Sedna CRDs', () => {
    const checks = validateResources(path.join(example, 'multi-edge-inference.yaml'));
    expect(checks.map((c) => [c.kind, c.name, c.errors])).toEqual([
      ['Model', 'color-blob-detector', []],
      ['Model', 'color-histogram-extractor', []],
      ['FeatureExtractionService', 'feature-extraction', []],
      ['ReidJob', 'reid', []],
      ['VideoAnalyticsJob', 'video-analytics', []],
      ['VideoAnalyticsJob', 'video-analytics-camera-1', []],
    ]);
  });

  it('the validation catches a broken resource', () => {
    const validate = crdValidator('VideoAnalyticsJob');
    expect(validate({ apiVersion: 'sedna.io/v1alpha1', kind: 'VideoAnalyticsJob', spec: { template: {} } })).toBe(
      false,
    );
    expect(JSON.stringify(validate.errors)).toContain('model');
  });
});

interface CameraResult {
  camera: number;
  framesRead: number;
  skippedByOpticalFlow: number;
  detections: number;
  targetFirstSeen: number | null;
  targetFirstSeenTruth: number | null;
}
interface RunResult {
  transport: string;
  cameras: CameraResult[];
  framesMatched: number;
  reidTop1Accuracy: number;
  latencyMs: { p50: number; p99: number };
}

describe('npm run example:reid', () => {
  it('finds the searched person on both cameras over REST and over Kafka', async () => {
    if (!fs.existsSync(path.join(ROOT, 'dist', 'index.js')))
      throw new Error('dist/ is missing: run `npm run build` (npm test does)');
    const run = await runNode([path.join(example, 'run-local.mjs'), '--json'], { cwd: ROOT, timeoutMs: 170_000 });
    expect(run.code).toBe(0);
    const { results } = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { results: RunResult[] };
    expect(results.map((r) => r.transport)).toEqual(['rest', 'kafka']);
    for (const r of results) {
      for (const c of r.cameras) {
        expect(c.framesRead).toBe(100);
        expect(c.skippedByOpticalFlow).toBeGreaterThanOrEqual(25); // the still stretches
        expect(c.detections + c.skippedByOpticalFlow).toBeLessThanOrEqual(100);
        // Found within two frames of the ground truth (a person entering is seen before half of them is in view).
        expect(Math.abs(c.targetFirstSeen! - c.targetFirstSeenTruth!)).toBeLessThanOrEqual(3);
      }
      expect(r.framesMatched).toBe(r.cameras.reduce((n, c) => n + c.detections, 0));
      expect(r.reidTop1Accuracy).toBeGreaterThanOrEqual(0.95);
      expect(r.latencyMs.p50).toBeGreaterThan(0);
    }
  }, 180_000);
});
