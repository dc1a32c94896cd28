#!/usr/bin/env node
// MistNet split learning on the digits data: accuracy against the privacy budget ε, next to plain
// FedAvg on the same split. The server pretrains the MLP on a public 10 % of the training data;
// the other 90 % is spread over 10 clients. FedAvg: the clients train the whole model for a few
// rounds. MistNet: each client runs the first layer (cut_layer 1) once and uploads its features,
// clipped to [0, 4], with Laplace noise of scale 4/ε per value and quantized to 8 bits; the cloud
// trains the output layer on them.
//
//   npm run example:mistnet             # the table
//   npm run example:mistnet -- --json   # one JSON object
import { asJson, loadDigits, percent, say, simulate, table } from './common.mjs';

const common = { clients: 10, partition: 'dirichlet:1', publicFraction: 0.1, pretrainEpochs: 10, seed: 5 };
const FEDAVG_ROUNDS = 5;
const CLOUD_EPOCHS = 30;
const FEATURE_MAX = 4;
const EPSILONS = ['inf', '100', '10', '1'];

const data = await loadDigits();
say(
  `MistNet vs FedAvg: ${common.clients} clients (${common.partition}), the server pretrains on ${common.publicFraction * 100} % public data`,
);
say('');
const fedavg = await simulate(data, { ...common, strategy: 'FedAvg', rounds: FEDAVG_ROUNDS, epochs: 3 });
const rows = [
  {
    method: 'pretrained model only',
    epsilon: '',
    accuracy: fedavg.initialAccuracy,
    uploaded: 0,
    noise: '',
  },
  {
    method: `FedAvg, ${FEDAVG_ROUNDS} rounds`,
    epsilon: '',
    accuracy: fedavg.finalAccuracy,
    uploaded: fedavg.rounds.reduce((n, r) => n + r.bytesUp, 0),
    noise: '',
  },
];
for (const epsilon of EPSILONS) {
  const result = await simulate(data, {
    ...common,
    strategy: 'MistNet',
    strategyParams: { cut_layer: '1', epsilon, feature_max: String(FEATURE_MAX) },
    rounds: 1,
    epochs: CLOUD_EPOCHS,
  });
  rows.push({
    method: 'MistNet, cut_layer 1',
    epsilon: epsilon === 'inf' ? '∞' : epsilon,
    accuracy: result.finalAccuracy,
    uploaded: result.rounds[0].bytesUp,
    noise: epsilon === 'inf' ? 'none' : `Laplace b = ${(FEATURE_MAX / Number(epsilon)).toFixed(2)}`,
  });
}
if (asJson) {
  process.stdout.write(`${JSON.stringify({ ...common, rows })}\n`);
} else {
  table(
    ['method', 'ε (per value)', 'test accuracy', 'uploaded', 'noise'],
    rows.map((r) => [r.method, r.epsilon, percent(r.accuracy), `${(r.uploaded / 1e3).toFixed(0)} kB`, r.noise]),
  );
}
