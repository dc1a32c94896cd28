#!/usr/bin/env node
// A whole federated-learning job on this machine, no cluster: one aggregator and three trainers,
// each a child process configured only by environment variables (as in their pods), the trainers
// started before the aggregator (they wait for it). This script plays the LocalController (the
// SDK's LC emulator) and splits the bundled digits data into three disjoint, label-skewed shards:
// trainer 0 sees mostly digits 0-3, trainer 1 mostly 4-6, trainer 2 mostly 7-9.
//
//   npm run example:fl                 # a table: each trainer's local-only accuracy vs the federated model's
//   npm run example:fl -- --json       # one JSON object: {localAccuracies, federatedAccuracy, rounds, ...}
//   npm run example:fl -- --keep       # keep the work folder (printed)
//
// Local-only accuracy: the same model trained on the trainer's shard alone for as many epochs as the
// federated job ran (rounds × epochs). All accuracies are on the same test split (digits-test.csv).
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { configureLogger } from 'sedna-sdk';
import { TfjsEstimator } from 'sedna-sdk/backend/tfjs';
import { LCEmulator } from 'sedna-sdk/testing';
import { createDigitsModel, digitsShards, loadDigitsCsv } from './digits.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const DATA = path.join(ROOT, 'test', 'fixtures', 'data');
const args = process.argv.slice(2);
const asJson = args.includes('--json');
const keep = args.includes('--keep');

// The job, as in federated-learning-job.yaml.
const NAMESPACE = 'default';
const JOB = 'digits-fl';
const TRAINERS = 3;
const ROUNDS = 5;
const EPOCHS = 2;
const BATCH = 32;
const LEARNING_RATE = 0.01;
/** The share of samples dealt to a random trainer instead of the one their label belongs to. */
const MIX = 0.1;

configureLogger({ level: 'warn', name: 'run-local' });
const say = asJson ? () => {} : (line) => process.stdout.write(`${line}\n`);

/** A free TCP port on loopback (the aggregator binds it; the trainers are told it). */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
    probe.once('error', reject);
  });
}

/** Deals the training CSV's rows into label-skewed shards (seeded: the same split every run). */
async function writeShards(dir) {
  const { header, shards } = digitsShards(
    await fs.readFile(path.join(DATA, 'digits-train.csv'), 'utf8'),
    TRAINERS,
    MIX,
  );
  return Promise.all(
    shards.map(async (lines, k) => {
      const file = path.join(dir, `shard-${k}.csv`);
      await fs.writeFile(file, `${header}\n${lines.join('\n')}\n`);
      const counts = new Array(10).fill(0);
      for (const line of lines) counts[Number(line.slice(line.lastIndexOf(',') + 1))]++;
      return { file, samples: lines.length, labels: counts };
    }),
  );
}

/** Runs a worker script as its pod would; resolves with its last JSON line. */
function runWorker(script, env) {
  const child = spawn(process.execPath, [path.join(HERE, script)], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const done = new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`${script} (${env.WORKER_NAME}) exited with ${code}`));
      else
        resolve(
          out
            .trim()
            .split('\n')
            .map((line) => JSON.parse(line)),
        );
    });
  });
  return { child, done };
}

async function accuracyOf(estimator, test) {
  return (await estimator.evaluate(test)).accuracy;
}

const work = await fs.mkdtemp(path.join(os.tmpdir(), 'sedna-fl-example-'));
const lc = await LCEmulator.start({ host: '127.0.0.1' });
const started = performance.now();
const children = [];
try {
  const shards = await writeShards(work);
  const test = await loadDigitsCsv(path.join(DATA, 'digits-test.csv'), 'test');
  const port = await freePort();
  const common = { NAMESPACE, JOB_NAME: JOB, aggregation_algorithm: 'FedAvg', exit_round: String(ROUNDS) };
  say(
    `federated learning of digits: ${TRAINERS} trainers, ${ROUNDS} rounds × ${EPOCHS} local epochs, work folder ${work}`,
  );

  // The trainers first: they wait for the aggregator (with backoff) instead of crashing (Sedna #162).
  const trainers = shards.map((shard, k) => {
    const worker = runWorker('trainer.mjs', {
      ...common,
      WORKER_NAME: `trainworker-${k}`,
      AGG_IP: '127.0.0.1',
      AGG_PORT: String(port),
      LC_SERVER: lc.url,
      MODEL_URL: path.join(work, 'models', `trainworker-${k}`),
      TRAIN_DATASET_URL: shard.file,
      TEST_DATASET_URL: path.join(DATA, 'digits-test.csv'),
      CONNECT_TIMEOUT: '60',
      epochs: String(EPOCHS),
      batch_size: String(BATCH),
      learning_rate: String(LEARNING_RATE),
    });
    children.push(worker.child);
    return worker.done;
  });
  const aggregator = runWorker('aggregator.mjs', {
    ...common,
    WORKER_NAME: 'aggworker-0',
    AGG_BIND_IP: '127.0.0.1',
    AGG_BIND_PORT: String(port),
    PARTICIPANTS_COUNT: String(TRAINERS),
    ROUND_TIMEOUT: '120',
  });
  children.push(aggregator.child);
  const [aggregatorLines, ...trainerLines] = await Promise.all([aggregator.done, ...trainers]);
  const rounds = aggregatorLines.filter((l) => l.event === 'round');
  for (const r of rounds)
    say(`  round ${r.round}: ${r.updatesReceived} updates, ${r.totalSamples} samples, ${r.roundTimeMs} ms`);

  // The federated model as saved by a trainer, loaded afresh and evaluated here.
  const federated = await TfjsEstimator.create({ modelUrl: path.join(work, 'models', 'trainworker-0') });
  const federatedAccuracy = await accuracyOf(federated, test);
  await federated.close();

  // Each shard alone, for as many epochs as the federated job ran.
  const localAccuracies = [];
  for (const shard of shards) {
    const local = await TfjsEstimator.create({ model: (tf) => createDigitsModel(tf) });
    await local.train(await loadDigitsCsv(shard.file), undefined, {
      epochs: ROUNDS * EPOCHS,
      batchSize: BATCH,
      learningRate: LEARNING_RATE,
    });
    localAccuracies.push(await accuracyOf(local, test));
    await local.close();
  }

  const reports = lc.accepted();
  const summary = {
    localAccuracies,
    federatedAccuracy,
    rounds: rounds.length,
    trainers: trainerLines.map((lines, k) => ({
      worker: `trainworker-${k}`,
      samples: shards[k].samples,
      labelCounts: shards[k].labels,
      reportedAccuracy: lines.at(-1).accuracy,
    })),
    lcReports: reports.map((r) => `${r.name}:${r.kind}:${r.status}`),
    seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
  };
  if (asJson) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } else {
    say('');
    say('| trainer | samples | labels it mostly sees | local-only accuracy | federated accuracy |');
    say('|---|---|---|---|---|');
    summary.trainers.forEach((t, k) => {
      const mostly = t.labelCounts
        .map((n, label) => ({ n, label }))
        .filter(({ n }) => n > t.samples * 0.05)
        .map(({ label }) => label)
        .join(',');
      say(
        `| ${t.worker} | ${t.samples} | ${mostly} | ${localAccuracies[k].toFixed(3)} | ${federatedAccuracy.toFixed(3)} |`,
      );
    });
    say('');
    say(
      `LC reports: ${reports.length} (${[...new Set(summary.lcReports.map((r) => r.split(':').slice(1).join(':')))].join(', ')}), in ${summary.seconds} s`,
    );
  }
} finally {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  await lc.close();
  if (keep) say(`kept ${work}`);
  else await fs.rm(work, { recursive: true, force: true });
}
