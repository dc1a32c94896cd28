// What the aggregator's trainers share: the model architecture and how a dataset file is read.
//
// A dataset is a CSV file of 8×8 digit images, one row per sample: 64 pixel columns (0-16) and a
// `label` column (0-9), like test/fixtures/data/digits-train.csv (UCI / scikit-learn digits).
import { CSVDataParse } from 'sedna-sdk';

/** The digits MLP: 64 → hidden (ReLU) → 10 (softmax). Seeded: every trainer starts alike. */
export function createDigitsModel(tf, hidden = 32) {
  return tf.sequential({
    name: 'digits_mlp',
    layers: [
      tf.layers.dense({
        units: hidden,
        inputShape: [64],
        activation: 'relu',
        name: 'hidden',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 7 }),
      }),
      tf.layers.dense({
        units: 10,
        activation: 'softmax',
        name: 'output',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 8 }),
      }),
    ],
  });
}

/** Reads a digits CSV file into `{ x: rows of 64 pixels in [0, 1], y: labels }`. */
export async function loadDigitsCsv(file, dataType = 'train') {
  const csv = await new CSVDataParse(dataType, { label: 'label' }).parse(file);
  return { x: csv.x.map((row) => Array.from(row, (p) => Number(p) / 16)), y: csv.y.map(Number) };
}

/**
 * Deals a digits CSV's rows into `count` label-skewed shards, the same every time (seeded): shard k
 * gets mostly the labels k·10/count … (k+1)·10/count - 1, plus `mix` of the rows dealt at random.
 * Returns `{ header, shards: rows[][] }`.
 */
export function digitsShards(csvText, count, mix = 0.1) {
  const [header, ...rows] = csvText.trim().split('\n');
  let seed = 20240601;
  const random = () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
  const shards = Array.from({ length: count }, () => []);
  for (const row of rows) {
    const label = Number(row.slice(row.lastIndexOf(',') + 1));
    const home = Math.min(count - 1, Math.floor((label * count) / 10));
    shards[random() < mix ? Math.floor(random() * count) : home].push(row);
  }
  return { header, shards };
}
