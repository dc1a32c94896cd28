#!/usr/bin/env node
// Robust aggregation against a poisoned client: FedAvg next to the coordinate-wise trimmed mean,
// Krum and Multi-Krum, on the same simulated federation of 10 digits clients, without an attack and
// with one poisoned client (its update replaced by Gaussian noise, or its change from the global
// model flipped and scaled ×10).
//
//   npm run example:robust             # the table
//   npm run example:robust -- --json   # one JSON object
import { asJson, loadDigits, percent, say, simulate, table } from './common.mjs';

const CLIENTS = 10;
const ROUNDS = 6;
const EPOCHS = 3;
const SEED = 3;

const strategies = [
  ['FedAvg', 'FedAvg', {}],
  ['TrimmedMean β=0.1', 'TrimmedMean', { beta: '0.1' }],
  ['Krum f=1', 'Krum', { num_malicious_clients: '1' }],
  ['Multi-Krum f=1 m=5', 'Krum', { num_malicious_clients: '1', num_clients_to_keep: '5' }],
];
const attacks = [
  ['no attack', undefined],
  ['1 poisoned: noise', { clients: 1, kind: 'noise', scale: 10 }],
  ['1 poisoned: sign-flip ×10', { clients: 1, kind: 'sign-flip', scale: 10 }],
];

const data = await loadDigits();
say(
  `robust aggregation: ${CLIENTS} clients (iid), ${ROUNDS} rounds × ${EPOCHS} local epochs, digits MLP; final test accuracy`,
);
say('');
const results = [];
for (const [label, strategy, strategyParams] of strategies) {
  const row = { strategy: label, accuracy: {} };
  for (const [attackLabel, attack] of attacks) {
    const result = await simulate(data, {
      clients: CLIENTS,
      rounds: ROUNDS,
      epochs: EPOCHS,
      strategy,
      strategyParams,
      seed: SEED,
      ...(attack === undefined ? {} : { attack }),
    });
    row.accuracy[attackLabel] = result.finalAccuracy;
    row.poisoned = result.poisonedClients;
  }
  results.push(row);
}
if (asJson) {
  process.stdout.write(`${JSON.stringify({ clients: CLIENTS, rounds: ROUNDS, epochs: EPOCHS, results })}\n`);
} else {
  table(
    ['strategy', ...attacks.map(([a]) => a)],
    results.map((r) => [r.strategy, ...attacks.map(([a]) => percent(r.accuracy[a]))]),
  );
}
