/**
 * What `sedna run` reads: job YAML checked against the real CRD schemas (the shipped bundle is
 * the CRDs' own schemas; errors name file, line, document, path and rule; random input never
 * crashes the reader) and Sedna's trigger logic.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { parseAllDocuments, stringify } from 'yaml';
import { crdKinds, validateDocument } from '../../src/cli/run/crd-schema.js';
import { inheritFrom, parseDockerfile } from '../../src/cli/run/dockerfile.js';
import { readLocalFile } from '../../src/cli/run/local-map.js';
import { rewriteEndpoint, rewriteMountedPath } from '../../src/cli/run/workload.js';
import { parseResources } from '../../src/cli/run/resources.js';
import { conditionHolds, timerOpen, triggerFires, triggerProblems } from '../../src/cli/run/triggers.js';
import { isSednaError } from '../../src/common/errors.js';
import { crdValidator } from '../helpers/crd.js';
import { ROOT } from '../helpers/paths.js';
import { SHARED } from '../helpers/shared.js';

const EXAMPLES = [
  'examples/joint-inference/joint-inference-service.yaml',
  'examples/federated-learning/federated-learning-job.yaml',
  'examples/incremental-learning/incremental-learning-job.yaml',
  'examples/federated-learning-v2/federated-learning-v2-job.yaml',
];

function withoutDescriptions(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutDescriptions);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node as Record<string, unknown>)
      .filter(([k, v]) => !(k === 'description' && typeof v === 'string'))
      .map(([k, v]) => [k, withoutDescriptions(v)]),
  );
}

test("the shipped schemas are the CRDs' own (descriptions aside)", () => {
  const dir = path.join(SHARED, 'crds');
  const files = fs.readdirSync(dir);
  expect(files.length).toBeGreaterThanOrEqual(6);
  for (const file of files) {
    const crd = parseAllDocuments(
      zlib.gunzipSync(fs.readFileSync(path.join(dir, file))).toString('utf8'),
    )[0]?.toJS() as {
      spec: { names: { kind: string }; versions: { name: string; schema: { openAPIV3Schema: unknown } }[] };
    };
    const version = crd.spec.versions.find((v) => v.name === 'v1alpha1');
    expect(crdKinds().get(crd.spec.names.kind)?.schema).toEqual(withoutDescriptions(version?.schema.openAPIV3Schema));
  }
});

test('every example document validates, here and with ajv over the original CRDs', () => {
  for (const example of EXAMPLES) {
    const file = path.join(ROOT, example);
    const { loaded, problems } = parseResources(example, fs.readFileSync(file, 'utf8'));
    expect(problems).toEqual([]);
    expect(loaded.resources.length).toBeGreaterThanOrEqual(2);
    for (const doc of parseAllDocuments(fs.readFileSync(file, 'utf8'))) {
      const value = doc.toJS() as { kind: string };
      const validate = crdValidator(value.kind);
      expect(validate(value)).toBe(true);
    }
  }
});

test('a broken document: the problem names the file, line, document, field path and rule', () => {
  const text = fs
    .readFileSync(path.join(ROOT, EXAMPLES[2] as string), 'utf8')
    .replace('threshold: 200', 'threshold: lots');
  const { problems } = parseResources('il.yaml', text);
  expect(problems).toHaveLength(1);
  const [problem] = problems;
  expect(problem).toMatchObject({
    path: 'spec.trainSpec.trigger.condition.threshold',
    rule: 'type',
    source: { file: 'il.yaml', document: 4 },
  });
  // The line of the offending value.
  expect(text.split('\n')[(problem?.source.line ?? 0) - 1]).toContain('threshold: lots');
});

test('validateDocument agrees with ajv on random values placed in a valid job', () => {
  const schema = crdKinds().get('JointInferenceService')?.schema;
  if (schema === undefined) throw new Error('no JointInferenceService schema');
  const ajv = crdValidator('JointInferenceService');
  const base = parseAllDocuments(fs.readFileSync(path.join(ROOT, EXAMPLES[0] as string), 'utf8'))
    .map((d) => d.toJS() as Record<string, unknown>)
    .find((d) => d.kind === 'JointInferenceService') as Record<string, unknown>;
  // Leaves whose schema has a plain type (no int-or-string, no preserve-unknown-fields), which ajv
  // and the API server judge alike.
  const leaves: (string | number)[][] = [
    ['spec', 'edgeWorker', 'model', 'name'],
    ['spec', 'cloudWorker', 'model', 'name'],
    ['spec', 'edgeWorker', 'hardExampleMining', 'name'],
    ['spec', 'edgeWorker', 'hardExampleMining', 'parameters'],
    ['spec', 'edgeWorker', 'template', 'spec', 'nodeName'],
    ['spec', 'cloudWorker', 'template', 'spec', 'containers', 0, 'name'],
    ['spec', 'cloudWorker', 'template', 'spec', 'containers', 0, 'env'],
  ];
  const values = fc.oneof(
    fc.string(),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.array(fc.oneof(fc.string(), fc.integer()), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 5 }), fc.oneof(fc.string(), fc.integer()), { maxKeys: 3 }),
  );
  fc.assert(
    fc.property(fc.constantFrom(...leaves), values, (at, value) => {
      const doc = structuredClone(base);
      let node = doc as Record<string | number, unknown>;
      for (const key of at.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
      node[at[at.length - 1] as string | number] = value;
      const expected = ajv(structuredClone(doc));
      const result = validateDocument(schema, doc);
      expect(result.violations.length === 0).toBe(expected);
    }),
    { numRuns: 300 },
  );
});

test('an alias to an anchor never set, or an alias bomb, is a problem of that document, not a crash', () => {
  const bomb = [
    'a: &a [x, x, x, x, x, x, x, x, x, x]',
    ...'bcdefg'.split('').map((k, i) => `${k}: &${k} [${`*${'abcdef'[i]}, `.repeat(10).slice(0, -2)}]`),
  ].join('\n');
  for (const text of ['kind: Model\nspec:\n  url: */models/x\n', bomb]) {
    const { problems, loaded } = parseResources('alias.yaml', text);
    expect(loaded.resources).toEqual([]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ source: { file: 'alias.yaml', document: 1 }, rule: 'yaml' });
    expect(problems[0]!.message).toMatch(/alias/i);
  }
});

test('random text never crashes the reader: it is resources or coded problems', () => {
  const valid = fs.readFileSync(path.join(ROOT, EXAMPLES[0] as string), 'utf8');
  fc.assert(
    fc.property(fc.nat({ max: valid.length }), fc.string({ maxLength: 40 }), (offset, noise) => {
      const text = valid.slice(0, offset) + noise + valid.slice(offset);
      try {
        const { problems } = parseResources('fuzz.yaml', text);
        for (const p of problems) {
          expect(p.source.file).toBe('fuzz.yaml');
          expect(p.message.length).toBeGreaterThan(0);
        }
      } catch (err) {
        expect(isSednaError(err)).toBe(true);
      }
    }),
    { numRuns: 300 },
  );
  // And any JSON value as a document.
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      const { problems, loaded } = parseResources('value.yaml', stringify(value));
      expect(problems.length + loaded.resources.length + loaded.secrets.length).toBeGreaterThanOrEqual(
        value === null ? 0 : 1,
      );
    }),
    { numRuns: 200 },
  );
});

test("Sedna's trigger logic: operators with the 1e-6 tolerance, indexed and list metrics, timer windows", () => {
  const stats = { num_of_samples: 201, precision: [0.5, 0.9], accuracy_delta: [0.07] };
  expect(conditionHolds({ operator: '>', threshold: 200, metric: 'num_of_samples' }, stats)).toBe(true);
  expect(conditionHolds({ operator: 'gt', threshold: 201, metric: 'num_of_samples' }, stats)).toBe(false);
  expect(conditionHolds({ operator: '>=', threshold: 201.0000001, metric: 'num_of_samples' }, stats)).toBe(true);
  expect(conditionHolds({ operator: '<', threshold: 0.6, metric: 'precision[0]' }, stats)).toBe(true);
  expect(conditionHolds({ operator: '<', threshold: 0.6, metric: 'precision[1]' }, stats)).toBe(false);
  expect(conditionHolds({ operator: '<', threshold: 0.6, metric: 'precision[2]' }, stats)).toBe(false);
  // A list without an index: its first element (Sedna compared 0 and never deployed).
  expect(conditionHolds({ operator: '>', threshold: 0.05, metric: 'accuracy_delta' }, stats)).toBe(true);
  expect(conditionHolds({ operator: '~', threshold: 0, metric: 'num_of_samples' }, stats)).toBe(false);
  expect(triggerProblems({ condition: { operator: '~', threshold: 0, metric: 'x' } })).toHaveLength(1);
  expect(triggerProblems({ timer: { start: '25:00', end: '24:00' } })).toHaveLength(1);

  const at = (hh: number, mm: number): Date => new Date(2026, 0, 1, hh, mm);
  expect(timerOpen({ start: '00:00', end: '24:00' }, at(23, 59))).toBe(true);
  expect(timerOpen({ start: '09:00', end: '17:00' }, at(8, 59))).toBe(false);
  expect(timerOpen({ start: '09:00', end: '17:00' }, at(17, 0))).toBe(true);
  // A window that wraps midnight.
  expect(timerOpen({ start: '22:00', end: '06:00' }, at(23, 30))).toBe(true);
  expect(timerOpen({ start: '22:00', end: '06:00' }, at(5, 0))).toBe(true);
  expect(timerOpen({ start: '22:00', end: '06:00' }, at(12, 0))).toBe(false);
  // Both parts must hold.
  const trigger = {
    timer: { start: '09:00', end: '17:00' },
    condition: { operator: '>', threshold: 200, metric: 'num_of_samples' },
  };
  expect(triggerFires(trigger, stats, at(10, 0))).toBe(true);
  expect(triggerFires(trigger, stats, at(18, 0))).toBe(false);
  expect(triggerFires(trigger, { num_of_samples: 10 }, at(10, 0))).toBe(false);
});

test('a Dockerfile FROM a base image: build-arg defaults in FROM, and what the stage inherits', () => {
  const base = parseDockerfile(
    'FROM node:20 AS install\nRUN x\nFROM node:20\nENV A=1 B=2\nWORKDIR /app\nENTRYPOINT ["node"]\nCMD ["worker.mjs"]\n',
  );
  const stage = parseDockerfile(
    'ARG BASE=sedna-sdk-onnx:0.1.0\nFROM ${BASE}\nENV B=3\nCOPY edge.mjs ./\nCMD ["edge.mjs"]\n',
  );
  expect(stage.base).toBe('sedna-sdk-onnx:0.1.0');
  expect(inheritFrom(stage, base)).toEqual({
    entrypoint: ['node'],
    cmd: ['edge.mjs'],
    workdir: '/app',
    env: { A: '1', B: '3' },
  });
  // A stage's own ENTRYPOINT drops the base's CMD, as Docker does.
  const own = parseDockerfile('FROM base\nENTRYPOINT ["python3"]\n');
  expect(inheritFrom(own, base)).toMatchObject({ entrypoint: ['python3'], cmd: [] });
  // Nothing set: all from the base.
  expect(inheritFrom(parseDockerfile('FROM base\n'), base)).toMatchObject({
    entrypoint: ['node'],
    cmd: ['worker.mjs'],
  });
});

test("a local map's worker variables: by the job's name, names checked", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sedna-local-map-'));
  try {
    const file = path.join(dir, 'sedna.local.yaml');
    const head = 'apiVersion: sedna-sdk.io/v1alpha1\nkind: LocalRun\n';
    fs.writeFileSync(file, `${head}workers:\n  camera:\n    env:\n      video_address: /data/videos/a.mp4\n`);
    const map = await readLocalFile(file);
    expect(map.workers).toEqual([{ job: 'camera', env: { video_address: '/data/videos/a.mp4' }, from: file }]);
    fs.writeFileSync(file, `${head}workers:\n  camera:\n    env:\n      '1bad name': x\n`);
    const err: unknown = await readLocalFile(file).catch((e: unknown) => e);
    expect(isSednaError(err) && err.code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
    expect((err as Error).message).toContain('workers.camera.env');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a local map's S3 server: parsed with its Secrets' namespaces, bad settings refused by field", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sedna-local-map-'));
  try {
    const file = path.join(dir, 'sedna.local.yaml');
    const head = 'apiVersion: sedna-sdk.io/v1alpha1\nkind: LocalRun\ns3:\n';
    fs.writeFileSync(
      file,
      `${head}  server: [node, s3.mjs, --bucket, b]\n  replaces: http://minio.sedna.svc:9000/\n  secrets: [keys, team-a/other-keys]\n`,
    );
    expect((await readLocalFile(file)).s3).toEqual({
      command: ['node', 's3.mjs', '--bucket', 'b'],
      cwd: dir,
      replaces: 'http://minio.sedna.svc:9000',
      secrets: [
        { namespace: 'default', name: 'keys' },
        { namespace: 'team-a', name: 'other-keys' },
      ],
      from: file,
    });
    const refusals: [string, string][] = [
      ['  server: []\n  replaces: http://m:9000\n', 's3.server'],
      ['  server: [x]\n  replaces: minio:9000\n', 's3.replaces: must be an endpoint URL'],
      ['  server: [x]\n  replaces: http://m:9000/bucket\n', 's3.replaces: must be an endpoint URL'],
      ['  server: [x]\n  replaces: http://m:9000\n  secrets: [Bad_Name]\n', 's3.secrets.0: not a Secret name'],
      ['  server: [x]\n', 's3.replaces'],
      ['  server: [x]\n  replaces: http://m:9000\n  endpoint: y\n', 's3'],
    ];
    for (const [body, where] of refusals) {
      fs.writeFileSync(file, head + body);
      const err: unknown = await readLocalFile(file).catch((e: unknown) => e);
      expect([body, isSednaError(err) && err.code]).toEqual([body, 'SEDNA_ERR_INVALID_ARGUMENT']);
      expect([body, (err as Error).message]).toEqual([body, expect.stringContaining(where)]);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an endpoint in a value is rewritten when it names that endpoint, exactly or with a path', () => {
  const from = 'http://minio.sedna.svc:9000';
  const to = 'http://127.0.0.1:4000';
  expect(rewriteEndpoint(from, from, to)).toBe(to);
  expect(rewriteEndpoint(`${from}/`, from, to)).toBe(to);
  expect(rewriteEndpoint(`${from}/bucket/key`, from, to)).toBe(`${to}/bucket/key`);
  // Another port, host or scheme, or the endpoint inside another value: kept.
  for (const other of ['http://minio.sedna.svc:90001', 'https://minio.sedna.svc:9000', `x${from}`, 's3://sedna-fl'])
    expect(rewriteEndpoint(other, from, to)).toBe(other);
});

test('mount paths in a value are rewritten, also in the lists Sedna joins with | ; ,', () => {
  const mounts = [{ mountPath: '/data/reid', local: '/n/reid' }];
  expect(rewriteMountedPath('/data/reid/q/a.jpg', mounts)).toBe('/n/reid/q/a.jpg');
  expect(rewriteMountedPath('/data/reid/a.jpg|/data/reid/b.jpg', mounts)).toBe('/n/reid/a.jpg|/n/reid/b.jpg');
  expect(rewriteMountedPath('/data/reid/a;/other/b,/data/reid', mounts)).toBe('/n/reid/a;/other/b,/n/reid');
  // Not a mount path (a prefix of a name is not a folder): kept.
  expect(rewriteMountedPath('/data/reidx|x', mounts)).toBe('/data/reidx|x');
});
