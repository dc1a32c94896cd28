/**
 * Jest globalTeardown of the image suite: removes the containers and networks a failed test left
 * behind (they carry the suite's label), then prints the table the issue asks for: each image's
 * size, layers and start-to-ready time, and the multi-container runs' outcomes (written by the
 * tests into test/.scratch/images).
 */
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, TEST_LABEL, oci } from '../../scripts/images/oci.mjs';

const SCRATCH = path.join(ROOT, 'test', '.scratch', 'images');

function readJson(file, fallback) {
  try {
    return JSON.parse(fs.readFileSync(path.join(SCRATCH, file), 'utf8'));
  } catch {
    return fallback;
  }
}

export default async function globalTeardown() {
  const containers = await oci(['ps', '-aq', '--filter', `label=${TEST_LABEL}`]);
  const ids = containers.stdout.split('\n').filter(Boolean);
  if (ids.length > 0) await oci(['rm', '-f', '-t', '0', ...ids]);
  const networks = await oci(['network', 'ls', '-q', '--filter', `label=${TEST_LABEL}`]);
  for (const net of networks.stdout.split('\n').filter(Boolean)) await oci(['network', 'rm', '-f', net]);

  const builds = readJson('build.json', []);
  const ready = readJson('ready.json', {});
  if (builds.length === 0) return;
  const lines = ['', '| image | size | layers | build | start-to-ready |', '|---|---|---|---|---|'];
  for (const b of builds) {
    const size = b.ok ? `${(b.size / 1e6).toFixed(0)} MB` : 'build FAILED';
    const start = ready[b.name] === undefined ? '-' : `${(ready[b.name] / 1000).toFixed(2)} s`;
    lines.push(`| ${b.name} | ${size} | ${b.layers ?? '-'} | ${b.seconds} s | ${start} |`);
  }
  const outcomes = readJson('outcomes.json', {});
  if (Object.keys(outcomes).length > 0) lines.push('');
  for (const [scenario, outcome] of Object.entries(outcomes)) lines.push(`${scenario}: ${JSON.stringify(outcome)}`);
  process.stderr.write(`${lines.join('\n')}\n`);
}
