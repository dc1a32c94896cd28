#!/usr/bin/env node
/**
 * Builds every container image of the repository, unchanged, as CI does: the base images
 * (images/Dockerfile.<backend> → sedna-sdk-<backend>) from the package as `npm pack` makes it, then
 * every example's Dockerfile (examples/<job>/Dockerfile.<worker> →
 * sedna-sdk-example-<job>-<worker>; a lone examples/<job>/Dockerfile → sedna-sdk-example-<job>) on
 * top of its base. Independent images build in parallel.
 *
 *   node scripts/images/build.mjs            # needs dist/ (npm run build); prints a table
 *   node scripts/images/build.mjs --json     # the results as JSON
 *
 * A new image is a new Dockerfile in one of those places: it is found, built and (by
 * test/images) started without any change here.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT, engine, ensureEngine, oci } from './oci.mjs';

const run = promisify(execFile);
export const VERSION = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;
const PACKAGES = path.join(ROOT, 'images', 'packages');

/**
 * @typedef {{ name: string, tag: string, dockerfile: string, base: string | undefined, kind: 'base' | 'example' }} ImageDef
 * @typedef {ImageDef & { ok: boolean, seconds: number, size?: number, layers?: number, log: string }} BuildResult
 */

/** The image a Dockerfile builds on, when it is one of ours: `ARG BASE=<name>:<tag>` or `FROM <name>`. */
function baseOf(text) {
  const arg = /^ARG BASE=(?:.*\/)?([^/:\s]+):\S+$/m.exec(text);
  const from = arg?.[1] ?? /^FROM (?:.*\/)?([^/:\s]+)(?::\S+)?(?:\s+AS\s+\S+)?\s*$/im.exec(text)?.[1];
  return from?.startsWith('sedna-sdk') ? from : undefined;
}

/** Every image: the bases (images/Dockerfile.*), then the examples' (examples/*\/Dockerfile.*). */
export function catalog() {
  const images = [];
  const add = (dockerfile, name, kind) => {
    const text = fs.readFileSync(path.join(ROOT, dockerfile), 'utf8');
    images.push({ name, tag: `localhost/${name}:${VERSION}`, dockerfile, base: baseOf(text), kind });
  };
  for (const file of fs.readdirSync(path.join(ROOT, 'images')).sort())
    if (file.startsWith('Dockerfile.')) add(`images/${file}`, `sedna-sdk-${file.slice('Dockerfile.'.length)}`, 'base');
  for (const job of fs.readdirSync(path.join(ROOT, 'examples')).sort()) {
    const dir = path.join(ROOT, 'examples', job);
    if (!fs.statSync(dir).isDirectory()) continue;
    for (const file of fs.readdirSync(dir).sort()) {
      const worker = exampleWorker(file);
      if (worker !== undefined)
        add(`examples/${job}/${file}`, `sedna-sdk-example-${job}${worker === '' ? '' : `-${worker}`}`, 'example');
    }
  }
  return images;
}

/**
 * The worker an example's Dockerfile builds: `Dockerfile.<worker>` → '<worker>', a lone
 * `Dockerfile` (one image for all the example's workers) → ''; undefined for other files
 * (`Dockerfile.<worker>.dockerignore` is Docker's per-Dockerfile ignore file, not an image).
 */
function exampleWorker(file) {
  if (file === 'Dockerfile') return '';
  if (!file.startsWith('Dockerfile.') || file.endsWith('.dockerignore')) return undefined;
  return file.slice('Dockerfile.'.length);
}

/** Why an example image cannot build as the suite requires, or undefined when it can. */
function notBuildable(image, images) {
  if (image.kind !== 'example') return undefined;
  if (image.base === undefined)
    return (
      `${image.dockerfile} does not build on a sedna-sdk base image: an example installs sedna-sdk as ` +
      'a user does, `ARG BASE=sedna-sdk-<backend>:<version>` then `FROM ${BASE}` (docs/deploy.md, ' +
      '"Adding an example image"); the build context holds no src/ or package.json to compile'
    );
  if (!images.some((i) => i.name === image.base)) return `unknown base image ${image.base}`;
  return undefined;
}

/** `npm pack` of this repository (dist/ must be built) into images/packages; returns the tarball's name. */
export async function packTarball() {
  for (const old of fs.readdirSync(PACKAGES)) if (old.endsWith('.tgz')) fs.rmSync(path.join(PACKAGES, old));
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', PACKAGES], {
    cwd: ROOT,
  });
  return stdout.trim().split('\n').at(-1);
}

/** The label every layer of our builds carries (images/Dockerfile.*), to prune superseded ones. */
const OUR_LABEL = 'org.opencontainers.image.vendor=sedna-sdk';

async function buildOne(image, tarball) {
  const { buildMounts } = await engine();
  const started = Date.now();
  const text = fs.readFileSync(path.join(ROOT, image.dockerfile), 'utf8');
  const args = ['bud', '--pull=never', '--layers', ...buildMounts, '-f', image.dockerfile];
  if (/^ARG SEDNA_SDK=/m.test(text)) args.push('--build-arg', `SEDNA_SDK=./packages/${tarball}`);
  // The install stage, tagged: it stays in the layer cache (the npm install is the slow step)
  // while the prune below removes what newer builds superseded.
  let result = { code: 0, stdout: '', stderr: '' };
  if (/^FROM \S+ AS install$/m.test(text))
    result = await oci([...args, '--target', 'install', '-t', `${image.tag}-install`, ROOT], { tool: 'buildah' });
  if (result.code === 0) result = await oci([...args, '-t', image.tag, ROOT], { tool: 'buildah' });
  const record = {
    ...image,
    ok: result.code === 0,
    seconds: Number(((Date.now() - started) / 1000).toFixed(1)),
    log: `${result.stdout}\n${result.stderr}`.trim().split('\n').slice(-40).join('\n'),
  };
  if (!record.ok) return record;
  const inspect = await oci(['image', 'inspect', image.tag, '--format', '{{.Size}} {{len .RootFS.Layers}}']);
  const [size, layers] = inspect.stdout.trim().split(' ').map(Number);
  return { ...record, size, layers };
}

/**
 * Removes our images that newer builds superseded (untagged, no image built on them), pass after
 * pass as their parents become unused; others' images and the tagged ones stay.
 */
export async function pruneSuperseded() {
  for (let pass = 0; pass < 10; pass++) {
    const result = await oci(['image', 'prune', '-f', '--filter', `label=${OUR_LABEL}`]);
    if (result.code !== 0 || result.stdout.trim() === '') return;
  }
}

/**
 * Builds the catalog: each image once its base is built, `jobs` at a time. An image whose base
 * failed is not attempted (its result says why).
 * @returns {Promise<BuildResult[]>}
 */
export async function buildAll({ jobs = 3, log = () => {} } = {}) {
  await ensureEngine(log);
  const tarball = await packTarball();
  log(`packed ${tarball}`);
  const images = catalog();
  const results = new Map();
  const pending = new Set(images);
  const running = new Map();
  while (pending.size > 0 || running.size > 0) {
    for (const image of pending) {
      if (running.size >= jobs) break;
      const reason = notBuildable(image, images);
      if (reason !== undefined) {
        pending.delete(image);
        results.set(image.name, { ...image, ok: false, seconds: 0, log: reason });
        log(`NOT BUILT ${image.dockerfile}: ${reason}`);
        continue;
      }
      const base = image.base === undefined ? undefined : results.get(image.base);
      if (image.base !== undefined && base === undefined) continue; // its base is not built yet
      pending.delete(image);
      if (base !== undefined && !base.ok) {
        results.set(image.name, { ...image, ok: false, seconds: 0, log: `not built: its base ${image.base} failed` });
        continue;
      }
      running.set(
        image.name,
        buildOne(image, tarball).then((r) => {
          log(`${r.ok ? 'built' : 'FAILED'} ${r.tag} in ${r.seconds} s`);
          results.set(image.name, r);
          running.delete(image.name);
        }),
      );
    }
    if (running.size > 0) await Promise.race(running.values());
    else if (pending.size > 0) {
      // Nothing can start (cannot happen once notBuildable passed; kept so the loop always ends).
      for (const image of pending)
        results.set(image.name, { ...image, ok: false, seconds: 0, log: `unknown base image ${image.base}` });
      pending.clear();
    }
  }
  const built = images.map((image) => results.get(image.name));
  if (built.every((r) => r.ok)) await pruneSuperseded();
  return built;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const asJson = process.argv.includes('--json');
  const started = Date.now();
  const results = await buildAll({ log: asJson ? () => {} : (line) => console.log(line) });
  if (asJson) console.log(JSON.stringify(results, null, 1));
  else {
    console.log('\n| image | size | layers | build |\n|---|---|---|---|');
    for (const r of results)
      console.log(
        `| ${r.name} | ${r.ok ? `${(r.size / 1e6).toFixed(0)} MB` : 'FAILED'} | ${r.layers ?? ''} | ${r.seconds} s |`,
      );
    console.log(`\nall built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  process.exitCode = results.every((r) => r.ok) ? 0 : 1;
}
