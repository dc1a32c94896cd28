/**
 * An IncrementalLearningJob's full cycle in containers, with the folders of the edge node shared
 * the way the controller's hostPath mounts share them: the dataset (/data/digits, where the
 * inference worker also writes its hard examples), the models (/models/digits-il), the job's
 * output (/output/digits-il) and the hot-update folder the LC writes
 * (/var/lib/sedna/model-hot-update/<ns>/incrementallearningjob/<name>/ → /model-hot-update).
 * This test plays the LC's job logic (what the real LC does between stages: the train index, the
 * eval trigger, the deploy copy) and a camera feeding the inference worker; the LC emulator in a
 * container receives and forwards the workers' reports.
 */
import fs from 'node:fs';
import path from 'node:path';
import { listHardExamples } from '../../src/core/incremental-learning/hard-example-store.js';
import { metricDeltas } from '../../src/core/metric-lists.js';
import { ModelClient } from '../../src/service/client/model-client.js';
import { loadDigits } from '../helpers/backend-fixtures.js';
import { goTime } from '../helpers/il.js';
import { giveToImageUser, recordOutcome, stage, workerName, type RunOptions } from './containers.js';
import { NAMESPACE, writeDigitsDataset } from './workers.js';

const JOB = 'digits-il';
const PREFIX = '/home/data'; // DATA_PATH_PREFIX: where host paths are mounted in the pods
const ORIGINAL_SAMPLES = 60;
const STREAMED_SAMPLES = 800;
const DEPLOY_THRESHOLD = 0.05; // deploySpec.trigger: accuracy_delta > 0.05

const the = stage({ knownJobs: [`incrementallearningjob/${NAMESPACE}/${JOB}`] });
let client: ModelClient | undefined;
/** The edge node's folders (host side of the hostPath volumes). */
const node = {} as Record<'dataset' | 'hardExamples' | 'models' | 'output' | 'hotUpdate', string>;

beforeAll(() => {
  node.dataset = the.dir('il-dataset', true);
  node.hardExamples = path.join(node.dataset, 'hard-examples');
  node.models = the.dir('il-models', true);
  node.output = the.dir('il-output', true);
  node.hotUpdate = the.dir('il-hot-update', true);
});
afterAll(() => client?.close());

/** The volumes every worker of the job gets (hostPath → container path under DATA_PATH_PREFIX). */
function volumes(): RunOptions['volumes'] {
  return [
    { host: node.dataset, container: `${PREFIX}/data/digits`, writable: true },
    { host: node.models, container: `${PREFIX}/models/digits-il`, writable: true },
    { host: node.output, container: `${PREFIX}/output/digits-il`, writable: true },
  ];
}

function env(worker: string, extra: Record<string, string>): Record<string, string> {
  return { NAMESPACE, JOB_NAME: JOB, WORKER_NAME: worker, LC_SERVER: the.lc.url, DATA_PATH_PREFIX: PREFIX, ...extra };
}

/** Runs a train or eval worker to completion, as its pod; returns its stdout JSON line. */
async function runToEnd(
  image: string,
  worker: string,
  extra: Record<string, string>,
): Promise<Record<string, unknown>> {
  const container = await the.run({ image, name: worker, env: env(worker, extra), volumes: volumes() });
  const code = await container.waitForExit(180_000);
  if (code !== 0) throw new Error(`${worker} exited with ${code}\n${container.output()}`);
  return JSON.parse(container.lines.stdout.at(-1)!) as Record<string, unknown>;
}

/** The worker's last report, as the LC forwarded it to the GM. */
function forwarded(worker: string) {
  return the.lc.reports(worker).at(-1)?.forwarded?.content;
}

it('one full cycle: serve, mine hard examples, retrain, evaluate, hot-deploy into the running inference worker', async () => {
  const train = loadDigits('train');
  const test = loadDigits('test');

  // The dataset on the node (Sedna's txt format) and the test split, both under /data/digits.
  const index = writeDigitsDataset(node.dataset, 'train', [...Array(ORIGINAL_SAMPLES).keys()], 'index');
  writeDigitsDataset(node.dataset, 'test', [...test.y.keys()], 'test');
  fs.mkdirSync(node.hardExamples);
  giveToImageUser(node.dataset);
  const originalLines = fs.readFileSync(index, 'utf8').trim().split('\n');

  // 0. The initial model: the train image from scratch (no BASE_MODEL_URL) on the 60 original samples.
  await runToEnd('sedna-sdk-example-incremental-learning-train', workerName('train-worker'), {
    MODEL_URL: `${PREFIX}/models/digits-il/initial`,
    TRAIN_DATASET_URL: `${PREFIX}/data/digits/index.txt`,
    ORIGINAL_DATASET_URL: `${PREFIX}/data/digits/index.txt`,
    epochs: '10',
    learning_rate: '0.01',
    batch_size: '16',
  });
  fs.cpSync(path.join(node.models, 'initial', 'model'), path.join(node.models, 'deploy'), { recursive: true });
  giveToImageUser(node.models);

  // 1. The inference worker, as the controller starts it with hotUpdateEnabled.
  const inferWorker = workerName('inferworker');
  const inference = await the.run({
    image: 'sedna-sdk-example-incremental-learning-inference',
    name: inferWorker,
    env: env(inferWorker, {
      MODEL_URL: `${PREFIX}/models/digits-il/deploy/model.json`,
      HEM_NAME: 'CrossEntropy',
      HEM_PARAMETERS: '[{"key":"threshold_cross_entropy","value":"0.3"}]',
      MODEL_HOT_UPDATE: 'true',
      MODEL_POLL_PERIOD_SECONDS: '1',
      MODEL_HOT_UPDATE_CONFIG: '/model-hot-update/model_config.json',
      HE_SAVED_URL: `${PREFIX}/data/digits/hard-examples`,
      bind_port: '5000',
    }),
    volumes: [...volumes()!, { host: node.hotUpdate, container: '/model-hot-update' }],
    publish: [5000],
  });
  await inference.waitForLine('stdout', (l) => l.includes('"endpoint"'), 90_000);
  client = new ModelClient({
    serviceName: JOB,
    host: '127.0.0.1',
    port: await inference.hostPort(5000),
    timeoutMs: 10_000,
  });
  const served = client;

  interface Answer {
    label: number;
    isHardExample: boolean;
    modelVersion: string | null;
  }
  const ask = async (samples: unknown[]): Promise<Answer[]> => {
    const answers = new Array<Answer>(samples.length);
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < samples.length) {
        const i = next++;
        answers[i] = ((await served.inference([samples[i]])) as Answer[])[0]!;
      }
    };
    await Promise.all(Array.from({ length: 8 }, lane));
    return answers;
  };
  const accuracyOnTest = async (): Promise<{ accuracy: number; versions: (string | null)[] }> => {
    const answers = await ask(test.x.map((x) => ({ x, mine: false })));
    return {
      accuracy: answers.filter((a, i) => a.label === test.y[i]).length / test.y.length,
      versions: [...new Set(answers.map((a) => a.modelVersion))],
    };
  };
  const before = await accuracyOnTest();

  // 2. New samples stream in; the worker keeps the ones it is unsure of in the dataset's folder.
  const streamed = [...Array(STREAMED_SAMPLES).keys()].map((k) => ORIGINAL_SAMPLES + k);
  const answers = await ask(streamed.map((i) => ({ x: train.x[i], ref: `digits-train.csv#${i}` })));
  const records = await listHardExamples(node.hardExamples);
  expect(records.length).toBe(answers.filter((a) => a.isHardExample).length);
  expect(records.length).toBeGreaterThan(50);

  // 3. Labelling, and the round's train index in the job's output folder (the LC's part).
  const labelled = records.map(
    (r) => `hard-examples/${r.data.file} ${train.y[Number(String(r.meta.ref).split('#')[1])]}`,
  );
  fs.mkdirSync(path.join(node.output, 'data', 'train'), { recursive: true });
  fs.writeFileSync(
    path.join(node.output, 'data', 'train', 'round-1.txt'),
    `${[...originalLines, ...labelled].join('\n')}\n`,
  );
  giveToImageUser(node.output);

  // 4. The train worker: from the initial model, on the original and the labelled samples.
  const trainWorker = workerName('train-worker');
  await runToEnd('sedna-sdk-example-incremental-learning-train', trainWorker, {
    BASE_MODEL_URL: `${PREFIX}/models/digits-il/initial/model`,
    MODEL_URL: `${PREFIX}/output/digits-il/train/1`,
    TRAIN_DATASET_URL: `${PREFIX}/output/digits-il/data/train/round-1.txt`,
    ORIGINAL_DATASET_URL: `${PREFIX}/data/digits/index.txt`,
  });
  const trained = forwarded(trainWorker);
  expect(trained).toMatchObject({ phase: 'train', status: 'completed' });
  // The LC takes results[0]: a host path (DATA_PATH_PREFIX stripped), as Sedna reports it.
  const newModel = (trained!.output.models as { url: string }[])[0]!.url;
  expect(newModel).toBe('/output/digits-il/train/1/model/model.json');

  // 5. The eval worker: MODEL_URLS = new;deployed; the LC computes accuracy_delta from the report.
  const evalWorker = workerName('eval-worker');
  await runToEnd('sedna-sdk-example-incremental-learning-eval', evalWorker, {
    MODEL_URLS: `${PREFIX}${newModel};${PREFIX}/models/digits-il/deploy/model.json`,
    TEST_DATASET_URL: `${PREFIX}/data/digits/test.txt`,
    ORIGINAL_DATASET_URL: `${PREFIX}/data/digits/index.txt`,
  });
  const evaluated = forwarded(evalWorker);
  expect(evaluated).toMatchObject({ phase: 'eval', status: 'completed' });
  const [newer, deployed] = (evaluated!.output.models as { metrics: Record<string, number[]> }[]).map((m) => m.metrics);
  const delta = metricDeltas(newer!, deployed!).accuracy_delta![0]!;
  expect(delta).toBeGreaterThan(DEPLOY_THRESHOLD);

  // 6. Deploy as the LC does with hotUpdateEnabled: copy the one file results[0] names (model.json,
  //    weights embedded) beside the hot-update file and over the deploy Model, then write the file.
  const modelFile = path.join(node.output, path.relative('/output/digits-il', newModel));
  fs.copyFileSync(modelFile, path.join(node.hotUpdate, 'model.json'));
  fs.copyFileSync(modelFile, path.join(node.models, 'deploy', 'model.json'));
  const version = goTime(new Date());
  const config = { model_config: { model_path: '/model-hot-update/model.json', model_update_time: version } };
  fs.writeFileSync(path.join(node.hotUpdate, 'model_config.json'), JSON.stringify(config, null, 1));
  await the.lc.waitFor(() => forwarded(inferWorker)?.phase === 'deploy', 60_000);
  expect(forwarded(inferWorker)).toMatchObject({ phase: 'deploy', status: 'completed' });

  // 7. The same running worker now answers with the new model, better.
  const after = await accuracyOnTest();
  expect(after.versions).toEqual([version]);
  expect(after.accuracy - before.accuracy).toBeGreaterThan(DEPLOY_THRESHOLD);
  recordOutcome('incremental learning', {
    accuracyBefore: Number(before.accuracy.toFixed(3)),
    accuracyAfter: Number(after.accuracy.toFixed(3)),
    hardExamples: records.length,
    accuracyDelta: Number(delta.toFixed(3)),
    lcForwarded: [trainWorker, evalWorker, inferWorker].map((w) => `${forwarded(w)?.phase}:${forwarded(w)?.status}`),
  });

  const stopped = await inference.stop(10);
  expect(stopped.code).toBe(0);
  expect(stopped.ms).toBeLessThan(10_000);
});
