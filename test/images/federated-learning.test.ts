/**
 * A FederatedLearningJob as the controller deploys it, in containers on one network: the
 * aggregation worker behind its Service name (`<job>-aggregation.<namespace>`, what AGG_IP names)
 * and two training workers, each with only its own node's data (label-skewed: digits 0-4 on one
 * node, 5-9 on the other), started before the aggregator as pods may be. Each trainer reports to
 * the LocalController (the LC emulator, in a container).
 */
import fs from 'node:fs';
import path from 'node:path';
import { FIXTURES, giveToImageUser, recordOutcome, stage, workerName } from './containers.js';
import { flAggregator } from './start-specs/federated-learning.js';
import { NAMESPACE } from './workers.js';

const JOB = 'digits-fl';
const ROUNDS = 3;

const the = stage();

/** Node k's dataset folder (its hostPath /data/digits): train.csv with the digits of its label range. */
function nodeDataset(k: number, labels: (label: number) => boolean): { dir: string; samples: number } {
  const [header, ...rows] = fs
    .readFileSync(path.join(FIXTURES, 'data', 'digits-train.csv'), 'utf8')
    .trim()
    .split('\n');
  const mine = rows.filter((row) => labels(Number(row.slice(row.lastIndexOf(',') + 1))));
  const dir = the.dir(`fl-node-${k}`);
  fs.writeFileSync(path.join(dir, 'train.csv'), `${header}\n${mine.join('\n')}\n`);
  giveToImageUser(dir);
  return { dir, samples: mine.length };
}

it('two trainers and the aggregator finish every round; both end with the federated model, which knows all ten digits', async () => {
  const nodes = [nodeDataset(0, (l) => l < 5), nodeDataset(1, (l) => l >= 5)];
  const trainers = await Promise.all(
    nodes.map(async (node) => {
      const worker = workerName('trainworker');
      const models = the.dir('fl-model', true);
      const container = await the.run({
        image: 'sedna-sdk-example-federated-learning-trainer',
        name: worker,
        // What the controller injects into a training worker (spec §1.6), then the template's.
        env: {
          NAMESPACE,
          JOB_NAME: JOB,
          WORKER_NAME: worker,
          LC_SERVER: the.lc.url,
          AGG_IP: `${JOB}-aggregation.${NAMESPACE}`,
          AGG_PORT: '7363',
          PARTICIPANTS_COUNT: String(nodes.length),
          TRANSMITTER: 'ws',
          DATA_PATH_PREFIX: '/home/data',
          MODEL_URL: '/home/data/models/digits-fl',
          TRAIN_DATASET_URL: '/home/data/data/digits/train.csv',
          aggregation_algorithm: 'FedAvg',
          epochs: '2',
          batch_size: '32',
          learning_rate: '0.01',
          CONNECT_TIMEOUT: '120',
          TEST_DATASET_URL: '/home/data/test/digits-test.csv',
        },
        volumes: [
          { host: node.dir, container: '/home/data/data/digits' },
          { host: models, container: '/home/data/models', writable: true },
          { host: path.join(FIXTURES, 'data'), container: '/home/data/test' },
        ],
      });
      return { container, worker, models, samples: node.samples };
    }),
  );
  const aggregator = await the.run(
    flAggregator(the, workerName('aggworker'), { job: JOB, participants: nodes.length, exitRound: ROUNDS }),
  );

  const codes = await Promise.all([aggregator, ...trainers.map((t) => t.container)].map((c) => c.waitForExit(300_000)));
  if (codes.some((c) => c !== 0))
    throw new Error(
      `exit codes ${codes.join(', ')}\n${[aggregator, ...trainers.map((t) => t.container)].map((c) => c.output()).join('\n')}`,
    );

  // The aggregator: every round averaged both trainers' updates, weighted by all their samples.
  const events = aggregator.lines.stdout.map((l) => JSON.parse(l) as Record<string, unknown>);
  const rounds = events.filter((e) => e.event === 'round');
  const totalSamples = nodes.reduce((n, node) => n + node.samples, 0);
  expect(rounds.map((r) => [r.round, r.updatesReceived, r.totalSamples])).toEqual(
    [...Array(ROUNDS).keys()].map((k) => [k + 1, nodes.length, totalSamples]),
  );
  expect(events.at(-1)).toEqual({ event: 'done', rounds: ROUNDS });

  // The trainers: every round, the same federated model in the end (same weights file, same
  // accuracy); a node's data alone covers half the digits, so above 0.5 only federation gets.
  const results = trainers.map(
    (t) =>
      JSON.parse(t.container.lines.stdout.at(-1)!) as {
        rounds: { round: number }[];
        accuracy: number;
        samples: number;
      },
  );
  results.forEach((r, k) => {
    expect(r.rounds.map((x) => x.round)).toEqual([1, 2, 3]);
    expect(r.samples).toBe(nodes[k]!.samples);
  });
  expect(results[0]!.accuracy).toBe(results[1]!.accuracy);
  expect(results[0]!.accuracy).toBeGreaterThan(0.7);
  const weights = trainers.map((t) => fs.readFileSync(path.join(t.models, 'digits-fl', 'weights.bin')));
  expect(weights[0]!.equals(weights[1]!)).toBe(true);

  recordOutcome('federated learning', {
    rounds: rounds.length,
    samplesPerNode: nodes.map((n) => n.samples),
    federatedAccuracy: results[0]!.accuracy,
    lcReports: trainers.map((t) => the.lc.reports(t.worker).length),
  });

  // The LC got each trainer's rounds, the last one completed, with the model's host path.
  for (const t of trainers) {
    const reports = the.lc.reports(t.worker).map((r) => r.body);
    expect(reports.map((r) => r.status)).toEqual(['running', 'running', 'completed']);
    expect(reports.at(-1)).toMatchObject({
      ownerName: JOB,
      ownerKind: 'federatedlearningjob',
      kind: 'train',
      ownerInfo: { currentRound: ROUNDS, sampleCount: totalSamples },
    });
    expect(reports.at(-1)?.results?.[0]?.url).toBe('/models/digits-fl/model.json'); // DATA_PATH_PREFIX stripped
  }
});
