/**
 * Every image as built by globalSetup (scripts/images/build.mjs): it built unchanged, runs as a
 * non-root user, carries the OCI labels, holds no dev dependency, build tool or npm cache, and has
 * the optional peers its worker needs (the missing-onnxruntime defect, checked for every image);
 * the base images pin what the tests ran against; a user's two-line Dockerfile works on each base.
 */
import fs from 'node:fs';
import path from 'node:path';
import { OnnxEstimator } from '../../src/backend/onnx.js';
import { TfjsEstimator } from '../../src/backend/tfjs.js';
import { catalog, VERSION } from '../../scripts/images/build.mjs';
import { ROOT, engine, oci, ociOk } from '../../scripts/images/oci.mjs';
import { FIXTURES, builds, imageTag, volumeDir } from './containers.js';

const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  license: string;
};
const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version: string }>;
};
const images = catalog();
/** What ../shared/tools/oci builds and `FROM node:20-bookworm-slim` resolves to. */
const NODE_BASE = 'docker.io/library/node:20-bookworm-slim';
const bases = images.filter((i) => i.kind === 'base');
const examples = images.filter((i) => i.kind === 'example');

/** The optional peers a sedna-sdk subpath loads (lazily, so importing the subpath alone proves nothing). */
const PEERS_OF: Record<string, readonly string[]> = {
  'sedna-sdk/backend/onnx': ['onnxruntime-node'],
  'sedna-sdk/backend/tfjs': ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm'],
  'sedna-sdk/backend/classical': ['ml-cart', 'ml-random-forest'],
};
/** The package each base image's pinning `ARG` names (images/Dockerfile.*). */
const PINNED_BY: Record<string, string> = {
  ONNXRUNTIME_NODE: 'onnxruntime-node',
  TFJS: '@tensorflow/tfjs',
  ML_CART: 'ml-cart',
  ML_RANDOM_FOREST: 'ml-random-forest',
};
interface Inspect {
  Size: number;
  Config: { User: string; Labels: Record<string, string>; Entrypoint: string[] | null };
  RootFS: { Layers: string[] };
}
async function inspect(name: string): Promise<Inspect> {
  return (JSON.parse(await ociOk(['image', 'inspect', imageTag(name)])) as Inspect[])[0]!;
}

/**
 * The files a Dockerfile copies into the working directory (`COPY a b ./`) or a folder of it
 * (`COPY a b ./examples/x/`, for scripts a template's command names by path): each source, its
 * path in the image, and which COPY instruction (0-based) copies it.
 */
function bareCopies(dockerfile: string): { source: string; target: string; copy: number }[] {
  const text = fs.readFileSync(path.join(ROOT, dockerfile), 'utf8');
  return [...text.matchAll(/^COPY (.+) \.\/((?:[\w.-]+\/)*)$/gm)].flatMap((m, copy) =>
    m[1]!
      .split(/\s+/)
      .map((source) => ({ source, target: path.posix.join('/app', m[2]!, path.basename(source)), copy })),
  );
}

/** The bare module specifiers an example image's scripts import (what must resolve in the image). */
function bareImports(dockerfile: string): string[] {
  const specifiers = new Set<string>();
  for (const file of bareCopies(dockerfile)
    .map((c) => c.source)
    .filter((f) => f.endsWith('.mjs'))) {
    const source = fs.readFileSync(path.join(ROOT, file), 'utf8');
    for (const m of source.matchAll(/^import [^;]*?from '([^'.][^']*)';/gms))
      if (!m[1]!.startsWith('node:')) specifiers.add(m[1]!);
  }
  return [...specifiers].sort();
}

/** The paths `podman image diff` lists between two images (added, changed or deleted). */
async function diffPaths(from: string, to: string): Promise<string[]> {
  const diff = await ociOk(['image', 'diff', from, to]);
  return diff
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(' ').at(-1)!);
}

/**
 * What a runtime image must not add to the image it builds on: npm's cache, apt's package lists
 * and downloaded packages, a compiler or make, temp files. (npm's logs under ~/.npm/_logs are
 * kept by `npm cache clean`; they are a few kB and not a cache.)
 */
const NOT_IN_RUNTIME: readonly [string, RegExp][] = [
  ['npm cache', /^\/(root|home\/[^/]+)\/\.npm\/_cacache(\/|$)/],
  ['apt lists', /^\/var\/lib\/apt\/lists\/(?!lock$|partial$|auxfiles$)./],
  ['apt archives', /^\/var\/cache\/apt\/.+\.(deb|bin)$/],
  ['compiler or make', /^\/usr\/(local\/)?bin\/(gcc|g\+\+|cc|c\+\+|make|cmake)(-[\d.]+)?$/],
  ['temp file', /^\/(tmp|var\/tmp)\/./],
];
/**
 * Every path `image` adds to or changes in `base`. `podman image diff` names a new folder without
 * its contents (`/root/.npm`, not the cache inside), so each new folder (`within` the given one)
 * is walked in the mounted image (a folder the base has already is listed file by file).
 */
async function addedPaths(base: string, image: string, within: (p: string) => boolean): Promise<string[]> {
  const paths = (await diffPaths(base, image)).filter(within);
  const [baseRoot, root] = await Promise.all(
    [base, image].map(async (i) => (await ociOk(['image', 'mount', i])).trim()),
  );
  try {
    const files: string[] = [];
    const walk = (p: string): void => {
      files.push(p);
      const onDisk = path.join(root!, p);
      if (fs.lstatSync(onDisk, { throwIfNoEntry: false })?.isDirectory() === true)
        for (const name of fs.readdirSync(onDisk)) walk(path.posix.join(p, name));
    };
    for (const p of paths) {
      if (fs.existsSync(path.join(baseRoot!, p))) files.push(p);
      else walk(p);
    }
    return files;
  } finally {
    await Promise.all([base, image].map((i) => oci(['image', 'unmount', i])));
  }
}

/** What `image` adds to `base` outside /app that a runtime image must not hold. */
async function runtimeProblems(base: string, image: string): Promise<string[]> {
  const files = await addedPaths(base, image, (p) => p !== '/app' && !p.startsWith('/app/'));
  return files.flatMap((p) => NOT_IN_RUNTIME.filter(([, re]) => re.test(p)).map(([what]) => `${what}: ${p}`));
}

/** A Dockerfile that only copies files onto its base (no RUN step, no second stage). */
function onlyCopies(dockerfile: string): boolean {
  const text = fs.readFileSync(path.join(ROOT, dockerfile), 'utf8');
  return !/^RUN /m.test(text) && [...text.matchAll(/^FROM /gm)].length === 1;
}

describe.each(images.map((i) => [i.name, i] as const))('%s', (name, image) => {
  it('builds unchanged from its Dockerfile', () => {
    const build = builds().find((b) => b.name === name)!;
    if (!build.ok) throw new Error(`${image.dockerfile} did not build:\n${build.log}`);
    expect(build.size).toBeGreaterThan(0);
  });

  it('runs as a numeric non-root user and carries the OCI labels (source, version, license)', async () => {
    const info = await inspect(name);
    expect(info.Config.User).toBe('1000:1000'); // numeric: Kubernetes' runAsNonRoot can check it
    expect(info.Config.Entrypoint).toEqual(['node']);
    expect(info.Config.Labels).toMatchObject({
      'org.opencontainers.image.title': name,
      'org.opencontainers.image.version': pkg.version,
      'org.opencontainers.image.licenses': pkg.license,
      'org.opencontainers.image.vendor': 'sedna-sdk',
    });
    expect(info.Config.Labels['org.opencontainers.image.source']).toMatch(/^https:\/\//);
    expect(info.Config.Labels['org.opencontainers.image.description']?.length).toBeGreaterThan(10);
  });
});

describe.each(bases.map((i) => [i.name] as const))('base image %s', (name) => {
  it('adds only /app to node:20-bookworm-slim: no build tool, no npm cache, no temp file', async () => {
    const paths = await diffPaths(NODE_BASE, imageTag(name));
    expect(paths.length).toBeGreaterThan(0);
    expect(paths.filter((p) => p !== '/app' && !p.startsWith('/app/'))).toEqual([]);
  });

  it('holds sedna-sdk as a worker project installs it: its production tree and nothing else', async () => {
    // Every package folder on disk (nested ones too) against the project's lockfile, which npm
    // wrote for the tree it installed (npm-install.sh checked that tree with `npm ls --omit=dev`).
    const script = `const fs = require('fs');
const onDisk = [];
const walk = (dir) => { for (const n of fs.readdirSync(dir)) {
  if (n.startsWith('.')) continue;
  if (n.startsWith('@')) { for (const m of fs.readdirSync(dir + '/' + n)) visit(dir + '/' + n + '/' + m); } else visit(dir + '/' + n); } };
const visit = (p) => { onDisk.push(p); if (fs.existsSync(p + '/node_modules')) walk(p + '/node_modules'); };
walk('node_modules');
console.log(JSON.stringify({ uid: process.getuid(), onDisk, lock: require('./package-lock.json'),
  sdk: require('sedna-sdk/package.json').version, project: require('./package.json'),
  packages: fs.existsSync('packages') ? fs.readdirSync('packages') : [] }));`;
    const result = await oci(['run', '--rm', '--read-only', imageTag(name), '-e', script]);
    if (result.code !== 0) throw new Error(result.stderr);
    const report = JSON.parse(result.stdout) as {
      uid: number;
      onDisk: string[];
      lock: { packages: Record<string, { dev?: boolean; extraneous?: boolean; devOptional?: boolean }> };
      sdk: string;
      project: { type: string; dependencies: Record<string, string>; devDependencies?: unknown };
      packages: string[];
    };
    expect(report.uid).toBe(1000);
    expect(report.sdk).toBe(pkg.version);
    const locked = Object.keys(report.lock.packages).filter((key) => key !== '');
    expect(locked).toContain('node_modules/sedna-sdk');
    expect(new Set(report.onDisk)).toEqual(new Set(locked)); // no stray package on disk
    const notProduction = Object.entries(report.lock.packages).filter(
      ([, entry]) => entry.dev === true || entry.devOptional === true || entry.extraneous === true,
    );
    expect(notProduction.map(([key]) => key)).toEqual([]);
    expect(report.project.devDependencies).toBeUndefined();
    for (const tool of ['jest', 'typescript', 'eslint', '@swc/core'])
      expect(locked).not.toContain(`node_modules/${tool}`);
    // The CI tarball stays where the project's package.json points (npm needs it for later installs).
    expect(report.project.dependencies['sedna-sdk']).toBe(`file:packages/sedna-sdk-${pkg.version}.tgz`);
    expect(report.packages).toEqual([`sedna-sdk-${pkg.version}.tgz`]);
    expect(report.project.type).toBe('module');
  });

  it('pins its backend at the version the tests ran against', () => {
    const text = fs.readFileSync(path.join(ROOT, 'images', `Dockerfile.${name.replace('sedna-sdk-', '')}`), 'utf8');
    expect(text).toContain(`ARG SEDNA_SDK=sedna-sdk@${pkg.version}`);
    expect(text).toContain(`ARG VERSION=${pkg.version}`);
    const pins = [...text.matchAll(/^ARG (?!SEDNA_SDK=|VERSION=)(\w+)=(\S+)$/gm)];
    for (const [, arg, version] of pins) {
      const locked = PINNED_BY[arg!];
      expect([arg, locked]).toEqual([arg, expect.any(String)]); // a pin the test knows
      expect([arg, version]).toEqual([arg, lock.packages[`node_modules/${locked}`]!.version]);
    }
  });
});

describe.each(examples.map((i) => [i.name, i] as const))('example image %s', (name, image) => {
  it('builds on its sedna-sdk base image of this version, whose layers it keeps', async () => {
    expect(image.base).toBeDefined(); // else build.mjs refused it, saying why
    expect(fs.readFileSync(path.join(ROOT, image.dockerfile), 'utf8')).toContain(`ARG BASE=${image.base!}:${VERSION}`);
    const [mine, base] = await Promise.all([inspect(name), inspect(image.base!)]);
    expect(mine.RootFS.Layers.slice(0, base.RootFS.Layers.length)).toEqual(base.RootFS.Layers);
  });

  it('adds its scripts in one layer (per COPY), or packages with no npm cache, apt list, compiler or temp file', async () => {
    if (onlyCopies(image.dockerfile)) {
      const paths = await addedPaths(imageTag(image.base!), imageTag(name), () => true);
      const [mine, base] = await Promise.all([inspect(name), inspect(image.base!)]);
      const copies = bareCopies(image.dockerfile);
      // One layer per COPY (one, unless scripts go to folders a template's command names).
      expect(mine.RootFS.Layers).toHaveLength(base.RootFS.Layers.length + new Set(copies.map((c) => c.copy)).size);
      // Exactly its scripts, and the folders under /app that hold them.
      const copied = new Set<string>();
      for (const { target } of copies) for (let p = target; p !== '/app'; p = path.posix.dirname(p)) copied.add(p);
      expect(paths.filter((p) => p !== '/app').sort()).toEqual([...copied].sort());
    } else {
      // An example that needs more than its base (docs/deploy.md, "A worker image with more packages").
      expect(await runtimeProblems(imageTag(image.base!), imageTag(name))).toEqual([]);
      const tree = await oci(['run', '--rm', '--read-only', '--entrypoint', 'npm', imageTag(name), 'ls', '--omit=dev']);
      if (tree.code !== 0)
        throw new Error(`npm ls in /app failed: ${tree.stdout.slice(-2000)}${tree.stderr.slice(-2000)}`);
    }
  });

  it('resolves every package its scripts import, and the optional peers those load', async () => {
    const imports = bareImports(image.dockerfile);
    expect(imports).toContain('sedna-sdk');
    const needed = [...imports, ...imports.flatMap((s) => PEERS_OF[s] ?? [])];
    const result = await oci([
      'run',
      '--rm',
      '--read-only',
      imageTag(name),
      '--input-type=module',
      '-e',
      `for (const s of ${JSON.stringify(needed)}) await import(s); console.log('resolved', ${needed.length});`,
    ]);
    expect({ code: result.code, stderr: result.stderr.includes('ERR_MODULE_NOT_FOUND') ? result.stderr : '' }).toEqual({
      code: 0,
      stderr: '',
    });
    expect(result.stdout.trim()).toBe(`resolved ${needed.length}`);
  });
});

describe("a user's worker image: two lines on a base image", () => {
  const csv = fs
    .readFileSync(path.join(FIXTURES, 'data', 'digits-test.csv'), 'utf8')
    .trim()
    .split('\n');
  const rows = csv.slice(1, 6).map((line) =>
    line
      .split(',')
      .slice(0, 64)
      .map((p) => Number(p) / 16),
  );

  /**
   * Builds `FROM <base>` + `COPY worker.mjs ./` (with `steps` between them) from a fresh context
   * and runs it read-only with the models mounted; returns its last stdout line, parsed, and what
   * `runtimeProblems` finds in what it added to the base.
   */
  async function userImage(
    base: string,
    worker: string,
    steps: readonly string[] = [],
  ): Promise<{ out: unknown; problems: string[] }> {
    const context = volumeDir('user-image');
    const tag = `localhost/sedna-test-user-${base}:latest`;
    try {
      fs.writeFileSync(path.join(context, 'worker.mjs'), worker);
      const dockerfile = [`FROM ${base}:${VERSION}`, ...steps, 'COPY worker.mjs ./', ''].join('\n');
      fs.writeFileSync(path.join(context, 'Dockerfile'), dockerfile);
      const { buildMounts } = await engine();
      await ociOk(['bud', '--pull=never', '-q', ...buildMounts, '-t', tag, context], { tool: 'buildah' });
      const problems = await runtimeProblems(imageTag(base), tag);
      const result = await oci([
        'run',
        '--rm',
        '--read-only',
        '-v',
        `${path.join(FIXTURES, 'models')}:/models:ro`,
        '-e',
        `ROWS=${JSON.stringify(rows)}`,
        tag,
      ]);
      if (result.code !== 0) throw new Error(`the user image exited with ${result.code}: ${result.stderr}`);
      return { out: JSON.parse(result.stdout.trim().split('\n').at(-1)!) as unknown, problems };
    } finally {
      await oci(['rmi', '-f', tag]);
      fs.rmSync(context, { recursive: true, force: true });
    }
  }

  it('sedna-sdk-core plus a package: `npm install` in a derived image adds it and keeps sedna-sdk', async () => {
    const kafkajs = lock.packages['node_modules/kafkajs']!.version;
    const worker = `import { Kafka } from 'kafkajs';
import { loadConfig } from 'sedna-sdk';
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
console.log(JSON.stringify({ kafka: typeof Kafka, sdk: require('sedna-sdk/package.json').version,
  namespace: loadConfig({ NAMESPACE: 'ns' }).namespace, deps: require('./package.json').dependencies }));
`;
    const install = `npm install --omit=dev --save-exact --no-audit --no-fund kafkajs@${kafkajs}`;
    const expected = {
      kafka: 'function',
      sdk: pkg.version,
      namespace: 'ns',
      deps: { kafkajs, 'sedna-sdk': `file:packages/sedna-sdk-${pkg.version}.tgz` },
    };
    // As docs/deploy.md says: the cache cleaned in the same step, nothing left behind.
    const clean = await userImage('sedna-sdk-core', worker, [
      'USER root',
      `RUN ${install} && npm cache clean --force`,
      'USER 1000:1000',
    ]);
    expect(clean).toEqual({ out: expected, problems: [] });
    // The same install left careless: the check that guards the example images sees it.
    const careless = await userImage('sedna-sdk-core', worker, [
      'USER root',
      `RUN ${install} && echo partial > /tmp/download.part`,
      'USER 1000:1000',
    ]);
    expect(careless.out).toEqual(expected);
    expect(careless.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^npm cache: \/root\/\.npm\/_cacache/),
        'temp file: /tmp/download.part',
      ]),
    );
  });

  it('sedna-sdk-onnx: the worker runs onnxruntime-node and answers as it does here', async () => {
    const worker = `import { OnnxEstimator } from 'sedna-sdk/backend/onnx';
const estimator = await OnnxEstimator.create({ modelUrl: '/models/digits-edge.onnx' });
console.log(JSON.stringify(await estimator.predict(JSON.parse(process.env.ROWS))));
await estimator.close();
`;
    const here = await OnnxEstimator.create({ modelUrl: path.join(FIXTURES, 'models', 'digits-edge.onnx') });
    const expected = await here.predict(rows);
    await here.close();
    const answered = (await userImage('sedna-sdk-onnx', worker)).out as number[][];
    expect(answered).toHaveLength(rows.length);
    answered.forEach((row, i) => row.forEach((p, k) => expect(p).toBeCloseTo(expected[i]![k]!, 5)));
  });

  it('sedna-sdk-tfjs: the worker runs TensorFlow.js on WebAssembly and answers as it does here', async () => {
    const worker = `import { TfjsEstimator } from 'sedna-sdk/backend/tfjs';
const estimator = await TfjsEstimator.create({ modelUrl: '/models/digits-mlp-tfjs' });
console.log(JSON.stringify(await estimator.predict(JSON.parse(process.env.ROWS))));
await estimator.close();
`;
    const here = await TfjsEstimator.create({ modelUrl: path.join(FIXTURES, 'models', 'digits-mlp-tfjs') });
    const expected = await here.predict(rows);
    await here.close();
    const answered = (await userImage('sedna-sdk-tfjs', worker)).out as number[][];
    answered.forEach((row, i) => row.forEach((p, k) => expect(p).toBeCloseTo(expected[i]![k]!, 4)));
  });
});
