#!/usr/bin/env node
// One whole lifelong-learning cycle on this machine, no cluster: the knowledge base and the three
// worker scripts run as child processes configured only by environment variables (as in their
// pods), and this script plays the parts of the LocalController (with the SDK's LC emulator, which
// records what the real LC would forward to the GlobalManager), of the controller's dataset split
// and deploy step, and of a sensor appending samples to the inference worker's CSV.
//
//   npm run example:ll                 # prints the cycle and a table
//   npm run example:ll -- --json       # one JSON object instead
//   npm run example:ll -- --keep       # keep the work folder (printed) to look at the files
//   npm run example:ll -- --threshold 0.8   # the eval worker's model_threshold (default 0.9)
//
// The cycle: split the penguins into train / test / stream (the birds of Torgersen island only in
// the stream: a task nobody trained for) → the KB starts → the train worker defines a task per
// species and island and trains a model each → the eval worker scores each task's model on the
// test split and drops the weak ones → the evaluated index is deployed → the inference worker
// answers the stream as it arrives, flagging unseen tasks → lifelong accuracy against one global
// model trained on the same samples, on the same stream.
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { configureLogger } from 'sedna-sdk';
import { LCEmulator } from 'sedna-sdk/testing';
import { ATTRIBUTES, LABEL, createEstimator, readPenguins } from './penguins.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const DATA = path.join(ROOT, 'test', 'fixtures', 'data', 'penguins.csv');
const args = process.argv.slice(2);
const asJson = args.includes('--json');
const keep = args.includes('--keep');
const thresholdAt = args.indexOf('--threshold');

// The job, as in lifelong-learning-job.yaml.
const NAMESPACE = 'default';
const JOB = 'penguins-ll';
const EVAL = {
  metrics: 'precision_score',
  metric_param: '{"average": "micro"}',
  operator: '<',
  model_threshold: thresholdAt >= 0 ? String(Number(args[thresholdAt + 1])) : '0.9',
};
/** The island whose birds no model is trained for. */
const UNSEEN_ISLAND = 'Torgersen';

configureLogger({ level: 'warn', name: 'run-local' });
const say = asJson ? () => {} : (line) => process.stdout.write(`${line}\n`);
const rand = () => Math.random().toString(36).slice(2, 7);

/**
 * The controller's split, made deterministic: within each task (species and island), every fifth
 * bird goes to the stream, the next to the test split, the other three to training. Torgersen's
 * birds all go to the stream.
 */
async function split(dir) {
  const [header, ...lines] = (await fs.readFile(DATA, 'utf8')).trim().split('\n');
  const columns = header.split(',');
  const at = ATTRIBUTES.map((a) => columns.indexOf(a));
  const parts = { train: [], test: [], stream: [] };
  const seen = new Map();
  for (const line of lines) {
    const cells = line.split(',');
    const task = at.map((i) => cells[i]).join('/');
    const k = seen.get(task) ?? 0;
    seen.set(task, k + 1);
    const part = cells[columns.indexOf('Island')] === UNSEEN_ISLAND ? 'stream' : (['stream', 'test'][k % 5] ?? 'train');
    parts[part].push(line);
  }
  await fs.mkdir(dir, { recursive: true });
  const files = {};
  for (const [name, rows] of Object.entries(parts)) {
    files[name] = path.join(dir, `${name}.csv`);
    await fs.writeFile(files[name], `${[header, ...rows].join('\n')}\n`);
  }
  return { files, header, parts };
}

const baseEnv = (lc, worker) => ({
  NAMESPACE,
  JOB_NAME: JOB,
  WORKER_NAME: worker,
  LC_SERVER: lc.url,
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
});

/** Runs a worker to completion, as its pod does; returns its last JSON line. */
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

/** Starts a long-running worker; `lines` yields its JSON lines. */
function startWorker(script, env) {
  const child = spawn(process.execPath, [path.join(HERE, script)], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return {
    child,
    /** The next JSON line that satisfies `predicate` (the worker exiting first is an error). */
    async next(predicate = () => true) {
      for (;;) {
        const line = await Promise.race([lines.next(), exited.then((code) => ({ exited: code }))]);
        if ('exited' in line) throw new Error(`${script} exited with ${line.exited}`);
        if (line.done) throw new Error(`${script} closed its output`);
        const value = JSON.parse(line.value);
        if (predicate(value)) return value;
      }
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The rows of `<stream>_out.csv`: the sample's cells, its label, the prediction, the unseen flag. */
async function readAnswers(file) {
  const [header, ...lines] = (await fs.readFile(file, 'utf8')).trim().split('\n');
  const columns = header.split(',');
  return lines.map((line) => {
    const cells = line.split(',');
    const get = (name) => cells[columns.indexOf(name)];
    return { island: get('Island'), label: get(LABEL), pred: get('pred'), unseen: get('unseen') === 'true' };
  });
}

const work = await fs.mkdtemp(path.join(os.tmpdir(), 'sedna-ll-example-'));
const dir = {
  data: path.join(work, 'data'),
  kb: path.join(work, 'kb'),
  output: path.join(work, 'output'),
  edge: path.join(work, 'edge'),
  unseen: path.join(work, 'unseen'),
};
const lc = await LCEmulator.start({ knownJobs: [{ kind: 'lifelonglearningjob', namespace: NAMESPACE, name: JOB }] });
const running = [];
const started = performance.now();
try {
  say(`work folder: ${work}`);
  // 1. The dataset, split as the controller would (trainProb), plus the stream the edge will see.
  const { files, header, parts } = await split(dir.data);
  say(
    `1. penguins: ${parts.train.length} train, ${parts.test.length} test, ${parts.stream.length} in the stream ` +
      `(${parts.stream.filter((l) => l.includes(`,${UNSEEN_ISLAND},`)).length} from ${UNSEEN_ISLAND}, a task never trained)`,
  );

  // 2. The knowledge base, as Sedna's KB Deployment (its own folder and SQLite file).
  const kb = startWorker('kb.mjs', {
    KnowledgeBaseServer: 'http://127.0.0.1:9020',
    bind_port: '0',
    KnowledgeBasePath: dir.kb,
    KB_URL: `sqlite:///${path.join(work, 'kb.sqlite3')}`,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
  });
  running.push(kb);
  const { url: kbUrl } = await kb.next();
  say(`2. knowledge base at ${kbUrl}`);

  // 3. The train worker: a task per species and island, a model each.
  const trained = await runWorker('train.mjs', {
    ...baseEnv(lc, `train-worker-${rand()}`),
    KB_SERVER: kbUrl,
    OUTPUT_URL: dir.output,
    TRAIN_DATASET_URL: files.train,
    ORIGINAL_DATASET_URL: files.train,
    HAS_COMPLETED_INITIAL_TRAINING: 'false',
  });
  say(
    `3. trained ${trained.tasks.length} task models: ${trained.tasks.map((t) => `${t.entry} (${t.samples})`).join(', ')}`,
  );

  // 4. The eval worker: each task's model on the test split; the weak ones are not deployed.
  const evaluated = await runWorker('eval.mjs', {
    ...baseEnv(lc, `eval-worker-${rand()}`),
    KB_SERVER: kbUrl,
    OUTPUT_URL: dir.output,
    MODEL_URLS: path.join(dir.output, 'index.pkl'),
    TEST_DATASET_URL: files.test,
    ORIGINAL_DATASET_URL: files.train,
    ...EVAL,
  });
  say(
    `4. evaluated: ${evaluated.tasks.map((t) => `${t.entry} ${t.scores.precision_score.toFixed(3)}`).join(', ')}; ` +
      `dropped (precision ${EVAL.operator} ${EVAL.model_threshold}): ${evaluated.dropped.join(', ') || 'none'}`,
  );

  // 5. Deploy, as the controller does: the evaluated index becomes MODEL_URLS of the inference worker.
  const deployed = path.join(dir.output, 'deploy', 'index.pkl');
  await fs.mkdir(path.dirname(deployed), { recursive: true });
  await fs.copyFile(path.join(dir.output, 'index.pkl'), deployed);
  say(`5. deployed the evaluated index: ${deployed}`);

  // 6. The inference worker on the edge; the stream arrives in two parts.
  const stream = path.join(dir.data, 'infer.csv');
  const half = Math.floor(parts.stream.length / 2);
  await fs.writeFile(stream, `${[header, ...parts.stream.slice(0, half)].join('\n')}\n`);
  const inference = startWorker('inference.mjs', {
    ...baseEnv(lc, `inferworker-${rand()}`),
    MODEL_URLS: deployed,
    infer_dataset_url: stream,
    infer_poll_ms: '100',
    UT_SAVED_URL: dir.unseen,
    edge_output_url: dir.edge,
  });
  running.push(inference);
  await inference.next((m) => m.answered === half);
  await fs.appendFile(stream, `${parts.stream.slice(half).join('\n')}\n`);
  const done = await inference.next((m) => m.answered === parts.stream.length);
  await inference.stop();
  say(`6. the edge answered ${done.answered} samples as they arrived, ${done.unseen} flagged as unseen tasks`);

  // 7. What it got right, against one global model trained on the same samples.
  const answers = await readAnswers(done.output);
  const lifelongAccuracy = answers.filter((a) => a.pred === a.label).length / answers.length;
  const train = await readPenguins(files.train);
  const streamData = await readPenguins(stream, 'test');
  const features = (data) => {
    const keepColumns = data.table.columns.map((c, i) => (ATTRIBUTES.includes(c) ? -1 : i)).filter((i) => i >= 0);
    return data.x.map((row) => keepColumns.map((i) => row[i]));
  };
  const global = await createEstimator();
  await global.train({ x: features(train), y: train.y });
  const globalPredictions = await global.predict(features(streamData));
  await global.close();
  const globalModelAccuracy = globalPredictions.filter((p, i) => p === streamData.y[i]).length / streamData.y.length;
  const truth = answers.map((a) => a.island === UNSEEN_ISLAND);
  const flagged = answers.filter((a) => a.unseen).length;
  const hits = answers.filter((a, i) => a.unseen && truth[i]).length;
  const unseenDetected = {
    precision: flagged === 0 ? 0 : hits / flagged,
    recall: hits / Math.max(1, truth.filter(Boolean).length),
  };
  const savedUnseen = (await fs.readdir(dir.unseen).catch(() => [])).length;

  const summary = {
    globalModelAccuracy,
    lifelongAccuracy,
    tasks: trained.tasks.map((t) => {
      const scored = evaluated.tasks.find((e) => e.entry === t.entry);
      return {
        entry: t.entry,
        trainSamples: t.samples,
        model: t.model,
        testPrecision: scored?.scores.precision_score ?? null,
        deployed: !evaluated.dropped.includes(t.entry),
      };
    }),
    droppedTasks: evaluated.dropped,
    unseenDetected,
    streamSamples: answers.length,
    unseenSamples: truth.filter(Boolean).length,
    unseenFilesSaved: savedUnseen,
    lcReports: lc.forwarded.map((m) => `${m.content.phase}:${m.content.status}`),
    seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
  };
  if (asJson) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } else {
    say('');
    say(`| model | accuracy on the stream (${answers.length} penguins, sex) |`);
    say('|---|---|');
    say(`| one global model | ${(globalModelAccuracy * 100).toFixed(1)} % |`);
    say(`| lifelong: a model per task, weak ones dropped | ${(lifelongAccuracy * 100).toFixed(1)} % |`);
    say('');
    say(
      `unseen tasks: precision ${unseenDetected.precision.toFixed(3)}, recall ${unseenDetected.recall.toFixed(3)}; ` +
        `LC reports: ${summary.lcReports.join(', ')}; ${summary.seconds} s`,
    );
  }
} finally {
  for (const worker of running.reverse()) await worker.stop();
  await lc.close();
  if (keep) say(`kept ${work}`);
  else await fs.rm(work, { recursive: true, force: true });
}
