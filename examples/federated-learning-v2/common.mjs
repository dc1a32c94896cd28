// What both v2 examples share: the bundled digits data, the digits MLP on TF.js, a simulation
// with those defaults, and a Markdown table printer.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { configureLogger, simulateFederatedLearning } from 'sedna-sdk';
import { TfjsEstimator } from 'sedna-sdk/backend/tfjs';
import { createDigitsModel, loadDigitsCsv } from '../federated-learning/digits.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DATA = path.join(HERE, '..', '..', 'test', 'fixtures', 'data');

configureLogger({ level: 'warn', name: 'fl-v2-example' });

export const args = process.argv.slice(2);
export const asJson = args.includes('--json');
export const say = asJson ? () => {} : (line = '') => process.stdout.write(`${line}\n`);

/** The digits train and test splits, as rows in [0, 1] with labels. */
export async function loadDigits() {
  const [train, test] = await Promise.all([
    loadDigitsCsv(path.join(DATA, 'digits-train.csv')),
    loadDigitsCsv(path.join(DATA, 'digits-test.csv'), 'test'),
  ]);
  return { train, test };
}

/** One simulation of the digits MLP (64 → 32 → 10) with `options` on top of the data. */
export function simulate(data, options) {
  return simulateFederatedLearning({
    estimator: () => TfjsEstimator.create({ model: (tf) => createDigitsModel(tf) }),
    train: data.train,
    test: data.test,
    ...options,
  });
}

export const percent = (v) => `${(v * 100).toFixed(1)} %`;

/** Prints a Markdown table. */
export function table(header, rows) {
  say(`| ${header.join(' | ')} |`);
  say(`|${header.map(() => '---').join('|')}|`);
  for (const row of rows) say(`| ${row.join(' | ')} |`);
}
