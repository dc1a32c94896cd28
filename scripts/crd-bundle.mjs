// The CRD bundle's format, shared by scripts/crd-schemas.mjs and its unit test:
// gzip(JSON {source, kinds: {Kind: {plural, schema}}}), kinds sorted, descriptions removed.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { parse } from 'yaml';

function withoutDescriptions(node) {
  if (Array.isArray(node)) return node.map(withoutDescriptions);
  if (node === null || typeof node !== 'object') return node;
  const out = {};
  for (const [key, value] of Object.entries(node)) {
    // A text `description` documents a schema; a property *named* description is an object: kept.
    if (key === 'description' && typeof value === 'string') continue;
    out[key] = withoutDescriptions(value);
  }
  return out;
}

/** The bundle's bytes for the CRD files in `dir` (plain or gzipped YAML). */
export function buildCrdBundle(dir) {
  const kinds = {};
  for (const file of fs.readdirSync(dir).sort()) {
    if (!/\.ya?ml(\.gz)?$/.test(file)) continue;
    const raw = fs.readFileSync(path.join(dir, file));
    const crd = parse((file.endsWith('.gz') ? zlib.gunzipSync(raw) : raw).toString('utf8'));
    const version = crd.spec.versions.find((v) => v.name === 'v1alpha1');
    if (version === undefined) throw new Error(`${file}: no v1alpha1 version`);
    kinds[crd.spec.names.kind] = {
      plural: crd.spec.names.plural,
      schema: withoutDescriptions(version.schema.openAPIV3Schema),
    };
  }
  const sorted = Object.fromEntries(Object.entries(kinds).sort(([a], [b]) => a.localeCompare(b)));
  const json = JSON.stringify({
    source: 'kubeedge/sedna CustomResourceDefinitions, sedna.io/v1alpha1 (descriptions removed)',
    kinds: sorted,
  });
  return zlib.gzipSync(Buffer.from(json, 'utf8'), { level: 9 });
}
