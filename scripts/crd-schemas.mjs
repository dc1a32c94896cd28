#!/usr/bin/env node
// Builds schemas/sedna-crds.json.gz, the CRD schemas `sedna run` validates job YAML against, from
// Sedna's real CustomResourceDefinitions (../shared/spec/crds, sedna.io/v1alpha1). The schemas are
// kept whole except for `description` texts (95 % of the bytes, never used to validate), so the
// package ships ~60 KB instead of 10 MB. Deterministic: the same CRDs give the same bytes (a unit
// test rebuilds and compares).
//
//   node scripts/crd-schemas.mjs           # writes schemas/sedna-crds.json.gz
//   node scripts/crd-schemas.mjs --check   # exits 1 when the checked-in file differs
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCrdBundle } from './crd-bundle.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'schemas', 'sedna-crds.json.gz');
const bytes = buildCrdBundle(path.join(root, '..', 'shared', 'spec', 'crds'));
if (process.argv.includes('--check')) {
  const same = fs.existsSync(out) && Buffer.compare(fs.readFileSync(out), bytes) === 0;
  process.stdout.write(same ? 'schemas/sedna-crds.json.gz is up to date\n' : 'schemas/sedna-crds.json.gz is stale\n');
  process.exit(same ? 0 : 1);
}
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, bytes);
process.stdout.write(`wrote ${path.relative(root, out)} (${bytes.length} bytes)\n`);
