/**
 * The package as users get it (`npm run test:pack`, a step of .ci/run): `npm pack`, the tarball
 * installed into an empty temporary project with onnxruntime-node, then
 *   (a) a plain .mjs worker registers a HEM with the function form and runs JointInference against
 *       a BigModelService;
 *   (b) a TypeScript worker with the decorator compiles with `tsc --strict --module nodenext` against
 *       the installed types, and runs;
 *   (c) `npx sedna demo` runs from the installed package;
 *   (d) a worker bundled with esbuild still finds the built-in Threshold and FedAvg;
 *   (e) a multi-edge worker without the optional peers (sharp, @techstark/opencv-js, kafkajs):
 *       records travel over REST, and what needs a missing peer says which one;
 *   (f) `npx sedna run` validates job YAML with the shipped CRD schemas and runs a job's workers.
 * Nothing here reaches into the repository's sources: only the installed package is used.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../helpers/paths.js';

const run = promisify(execFile);
let project = '';
const bin = (name: string): string => path.join(ROOT, 'node_modules', '.bin', name);

async function sh(
  file: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run(file, args, {
      cwd: options.cwd ?? project,
      env: { ...process.env, LOG_LEVEL: 'silent', npm_config_update_notifier: 'false', ...options.env },
      timeout: options.timeoutMs ?? 240_000,
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${file} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`, {
      cause: err,
    });
  }
}

/** Runs a script of the temp project with node and parses the JSON it prints last. */
async function runJson(file: string, args: readonly string[] = []): Promise<Record<string, unknown>> {
  const { stdout } = await sh(process.execPath, [file, ...args]);
  const last = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(last) as Record<string, unknown>;
}

function write(name: string, text: string): string {
  const file = path.join(project, name);
  fs.writeFileSync(file, text);
  return file;
}

beforeAll(async () => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'index.js'))) throw new Error('dist/ is missing: run `npm run build`');
  project = fs.mkdtempSync(path.join(os.tmpdir(), 'sedna-pack-'));
  const { stdout } = await sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', project], {
    cwd: ROOT,
  });
  const tarball = path.join(project, (JSON.parse(stdout) as { filename: string }[])[0]!.filename);
  fs.writeFileSync(
    path.join(project, 'package.json'),
    JSON.stringify({ name: 'sedna-user-project', version: '1.0.0', private: true, type: 'module' }),
  );
  // The versions this repository tested (its lockfile); no CUDA download (npm 11 blocks the
  // script by default, older npm reads the variable).
  const version = (name: string): string =>
    (JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string })
      .version;
  await sh(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      tarball,
      `onnxruntime-node@${version('onnxruntime-node')}`,
      `@types/node@${version('@types/node')}`,
    ],
    { env: { ONNXRUNTIME_NODE_INSTALL: 'skip' }, timeoutMs: 600_000 },
  );
}, 660_000);

afterAll(() => {
  if (project !== '') fs.rmSync(project, { recursive: true, force: true });
});

const MODELS = 'node_modules/sedna-sdk/test/fixtures/models';
const DATA = 'node_modules/sedna-sdk/test/fixtures/data/digits-test.csv';

it('(a) a plain .mjs worker registers a HEM with the function form and runs JointInference against a BigModelService', async () => {
  const file = write(
    'worker-a.mjs',
    `
import { BigModelService, CSVDataParse, ClassFactory, ClassType, JointInference, ModelClient, loadConfig } from 'sedna-sdk';
import { OnnxEstimator } from 'sedna-sdk/backend/onnx';

// Every other sample is hard: a filter any user could write, registered without a decorator.
class EveryOther {
  constructor(params) { this.calls = 0; this.phase = Number(params.phase ?? 0); }
  isHard() { return this.calls++ % 2 === this.phase; }
}
ClassFactory.registerCls(EveryOther, ClassType.HEM, 'EveryOther');

const config = loadConfig({});
const cloud = await BigModelService.create({
  estimator: await OnnxEstimator.create({ logSeverityLevel: 3 }),
  modelUrl: '${MODELS}/digits-cloud.onnx',
  config, host: '127.0.0.1', port: 0,
});
await cloud.start();
const job = await JointInference.create({
  estimator: await OnnxEstimator.create({ logSeverityLevel: 3 }),
  modelUrl: '${MODELS}/digits-edge.onnx',
  config,
  hardExampleMining: { method: 'EveryOther', param: { phase: '1' } },
  cloud: new ModelClient({ host: '127.0.0.1', port: cloud.port, serviceName: cloud.servername }),
  reporter: false,
});
const data = await new CSVDataParse('test').parse('${DATA}', { label: 'label' });
let hard = 0, cloudAnswers = 0;
for (const sample of data.x.slice(0, 10)) {
  const r = await job.inference([Array.from(sample, (p) => p / 16)]);
  if (r.isHardExample) hard++;
  if (r.cloudResult !== undefined) cloudAnswers++;
}
await job.close();
await cloud.close();
console.log(JSON.stringify({ hard, cloudAnswers, stats: job.stats }));
`,
  );
  const result = await runJson(file);
  expect(result).toMatchObject({
    hard: 5,
    cloudAnswers: 5,
    stats: { inferences: 10, hardExamples: 5, cloudFailures: 0 },
  });
}, 120_000);

it('(b) a TypeScript worker with the decorator compiles with tsc --strict --module nodenext and runs', async () => {
  write(
    'worker-b.ts',
    `
import { ClassFactory, ClassType, JointInference, type Estimator, type HardExampleFilter, loadConfig } from 'sedna-sdk';

@ClassFactory.register(ClassType.HEM, 'Margin')
export class Margin implements HardExampleFilter<readonly number[]> {
  readonly name = 'Margin';
  readonly margin: number;
  constructor(params: { margin?: string | number } = {}) {
    this.margin = Number(params.margin ?? 0.2);
  }
  isHard(probabilities: readonly number[]): boolean {
    const [a = 0, b = 0] = [...probabilities].sort((x, y) => y - x);
    return a - b < this.margin;
  }
}

// A tiny estimator of our own: the installed Estimator type must be implementable as is.
const estimator: Estimator<number, unknown, number[]> = {
  backend: 'user',
  async load() {},
  async predict(x: number): Promise<number[]> { return x > 0 ? [0.9, 0.1] : [0.55, 0.45]; },
  async train() { return {}; },
  async evaluate() { return {}; },
  async save(url: string) { return url; },
  async getWeights() { return []; },
  async setWeights() {},
  modelInfo() { return []; },
  async close() {},
};

const job = await JointInference.create({
  estimator,
  config: loadConfig({}),
  modelUrl: false,
  hardExampleMining: { method: 'Margin', param: { margin: '0.3' } },
  reporter: false,
  onCloudFailure: 'edge',
  cloudTimeoutMs: 200,
});
const easy = await job.inference(1);
await job.close();
console.log(JSON.stringify({ easy: easy.isHardExample, found: ClassFactory.getCls(ClassType.HEM, 'Margin') === Margin }));
`,
  );
  write(
    'tsconfig.json',
    JSON.stringify({
      compilerOptions: {
        strict: true,
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        lib: ['es2023', 'esnext.disposable'],
        types: ['node'],
        outDir: 'out',
      },
      files: ['worker-b.ts'],
    }),
  );
  await sh(bin('tsc'), ['-p', 'tsconfig.json']);
  const result = await runJson(path.join(project, 'out', 'worker-b.js'));
  expect(result).toEqual({ easy: false, found: true });
}, 180_000);

it('(c) npx sedna demo runs from the installed package', async () => {
  const { stdout } = await sh('npx', ['--no-install', 'sedna', 'demo', '--json', '--samples', '60']);
  const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Record<string, number>;
  expect(result.samples).toBe(60);
  expect(result.jointAccuracy).toBeGreaterThan(0.8);
  expect(result.lcReports).toBeGreaterThan(0);
}, 180_000);

it('(d) a worker bundled with esbuild still finds Threshold and FedAvg (the registering modules are side effects)', async () => {
  write(
    'worker-d.mjs',
    `
import { ClassFactory, ClassType, FederatedLearning, JointInference } from 'sedna-sdk';
// The jobs are imported for real use; the built-in algorithms come in only through their
// registering modules, which a bundler trusting "sideEffects" would otherwise drop.
const jobs = [typeof JointInference, typeof FederatedLearning];
const threshold = ClassFactory.create(ClassType.HEM, 'Threshold', { threshold: '0.5' });
const fedavg = ClassFactory.create(ClassType.FL_AGG, 'FedAvg', {});
console.log(JSON.stringify({ jobs, threshold: threshold.isHard([[0, 0, 1, 1, 0.4]]), fedavg: fedavg.name }));
`,
  );
  await sh(bin('esbuild'), [
    'worker-d.mjs',
    '--bundle',
    '--platform=node',
    '--format=esm',
    '--outfile=bundle-d.mjs',
    '--log-level=warning',
    // Optional peers stay outside the bundle, as a user's worker image has them installed or not.
    '--external:onnxruntime-node',
    '--external:@tensorflow/*',
    '--external:@aws-sdk/client-s3',
    '--external:kafkajs',
    '--external:bufferutil',
    // pino loads its transports by file at run time.
    '--external:pino',
    '--external:thread-stream',
    '--banner:js=import { createRequire as sednaRequire } from "node:module"; const require = sednaRequire(import.meta.url);',
  ]);
  const bundled = fs.readFileSync(path.join(project, 'bundle-d.mjs'), 'utf8');
  expect(bundled).not.toContain("from 'sedna-sdk'");
  const result = await runJson(path.join(project, 'bundle-d.mjs'));
  expect(result).toEqual({ jobs: ['function', 'function'], threshold: true, fedavg: 'FedAvg' });
}, 120_000);

it('(e) a multi-edge worker without the optional peers: records over REST, coded errors naming the missing peers', async () => {
  const file = write(
    'worker-e.mjs',
    `
import { DetTrackResult, KafkaProducer, LukasKanade, MultiEdgeClient, MultiEdgeServer, encodeJpeg } from 'sedna-sdk';
import { decodeResults, encodeResults } from 'sedna-sdk/protocol';

const received = [];
const server = await MultiEdgeServer.create({
  service: 'reid',
  host: '127.0.0.1',
  port: 0,
  handler: { put: (records) => void received.push(...records), stats: () => ({ received: received.length }) },
});
await server.start();
const client = new MultiEdgeClient({ service: 'reid', host: '127.0.0.1', port: server.port });
const record = new DetTrackResult({ frameIndex: 4, camera: 1, bboxCoord: [[1, 2, 3, 4]], features: [Float32Array.of(0.5, -1)] });
const accepted = await client.transmit([record]);
const status = await client.status();
client.close();
await server.close();
const codeOf = (promise) => promise.then(() => 'resolved', (err) => \`\${err.code} \${/sharp|opencv|kafkajs/.exec(err.message)?.[0]}\`);
console.log(JSON.stringify({
  accepted,
  received: received.map((r) => [r.frameIndex, r.camera, Array.from(r.features[0])]),
  roundTrip: decodeResults(encodeResults([record]))[0].bboxCoord,
  status: status.status,
  jpeg: await codeOf(encodeJpeg({ width: 1, height: 1, channels: 3, data: new Uint8Array(3) })),
  gate: await codeOf(LukasKanade.create()),
  kafka: await codeOf(KafkaProducer.create({ brokers: ['127.0.0.1:1'] })),
}));
`,
  );
  const result = await runJson(file);
  expect(result).toEqual({
    accepted: 1,
    received: [[4, 1, [0.5, -1]]],
    roundTrip: [[1, 2, 3, 4]],
    status: 'OK',
    jpeg: 'SEDNA_ERR_MISSING_DEPENDENCY sharp',
    gate: 'SEDNA_ERR_MISSING_DEPENDENCY opencv',
    kafka: 'SEDNA_ERR_MISSING_DEPENDENCY kafkajs',
  });
}, 120_000);
it('(f) npx sedna run checks YAML against the shipped CRD schemas and runs the workers', async () => {
  fs.mkdirSync(path.join(project, 'models'), { recursive: true });
  fs.writeFileSync(path.join(project, 'models', 'edge.onnx'), 'not read by these workers');
  fs.writeFileSync(path.join(project, 'models', 'cloud.onnx'), 'not read by these workers');
  const model = (name: string, file: string): string =>
    `apiVersion: sedna.io/v1alpha1\nkind: Model\nmetadata: {name: ${name}, namespace: default}\nspec: {url: /models/${file}, format: onnx}\n`;
  const worker = (name: string, script: string): string => `
    template:
      spec:
        nodeName: ${name}-node
        restartPolicy: Never
        containers:
          - name: ${name}
            image: none
            command: [node, -e, ${JSON.stringify(script)}]`;
  const job = (edgeModel: string): string =>
    `${model('edge', 'edge.onnx')}---\n${model('cloud', 'cloud.onnx')}---
apiVersion: sedna.io/v1alpha1
kind: JointInferenceService
metadata: {name: packed, namespace: default}
spec:
  edgeWorker:
    model: {name: ${edgeModel}}
    hardExampleMining: {name: IBT}${worker('edge', 'console.log("edge " + process.env.BIG_MODEL_PORT)')}
  cloudWorker:
    model: {name: cloud}${worker('cloud', 'require("node:http").createServer().listen(Number(process.env.BIG_MODEL_BIND_PORT))')}
`;
  write('broken.yaml', job('edge').replace('hardExampleMining: {name: IBT}', 'hardExampleMining: {parameters: 3}'));
  const broken = await sh('npx', ['--no-install', 'sedna', 'run', 'broken.yaml']).then(
    () => '',
    (err: unknown) => (err as Error).message,
  );
  expect(broken).toContain('SEDNA_ERR_INVALID_RESOURCE');
  expect(broken).toContain('spec.edgeWorker.hardExampleMining');

  write('job.yaml', job('edge'));
  const { stdout } = await sh('npx', [
    '--no-install',
    'sedna',
    'run',
    'job.yaml',
    '--node-path',
    `/models=${path.join(project, 'models')}`,
    '--timeout',
    '3',
    '--json',
  ]);
  const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as {
    jobs: { phase: string }[];
    status: { jobs: { workers: { role: string; phase: string }[] }[] };
  };
  expect(result.jobs[0]?.phase).toBe('Stopped');
  expect(result.status.jobs[0]?.workers.map((w) => [w.role, w.phase])).toEqual([
    ['cloud', 'Stopped'],
    ['edge', 'Succeeded'],
  ]);
}, 180_000);
