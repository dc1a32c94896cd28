/**
 * examples/federated-learning-v2 as it runs: the FederatedLearningJob YAML against the real Sedna
 * CRDs, and the job (`npm run example:fl-v2 -- --json`: AggregationServerV2 and two
 * FederatedLearningV2 trainers as child processes configured by environment variables, with the LC
 * emulator), once with the WebSocket transmitter and once through the suite's S3 server.
 */
import fs from 'node:fs';
import path from 'node:path';
import { runNode } from '../helpers/child.js';
import { validateResources } from '../helpers/crd.js';
import { ROOT } from '../helpers/paths.js';
import { s3TestSettings, uniquePrefix } from '../helpers/s3.js';

const example = path.join(ROOT, 'examples', 'federated-learning-v2');

beforeAll(() => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'index.js')))
    throw new Error('dist/ is missing: run `npm run build` (npm test does)');
});

interface Summary {
  transmitter: string;
  rounds: number;
  reachedTarget: boolean;
  accuracies: number[];
  trainers: { worker: string; transmitter: string; rounds: { round: number }[] }[];
  lcReports: string[];
}

async function runJob(env: Record<string, string>): Promise<Summary> {
  const result = await runNode([path.join(example, 'run-job.mjs'), '--json'], {
    cwd: ROOT,
    timeoutMs: 150_000,
    env: { LOG_LEVEL: 'error', ...env },
  });
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as Summary;
}

function expectTrained(summary: Summary, transmitter: string): void {
  expect(summary.transmitter).toBe(transmitter);
  expect(summary.rounds).toBe(summary.accuracies.length);
  expect(summary.rounds).toBeLessThanOrEqual(5);
  // It ends at the target (0.95) or after its 5 rounds; either way the global model learnt.
  if (summary.reachedTarget) expect(summary.accuracies.at(-1)).toBeGreaterThanOrEqual(0.95);
  else expect(summary.rounds).toBe(5);
  expect(summary.accuracies.at(-1)).toBeGreaterThan(0.85);
  for (const t of summary.trainers) {
    expect(t.transmitter).toBe(transmitter);
    expect(t.rounds.map((r) => r.round)).toEqual(summary.accuracies.map((_, i) => i + 1));
  }
  expect(summary.lcReports.filter((r) => r.endsWith(':train:completed'))).toHaveLength(2);
}

describe('examples/federated-learning-v2 YAML', () => {
  it('validates against the real Sedna CRDs', () => {
    const checks = validateResources(path.join(example, 'federated-learning-v2-job.yaml'));
    expect(checks.map((c) => [c.kind, c.name, c.errors])).toEqual([
      ['Dataset', 'digits-v2-edge-1', []],
      ['Dataset', 'digits-v2-edge-2', []],
      ['Model', 'digits-fl-v2-model', []],
      ['FederatedLearningJob', 'digits-fl-v2', []],
    ]);
  });
});

describe('the v2 job (npm run example:fl-v2 -- --json)', () => {
  it('trains the digits model with the WebSocket transmitter', async () => {
    expectTrained(await runJob({ TRANSMITTER: 'ws' }), 'ws');
  }, 160_000);

  it('trains it with the weights going through S3 (TRANSMITTER=s3)', async () => {
    const s3 = s3TestSettings();
    const summary = await runJob({
      TRANSMITTER: 's3',
      S3_ENDPOINT_URL: s3.endpoint,
      ACCESS_KEY_ID: s3.accessKeyId,
      SECRET_ACCESS_KEY: s3.secretAccessKey,
      AGG_DATA_PATH: `s3://${s3.bucket}/${uniquePrefix('fl-v2-example')}`,
    });
    expectTrained(summary, 's3');
  }, 160_000);
});
