#!/usr/bin/env node
// Puts this node's training data where federated-learning-job.yaml's Dataset says it is
// (/data/digits/train.csv on the node), for `sedna run`: sedna.local.yaml runs it once per edge
// node before the job starts, with SEDNA_NODE_ROOT (the node's folder) in the environment.
//
//   node prepare-node.mjs SHARD COUNT    # this node gets shard SHARD (0-based) of COUNT
//
// The shards are run-local.mjs's: disjoint, label-skewed (mostly digits 0-3, 4-6, 7-9), seeded.
// An existing file is kept.
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { digitsShards } from './digits.mjs';

const [shard, count] = process.argv.slice(2).map(Number);
const root = process.env.SEDNA_NODE_ROOT;
if (root === undefined || !Number.isInteger(shard) || !Number.isInteger(count) || shard < 0 || shard >= count) {
  process.stderr.write('usage: SEDNA_NODE_ROOT=<node folder> node prepare-node.mjs SHARD COUNT\n');
  process.exit(2);
}
const target = path.join(root, 'data', 'digits', 'train.csv');
const exists = await fs.access(target).then(
  () => true,
  () => false,
);
if (exists) {
  process.stdout.write(`${target}: present\n`);
} else {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const csv = await fs.readFile(path.join(here, '..', '..', 'test', 'fixtures', 'data', 'digits-train.csv'), 'utf8');
  const { header, shards } = digitsShards(csv, count);
  await fs.mkdir(path.dirname(target), { recursive: true });
  await fs.writeFile(target, `${header}\n${shards[shard].join('\n')}\n`);
  process.stdout.write(`${target}: shard ${shard} of ${count}, ${shards[shard].length} samples\n`);
}
