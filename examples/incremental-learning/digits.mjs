// What the three workers share: the model architecture and how the dataset's samples are read.
//
// A sample is a small JSON file holding the model input as a batch of one row, `[[p0, ..., p63]]`
// (an 8×8 digit image, each pixel 0-16 divided by 16): exactly what the inference worker's
// hard-example store writes, so a labelled hard example is a dataset sample as it is.
// The dataset's index files use Sedna's line format, `<path relative to the dataset> <label>`.
import fs from 'node:fs/promises';
import path from 'node:path';
import { TxtDataParse } from 'sedna-sdk';

/** The digits MLP: 64 → hidden (ReLU) → 10 (softmax), seeded so runs repeat. */
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

/** Trains on the first `count` rows only (seeded, in order): a deliberately weak initial model. */
export function trainWeak(estimator, train, count) {
  return estimator.train({ x: train.x.slice(0, count), y: train.y.slice(0, count) }, undefined, {
    epochs: 10,
    learningRate: 0.01,
    batchSize: 16,
    shuffle: false,
  });
}

/**
 * Reads an index file whose paths are relative to the dataset's folder (Sedna's examples join them
 * with dirname(ORIGINAL_DATASET_URL), see Sedna issue #35). Every listed file must exist: a missing
 * one fails here, with its line, before any training. Returns `{ x: rows, y: labels }`.
 */
export async function loadSamples(indexFile, originalDatasetUrl) {
  const root = originalDatasetUrl === undefined ? 'index' : path.dirname(originalDatasetUrl);
  const index = await new TxtDataParse('train').parse(indexFile, { pathRoot: root, checkFiles: true });
  const x = [];
  const y = [];
  for (let i = 0; i < index.x.length; i++) {
    const rows = JSON.parse(await fs.readFile(index.x[i], 'utf8'));
    for (const row of rows) {
      x.push(row);
      y.push(Number(index.y[i]));
    }
  }
  return { x, y };
}

export function argmax(row) {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}
