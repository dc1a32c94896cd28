#!/usr/bin/env node
// Puts on the edge node what incremental-learning-job.yaml expects there, for `sedna run`
// (sedna.local.yaml runs it before the job starts, with SEDNA_NODE_ROOT, the node's folder):
//
//   /data/digits/index.txt, samples/   the Dataset: Sedna's txt format, 60 labelled digits
//   /models/digits-il/initial/         the initial Model: a deliberately weak TF.js model
//   /models/digits-il/deploy/          the deploy Model: a copy the inference worker serves
//
// Existing files are kept, so a later run continues where the last one stopped. More samples
// arrive with add-samples.mjs (as if someone labelled new data).
import fs from 'node:fs/promises';
import path from 'node:path';
import { configureLogger } from 'sedna-sdk';
import { TfjsEstimator } from 'sedna-sdk/backend/tfjs';
import { createDigitsModel, trainWeak } from './digits.mjs';
import { appendSamples, digitsRows } from './samples.mjs';

const ORIGINAL_SAMPLES = 60;
const root = process.env.SEDNA_NODE_ROOT;
if (root === undefined) {
  process.stderr.write('usage: SEDNA_NODE_ROOT=<node folder> node prepare-node.mjs\n');
  process.exit(2);
}
configureLogger({ level: 'warn', name: 'prepare-node' });
const exists = (file) =>
  fs.access(file).then(
    () => true,
    () => false,
  );

const datasetDir = path.join(root, 'data', 'digits');
if (await exists(path.join(datasetDir, 'index.txt'))) process.stdout.write(`${datasetDir}: present\n`);
else {
  const added = await appendSamples(datasetDir, ORIGINAL_SAMPLES);
  process.stdout.write(`${datasetDir}: ${added} labelled samples\n`);
}

const initial = path.join(root, 'models', 'digits-il', 'initial');
const deploy = path.join(root, 'models', 'digits-il', 'deploy');
if (await exists(path.join(initial, 'model.json'))) process.stdout.write(`${initial}: present\n`);
else {
  const train = await digitsRows('train');
  const weak = await TfjsEstimator.create({ model: (tf) => createDigitsModel(tf) });
  await trainWeak(weak, train, ORIGINAL_SAMPLES);
  await weak.save(initial);
  await weak.close();
  process.stdout.write(`${initial}: trained on ${ORIGINAL_SAMPLES} samples only\n`);
}
if (!(await exists(path.join(deploy, 'model.json')))) {
  await fs.cp(initial, deploy, { recursive: true });
  process.stdout.write(`${deploy}: a copy of the initial model\n`);
}
