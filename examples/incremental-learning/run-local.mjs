#!/usr/bin/env node
// One full incremental-learning cycle on this machine, no cluster: the three worker scripts run as
// child processes configured only by environment variables (as in their pods), and this script
// plays the parts of the LocalController (with the SDK's LC emulator, which records what the real
// LC would forward to the GlobalManager), of a camera feeding the inference worker, and of a
// person labelling the hard examples.
//
//   npm run example:il                 # prints the cycle and a before/after table
//   npm run example:il -- --json       # one JSON object instead
//   npm run example:il -- --keep       # keep the work folder (printed) to look at the files
//
// The cycle: a deliberately weak model serves → the inference worker saves the samples it is unsure
// of (CrossEntropy hard example mining) → they are labelled from the dataset's labels → the train
// worker retrains from the deployed model → the eval worker compares new and deployed models and the
// LC's `accuracy_delta` decides the deploy → the hot-update file is written as the LC writes it and
// the running inference worker swaps models without a restart → accuracy before and after.
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CSVDataParse, ModelClient, configureLogger, listHardExamples, metricDeltas } from 'sedna-sdk';
import { TfjsEstimator } from 'sedna-sdk/backend/tfjs';
import { LCEmulator } from 'sedna-sdk/testing';
import { createDigitsModel, trainWeak } from './digits.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const DATA = path.join(ROOT, 'test', 'fixtures', 'data');
const args = process.argv.slice(2);
const asJson = args.includes('--json');
const keep = args.includes('--keep');

// The job, as in incremental-learning-job.yaml.
const NAMESPACE = 'default';
const JOB = 'digits-il';
const HEM = { name: 'CrossEntropy', parameters: [{ key: 'threshold_cross_entropy', value: '0.3' }] };
const DEPLOY_TRIGGER = { metric: 'accuracy_delta', operator: '>', threshold: 0.05 };
// The scenario's sizes: a weak model from few samples, then a stream of new samples.
const ORIGINAL_SAMPLES = 60;
const STREAMED_SAMPLES = 800;

configureLogger({ level: 'warn', name: 'run-local' });
const say = asJson ? () => {} : (line) => process.stdout.write(`${line}\n`);
const rand = () => Math.random().toString(36).slice(2, 7);

/** Go's time.Now().String(), the LC's `model_update_time` (UTC here). */
function goNow() {
  const iso = new Date().toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}000001 +0000 UTC m=+${process.uptime().toFixed(9)}`;
}

async function digits(split) {
  const csv = await new CSVDataParse(split, { label: 'label' }).parse(path.join(DATA, `digits-${split}.csv`));
  return { x: csv.x.map((row) => Array.from(row, (p) => Number(p) / 16)), y: csv.y.map(Number) };
}

/** Writes samples as dataset files (a batch of one row each) and returns their index lines. */
async function writeSamples(datasetDir, prefix, split, indices) {
  await fs.mkdir(path.join(datasetDir, 'samples'), { recursive: true });
  const lines = [];
  for (const i of indices) {
    const rel = `samples/${prefix}-${i}.json`;
    await fs.writeFile(path.join(datasetDir, rel), JSON.stringify([split.x[i]]));
    lines.push(`${rel} ${split.y[i]}`);
  }
  return lines;
}

const baseEnv = (lc, worker) => ({
  NAMESPACE,
  JOB_NAME: JOB,
  WORKER_NAME: worker,
  LC_SERVER: lc.url,
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
});

/** Runs a worker to completion, as its pod does; returns its JSON line. */
function runWorker(script, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(HERE, script)], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`${script} exited with ${code}`));
      else resolve(JSON.parse(out.trim().split('\n').at(-1)));
    });
  });
}

/** Starts the long-running inference worker; resolves with its port once it listens. */
function startInference(env) {
  const child = spawn(process.execPath, [path.join(HERE, 'inference.mjs')], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    readline
      .createInterface({ input: child.stdout })
      .once('line', (line) => resolve({ child, port: JSON.parse(line).port }));
    child.once('exit', (code) => reject(new Error(`inference.mjs exited with ${code}`)));
  });
}

/** Sends samples to the inference worker, 16 requests in flight. */
async function infer(client, samples) {
  const answers = new Array(samples.length);
  let next = 0;
  const lane = async () => {
    while (next < samples.length) {
      const i = next++;
      [answers[i]] = await client.inference([samples[i]]);
    }
  };
  await Promise.all(Array.from({ length: 16 }, lane));
  return answers;
}

async function accuracyOn(client, test) {
  const answers = await infer(
    client,
    test.x.map((x) => ({ x, mine: false })),
  );
  const correct = answers.filter((a, i) => a.label === test.y[i]).length;
  return { accuracy: correct / test.y.length, versions: [...new Set(answers.map((a) => a.modelVersion))] };
}

const work = await fs.mkdtemp(path.join(os.tmpdir(), 'sedna-il-example-'));
const dir = {
  dataset: path.join(work, 'dataset'),
  hardExamples: path.join(work, 'dataset', 'hard-examples'),
  initial: path.join(work, 'models', 'initial'),
  deployed: path.join(work, 'models', 'deployed'),
  output: path.join(work, 'output'),
  hotUpdate: path.join(work, 'model-hot-update'),
};
const lc = await LCEmulator.start({ knownJobs: [{ kind: 'incrementallearningjob', namespace: NAMESPACE, name: JOB }] });
let inference;
let client;
const started = performance.now();
try {
  const [train, test] = [await digits('train'), await digits('test')];
  say(`work folder: ${work}`);

  // 1. The dataset (Sedna's txt format) and a deliberately weak initial model.
  const originalLines = await writeSamples(dir.dataset, 'train', train, [...Array(ORIGINAL_SAMPLES).keys()]);
  await fs.writeFile(path.join(dir.dataset, 'index.txt'), `${originalLines.join('\n')}\n`);
  const testLines = await writeSamples(dir.dataset, 'test', test, [...test.y.keys()]);
  await fs.writeFile(path.join(dir.dataset, 'test.txt'), `${testLines.join('\n')}\n`);
  const weak = await TfjsEstimator.create({ model: (tf) => createDigitsModel(tf) });
  await trainWeak(weak, train, ORIGINAL_SAMPLES);
  await weak.save(dir.initial);
  await weak.close();
  await fs.cp(dir.initial, dir.deployed, { recursive: true });
  say(`1. initial model: trained on ${ORIGINAL_SAMPLES} samples only → ${dir.initial}`);

  // 2. The inference worker, as the controller starts it (hot update on).
  inference = await startInference({
    ...baseEnv(lc, `inferworker-${rand()}`),
    MODEL_URL: dir.deployed,
    HEM_NAME: HEM.name,
    HEM_PARAMETERS: JSON.stringify(HEM.parameters),
    MODEL_HOT_UPDATE: 'true',
    MODEL_POLL_PERIOD_SECONDS: '1',
    MODEL_HOT_UPDATE_CONFIG: path.join(dir.hotUpdate, 'model_config.json'),
    HE_SAVED_URL: dir.hardExamples,
    bind_ip: '127.0.0.1',
    bind_port: '0',
  });
  client = new ModelClient({ serviceName: JOB, host: '127.0.0.1', port: inference.port });
  const before = await accuracyOn(client, test);
  say(`2. inference worker up; accuracy on the test split: ${before.accuracy.toFixed(3)}`);

  // 3. New samples stream in; the worker keeps the ones it is unsure of.
  const streamed = [...Array(STREAMED_SAMPLES).keys()].map((k) => ORIGINAL_SAMPLES + k);
  const answers = await infer(
    client,
    streamed.map((i) => ({ x: train.x[i], ref: `digits-train.csv#${i}` })),
  );
  const records = await listHardExamples(dir.hardExamples);
  say(
    `3. streamed ${streamed.length} samples: ${answers.filter((a) => a.isHardExample).length} hard, ${records.length} saved`,
  );

  // 4. Labelling: a person would look at each; here the dataset's own labels say what they are.
  const labelled = records.map((r) => `hard-examples/${r.data.file} ${train.y[Number(r.meta.ref.split('#')[1])]}`);
  const trainIndex = path.join(dir.output, 'data', 'train', 'round-1.txt');
  await fs.mkdir(path.dirname(trainIndex), { recursive: true });
  await fs.writeFile(trainIndex, `${[...originalLines, ...labelled].join('\n')}\n`);
  say(`4. labelled ${labelled.length} hard examples → ${trainIndex}`);

  // 5. The train worker: from the initial model, on the original and the labelled samples.
  const trained = await runWorker('train.mjs', {
    ...baseEnv(lc, `train-worker-${rand()}`),
    BASE_MODEL_URL: dir.initial,
    MODEL_URL: path.join(dir.output, 'train', '1'),
    TRAIN_DATASET_URL: trainIndex,
    ORIGINAL_DATASET_URL: path.join(dir.dataset, 'index.txt'),
  });
  const trainReport = lc.forwarded.find((m) => m.content.phase === 'train');
  if (trainReport?.content.status !== 'completed') throw new Error('the train worker did not report completion');
  const newModel = trainReport.content.output.models[0].url; // the LC takes results[0]
  say(`5. trained: loss ${trained.metrics.loss.toFixed(3)}, reported ${newModel}`);

  // 6. The eval worker: MODEL_URLS = new;deployed. The LC computes <metric>_delta from the report.
  await runWorker('eval.mjs', {
    ...baseEnv(lc, `eval-worker-${rand()}`),
    MODEL_URLS: `${newModel};${dir.deployed}`,
    TEST_DATASET_URL: path.join(dir.dataset, 'test.txt'),
    ORIGINAL_DATASET_URL: path.join(dir.dataset, 'index.txt'),
  });
  const evalReport = lc.forwarded.find((m) => m.content.phase === 'eval');
  if (evalReport?.content.status !== 'completed') throw new Error('the eval worker did not report completion');
  const [newer, old] = evalReport.content.output.models.map((m) => m.metrics);
  const lcView = metricDeltas(newer, old);
  const delta = lcView[DEPLOY_TRIGGER.metric][0];
  const deploy = delta > DEPLOY_TRIGGER.threshold;
  say(
    `6. evaluated: accuracy new ${newer.accuracy[0].toFixed(3)} vs deployed ${old.accuracy[0].toFixed(3)}; ` +
      `${DEPLOY_TRIGGER.metric} ${delta.toFixed(3)} ${deploy ? '>' : '<='} ${DEPLOY_TRIGGER.threshold} → ${deploy ? 'deploy' : 'keep'}`,
  );

  // 7. Deploy as the LC does with hotUpdateEnabled: copy the one file results[0] names
  //    (model.json, which embeds its weights) next to the hot-update file and over the deploy
  //    Model's URL, then (over)write the config file in place.
  let after = before;
  if (deploy) {
    await fs.mkdir(dir.hotUpdate, { recursive: true });
    await fs.mkdir(dir.deployed, { recursive: true });
    await fs.copyFile(newModel, path.join(dir.hotUpdate, 'model.json'));
    await fs.copyFile(newModel, path.join(dir.deployed, 'model.json'));
    const version = goNow();
    const config = { model_config: { model_path: path.join(dir.hotUpdate, 'model.json'), model_update_time: version } };
    await fs.writeFile(path.join(dir.hotUpdate, 'model_config.json'), JSON.stringify(config, null, 1));
    await lc.waitFor(
      () => lc.forwarded.some((m) => m.content.phase === 'deploy' && m.content.status === 'completed'),
      30_000,
    );
    after = await accuracyOn(client, test);
    say(`7. hot update reported by the inference worker (no restart); serving ${after.versions.join(', ')}`);
  }

  const seconds = (performance.now() - started) / 1000;
  const summary = {
    accuracyBefore: before.accuracy,
    accuracyAfter: after.accuracy,
    hardExamples: records.length,
    streamedSamples: STREAMED_SAMPLES,
    originalSamples: ORIGINAL_SAMPLES,
    evalMetrics: { new: newer, deployed: old, [`${DEPLOY_TRIGGER.metric}`]: lcView[DEPLOY_TRIGGER.metric] },
    deployTrigger: `${DEPLOY_TRIGGER.metric} ${DEPLOY_TRIGGER.operator} ${DEPLOY_TRIGGER.threshold}`,
    deployed: deploy,
    servingVersion: after.versions.at(-1),
    lcReports: lc.forwarded.map((m) => `${m.content.phase}:${m.content.status}`),
    seconds: Number(seconds.toFixed(1)),
  };
  if (asJson) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } else {
    say('');
    say('| stage | model | test accuracy (359 samples) |');
    say('|---|---|---|');
    say(`| before | initial (${ORIGINAL_SAMPLES} samples) | ${(before.accuracy * 100).toFixed(1)} % |`);
    say(
      `| after hot update | retrained on ${ORIGINAL_SAMPLES} + ${records.length} labelled hard examples | ${(after.accuracy * 100).toFixed(1)} % |`,
    );
    say('');
    say(`LC reports: ${summary.lcReports.join(', ')}; ${summary.seconds} s`);
  }
} finally {
  client?.close();
  if (inference !== undefined) {
    const exited = new Promise((resolve) => inference.child.once('exit', resolve));
    inference.child.kill('SIGTERM');
    await exited;
  }
  await lc.close();
  if (keep) say(`kept ${work}`);
  else await fs.rm(work, { recursive: true, force: true });
}
