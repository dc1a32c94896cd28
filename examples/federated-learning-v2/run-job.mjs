#!/usr/bin/env node
// The v2 job of federated-learning-v2-job.yaml on this machine: one AggregationServerV2 and two
// FederatedLearningV2 trainers, each a child process configured only by environment variables (as
// in their pods), with the SDK's LC emulator as the LocalController. The trainers get disjoint
// halves of the bundled digits data; the aggregator measures the global model on the test split.
//
//   npm run example:fl-v2              # the rounds and the global model's accuracy
//   npm run example:fl-v2 -- --json    # one JSON object
//   TRANSMITTER=s3 S3_ENDPOINT_URL=... ACCESS_KEY_ID=... SECRET_ACCESS_KEY=... \
//     AGG_DATA_PATH=s3://bucket/prefix npm run example:fl-v2   # weights through S3
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { configureLogger } from 'sedna-sdk';
import { LCEmulator } from 'sedna-sdk/testing';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const DATA = path.join(ROOT, 'test', 'fixtures', 'data');
const asJson = process.argv.includes('--json');
const say = asJson ? () => {} : (line) => process.stdout.write(`${line}\n`);
const TRAINERS = 2;

configureLogger({ level: 'warn', name: 'run-job' });

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
    probe.once('error', reject);
  });
}

/** Runs a worker as its pod would; resolves with its JSON lines. */
function runWorker(script, env) {
  const child = spawn(process.execPath, [path.join(HERE, script)], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
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
}

const work = await fs.mkdtemp(path.join(os.tmpdir(), 'sedna-fl-v2-example-'));
const lc = await LCEmulator.start({ host: '127.0.0.1' });
try {
  // Disjoint halves of the training split, one per trainer.
  const [header, ...rows] = (await fs.readFile(path.join(DATA, 'digits-train.csv'), 'utf8')).trim().split('\n');
  const shards = await Promise.all(
    Array.from({ length: TRAINERS }, async (_, k) => {
      const file = path.join(work, `shard-${k}.csv`);
      await fs.writeFile(file, `${header}\n${rows.filter((_, i) => i % TRAINERS === k).join('\n')}\n`);
      return file;
    }),
  );
  const port = await freePort();
  const common = { NAMESPACE: 'default', JOB_NAME: 'digits-fl-v2', aggregation_algorithm: 'FedAvgV2' };
  const transmitter = process.env.TRANSMITTER ?? 'ws';
  say(`federated learning v2 of digits: ${TRAINERS} trainers, transmitter ${transmitter}`);
  const trainers = shards.map((file, k) =>
    runWorker('trainer.mjs', {
      ...common,
      WORKER_NAME: `trainworker-${k}`,
      AGG_IP: '127.0.0.1',
      AGG_PORT: String(port),
      LC_SERVER: lc.url,
      MODEL_URL: path.join(work, 'models', `trainworker-${k}`),
      TRAIN_DATASET_URL: file,
      CONNECT_TIMEOUT: '60',
      epochs: '2',
    }),
  );
  const aggregator = runWorker('aggregator.mjs', {
    ...common,
    WORKER_NAME: 'aggworker-0',
    AGG_BIND_IP: '127.0.0.1',
    AGG_BIND_PORT: String(port),
    PARTICIPANTS_COUNT: String(TRAINERS),
    MODEL_URL: path.join(work, 'models', 'global'),
    TEST_DATASET_URL: path.join(DATA, 'digits-test.csv'),
    rounds: '5',
    target_accuracy: '0.95',
    CONNECT_TIMEOUT: '60',
  });
  const [aggregatorLines, ...trainerLines] = await Promise.all([aggregator, ...trainers]);
  const done = aggregatorLines.find((l) => l.event === 'done');
  const summary = {
    transmitter: done.transmitter,
    rounds: done.rounds,
    reachedTarget: done.reachedTarget,
    accuracies: done.accuracies,
    trainers: trainerLines.map((lines) => lines.at(-1)),
    lcReports: lc.accepted().map((r) => `${r.name}:${r.kind}:${r.status}`),
  };
  if (asJson) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    done.accuracies.forEach((a, i) => say(`  round ${i + 1}: global model accuracy ${(a * 100).toFixed(1)} %`));
    say(done.reachedTarget ? 'target accuracy reached' : `ended after ${done.rounds} rounds`);
  }
} finally {
  await lc.close();
  await fs.rm(work, { recursive: true, force: true });
}
