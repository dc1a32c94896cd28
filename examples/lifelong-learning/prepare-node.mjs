#!/usr/bin/env node
// Puts the penguins where lifelong-learning-job.yaml expects them on the edge node, for `sedna
// run`: sedna.local.yaml runs it once before the job starts, with SEDNA_NODE_ROOT (the node's
// folder) in the environment. run-local.mjs's split: within each task (species and island) every
// fifth bird goes to the stream the edge sees, the others to the Dataset; Torgersen's birds, a
// task no training sample comes from, all go to the stream.
//   /data/penguins/train.csv   the Dataset (228 birds): the controller splits it by trainProb, and
//                              its 182-odd training samples pass the trigger (num_of_samples > 100)
//   /data/penguins/infer.csv   the stream (105 birds) the inference worker answers once deployed
// Existing files are kept.
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ATTRIBUTES } from './penguins.mjs';

const root = process.env.SEDNA_NODE_ROOT;
if (root === undefined) {
  process.stderr.write('usage: SEDNA_NODE_ROOT=<node folder> node prepare-node.mjs\n');
  process.exit(2);
}
const UNSEEN_ISLAND = 'Torgersen';
const here = path.dirname(fileURLToPath(import.meta.url));
const [header = '', ...lines] = (
  await fs.readFile(path.join(here, '..', '..', 'test', 'fixtures', 'data', 'penguins.csv'), 'utf8')
)
  .trim()
  .split('\n');
const columns = header.split(',');
const at = ATTRIBUTES.map((a) => columns.indexOf(a));
const parts = { dataset: [], stream: [] };
const seen = new Map();
for (const line of lines) {
  const cells = line.split(',');
  const task = at.map((i) => cells[i]).join('/');
  const k = seen.get(task) ?? 0;
  seen.set(task, k + 1);
  parts[cells[columns.indexOf('Island')] === UNSEEN_ISLAND || k % 5 === 0 ? 'stream' : 'dataset'].push(line);
}
const dir = path.join(root, 'data', 'penguins');
await fs.mkdir(dir, { recursive: true });
for (const [name, rows] of [
  ['train.csv', parts.dataset],
  ['infer.csv', parts.stream],
]) {
  const file = path.join(dir, name);
  const present = await fs.access(file).then(
    () => true,
    () => false,
  );
  if (present) process.stdout.write(`${file}: present\n`);
  else {
    await fs.writeFile(file, `${[header, ...rows].join('\n')}\n`);
    process.stdout.write(`${file}: ${rows.length} birds\n`);
  }
}
