// Labelled digits as dataset samples (Sedna's txt format): each sample a JSON file holding one
// row of 64 pixels scaled to [0, 1], listed in index.txt as `samples/train-<i>.json <label>`.
// Rows are taken from the bundled digits training split in order, so each call adds new ones.
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CSVDataParse } from 'sedna-sdk';

const DATA = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'test', 'fixtures', 'data');

/** The digits split as `{ x: rows scaled to [0, 1], y: labels }`. */
export async function digitsRows(split) {
  const csv = await new CSVDataParse(split, { label: 'label' }).parse(path.join(DATA, `digits-${split}.csv`));
  return { x: csv.x.map((row) => Array.from(row, (p) => Number(p) / 16)), y: csv.y.map(Number) };
}

/** Appends the next `count` training digits to `<datasetDir>/index.txt`; returns how many were added. */
export async function appendSamples(datasetDir, count) {
  const index = path.join(datasetDir, 'index.txt');
  const current = await fs.readFile(index, 'utf8').catch(() => '');
  const used = new Set([...current.matchAll(/samples\/train-(\d+)\.json/g)].map((m) => Number(m[1])));
  const train = await digitsRows('train');
  const lines = [];
  await fs.mkdir(path.join(datasetDir, 'samples'), { recursive: true });
  for (let i = 0; i < train.y.length && lines.length < count; i++) {
    if (used.has(i)) continue;
    const rel = `samples/train-${i}.json`;
    await fs.writeFile(path.join(datasetDir, rel), JSON.stringify([train.x[i]]));
    lines.push(`${rel} ${train.y[i]}`);
  }
  // One append: the LocalController never reads half a batch of lines.
  if (lines.length > 0) await fs.appendFile(index, `${lines.join('\n')}\n`);
  return lines.length;
}
