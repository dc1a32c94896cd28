#!/usr/bin/env node
// Adds labelled samples to the dataset of a running `sedna run` of incremental-learning-job.yaml,
// as if someone had labelled new data (the hard examples, say): the LocalController sees them at
// its next check and, past the train trigger (num_of_samples > 200, i.e. 252 new samples at
// trainProb 0.8), starts a train-eval-deploy cycle.
//
//   node examples/incremental-learning/add-samples.mjs [COUNT] [--node-root .sedna/nodes/edge-node]
import path from 'node:path';
import { appendSamples } from './samples.mjs';

const args = process.argv.slice(2);
const flag = args.indexOf('--node-root');
const nodeRoot =
  flag >= 0 ? args[flag + 1] : (process.env.SEDNA_NODE_ROOT ?? path.join('.sedna', 'nodes', 'edge-node'));
const count = Number(args.find((a, i) => !a.startsWith('--') && i !== flag + 1) ?? '260');
if (!Number.isInteger(count) || count < 1 || nodeRoot === undefined) {
  process.stderr.write('usage: node add-samples.mjs [COUNT] [--node-root DIR]\n');
  process.exit(2);
}
const added = await appendSamples(path.join(nodeRoot, 'data', 'digits'), count);
process.stdout.write(`added ${added} labelled samples to ${path.join(nodeRoot, 'data', 'digits', 'index.txt')}\n`);
