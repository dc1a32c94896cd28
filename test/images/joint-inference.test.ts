/**
 * A JointInferenceService as the controller deploys it, in containers on one network: the cloud
 * worker behind its Service name (`<service>-cloud.<namespace>`, what BIG_MODEL_IP names), the edge
 * worker with the HEM settings and hostPath volumes, and the LocalController (the LC emulator, in a
 * container) receiving the edge's reports.
 */
import fs from 'node:fs';
import path from 'node:path';
import { OnnxEstimator } from '../../src/backend/onnx.js';
import { CLOUD_ONNX, EDGE_ONNX, loadDigits } from '../helpers/backend-fixtures.js';
import { FIXTURES, recordOutcome, stage, workerName } from './containers.js';
import { jiCloud } from './start-specs/joint-inference.js';
import { NAMESPACE } from './workers.js';

interface Line {
  index: number;
  label: number;
  prediction: number;
  edgePrediction: number;
  isHardExample: boolean;
  cloudAnswered: boolean;
}
const argmax = (row: readonly number[]): number => row.indexOf(Math.max(...row));

const the = stage();

it('classifies every sample at the edge, sends the hard ones to the cloud by Service name, reports to the LC', async () => {
  const service = 'digits-inference';
  const output = the.dir('ji-output', true);
  const cloud = await the.run(jiCloud(the, workerName('cloudworker'), service));
  await cloud.waitForLine('stdout', (l) => l.includes('"endpoint"'), 90_000);

  const edgeWorker = workerName('edgeworker');
  const edge = await the.run({
    image: 'sedna-sdk-example-joint-inference-edge',
    name: edgeWorker,
    // What the controller injects into the edge worker (spec §1.6; JOB_NAME is not among them).
    env: {
      NAMESPACE,
      SERVICE_NAME: service,
      WORKER_NAME: edgeWorker,
      LC_SERVER: the.lc.url,
      DATA_PATH_PREFIX: '/home/data',
      MODEL_URL: '/home/data/data/models/digits-edge.onnx',
      BIG_MODEL_IP: `${service}-cloud.${NAMESPACE}`,
      BIG_MODEL_PORT: '5000',
      HEM_NAME: 'CrossEntropy',
      HEM_PARAMETERS: '[{"key":"threshold_cross_entropy","value":"0.75"}]',
      // The pod template's own variables (joint-inference-service.yaml).
      input_url: '/data/input/digits-test.csv',
      output_url: '/data/output',
      loop: 'false',
      LC_PERIOD: '1',
    },
    volumes: [
      // The Model's URL /data/models/digits-edge.onnx: its folder mounted under DATA_PATH_PREFIX.
      { host: path.join(FIXTURES, 'models'), container: '/home/data/data/models' },
      { host: path.join(FIXTURES, 'data'), container: '/data/input' },
      { host: output, container: '/data/output', writable: true },
    ],
  });
  const code = await edge.waitForExit(180_000);
  if (code !== 0) throw new Error(`the edge worker exited with ${code}\n${edge.output()}`);

  const read = (file: string): Line[] =>
    fs
      .readFileSync(path.join(output, file), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Line);
  const all = read('all.jsonl');
  const hard = read('hard.jsonl');
  const test = loadDigits('test');
  expect(all).toHaveLength(test.y.length);
  expect(all.map((l) => l.label)).toEqual(test.y);
  expect(hard).toEqual(all.filter((l) => l.isHardExample));
  expect(hard.length / all.length).toBeGreaterThan(0.05);
  expect(hard.length / all.length).toBeLessThan(0.4);

  // Every hard example got the cloud model's answer (computed here with the same model), every easy
  // one the edge model's: the cloud really answered across the network.
  const [edgeModel, cloudModel] = await Promise.all([
    OnnxEstimator.create({ modelUrl: EDGE_ONNX }),
    OnnxEstimator.create({ modelUrl: CLOUD_ONNX }),
  ]);
  const cloudHere = await cloudModel.predict(test.x);
  const edgeHere = await edgeModel.predict(test.x);
  await Promise.all([edgeModel.close(), cloudModel.close()]);
  for (const l of all) {
    expect(l.edgePrediction).toBe(argmax(edgeHere[l.index]!));
    if (l.isHardExample) {
      expect(l.cloudAnswered).toBe(true);
      expect(l.prediction).toBe(argmax(cloudHere[l.index]!));
    } else expect(l.prediction).toBe(l.edgePrediction);
  }
  const accuracy = (pick: (l: Line) => number): number => all.filter((l) => pick(l) === l.label).length / all.length;
  expect(accuracy((l) => l.prediction)).toBeGreaterThan(accuracy((l) => l.edgePrediction));
  expect(accuracy((l) => l.prediction)).toBeGreaterThan(0.95);

  // The LC got the final counters, for the service (SERVICE_NAME), and would forward them to the GM.
  const reports = await the.lc.waitFor((r) => r.some((x) => x.worker === edgeWorker), 10_000);
  const last = reports.filter((r) => r.worker === edgeWorker).at(-1)!;
  expect(last.status).toBe(200);
  expect(last.body).toMatchObject({
    name: edgeWorker,
    namespace: NAMESPACE,
    ownerName: service,
    ownerKind: 'jointinferenceservice',
    kind: 'inference',
    ownerInfo: { inferenceNumber: all.length, hardExampleNumber: hard.length },
  });
  expect(last.forwarded?.content.output).toMatchObject({ ownerInfo: { inferenceNumber: all.length } });

  recordOutcome('joint inference', {
    samples: all.length,
    hardExamples: hard.length,
    edgeAccuracy: Number(accuracy((l) => l.edgePrediction).toFixed(3)),
    jointAccuracy: Number(accuracy((l) => l.prediction).toFixed(3)),
    lcReports: reports.filter((r) => r.worker === edgeWorker).length,
  });
  const stopped = await cloud.stop(10);
  expect(stopped.code).toBe(0);
  expect(stopped.ms).toBeLessThan(10_000);
});
