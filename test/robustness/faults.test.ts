/**
 * Fault injection (issue 13, item 8): the LocalController down, the cloud model hung then killed
 * mid-run, a trainer process killed mid-round, S3 failing, a download dripping a byte at a time,
 * the disk full while a model is saved. Each with the outcome it must have.
 */
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/common/config.js';
import { OnnxEstimator } from '../../src/backend/onnx.js';
import { JointInference } from '../../src/core/joint-inference/joint-inference.js';
import { FileOps } from '../../src/datasources/file-ops.js';
import { LCClient } from '../../src/service/client/lc-client.js';
import { LCReporter } from '../../src/service/client/lc-reporter.js';
import { ModelClient } from '../../src/service/client/model-client.js';
import { AggregationClient } from '../../src/service/client/aggregation-client.js';
import { AggregationServer } from '../../src/service/server/aggregation-server.js';
import { LCEmulator } from '../../src/testing/lc-emulator.js';
import { CLOUD_ONNX, EDGE_ONNX, loadDigits } from '../helpers/backend-fixtures.js';
import { rejectionOf } from '../helpers/errors.js';
import { deadPort, scriptedServer } from '../helpers/scripted-server.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

let dir: string;
beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'sedna-faults-'));
});
afterEach(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

test('LC down: counting never blocks, sends fail quietly, and the latest state goes out once the LC is back', async () => {
  const port = await deadPort();
  const reporter = LCReporter.start({
    client: new LCClient({ lcServer: `http://127.0.0.1:${port}`, timeoutMs: 300, maxAttempts: 1 }),
    message: {
      name: 'w1',
      namespace: 'default',
      ownerName: 'j',
      ownerKind: 'jointinferenceservice',
      kind: 'inference',
      results: [],
    },
    periodMs: 100,
  });
  const failed = new Promise((resolve) => reporter.once('failed', resolve));
  try {
    const started = Date.now();
    for (let i = 0; i < 1000; i++) reporter.updateForEdgeInference();
    expect(Date.now() - started).toBeLessThan(100); // never waits for the LC
    await failed;
    reporter.updateForCollaborationInference();
    const lc = await LCEmulator.start({ port });
    try {
      const sent = await new Promise<{ ownerInfo?: Record<string, unknown> }>((resolve) =>
        reporter.once('sent', resolve),
      );
      expect(sent.ownerInfo).toMatchObject({ inferenceNumber: 1001, hardExampleNumber: 1 });
      expect(lc.accepted().at(-1)).toMatchObject({ name: 'w1' });
    } finally {
      await lc.close();
    }
  } finally {
    await reporter.close();
  }
});

test('cloud hung, then killed mid-run: every inference answers within its deadline with the edge result', async () => {
  const hung = await scriptedServer(() => undefined); // never answers
  const digits = loadDigits('test');
  const ji = await JointInference.create({
    estimator: await OnnxEstimator.create(),
    modelUrl: EDGE_ONNX,
    config: loadConfig({}),
    hardExampleMining: { method: 'CloudOnly', param: {} },
    cloud: new ModelClient({ host: '127.0.0.1', port: hung.port }),
    cloudTimeoutMs: 400,
    reporter: false,
  });
  try {
    const sample = [Array.from(digits.x[0] as ArrayLike<number>)];
    const whileHung = Date.now();
    const first = await ji.inference(sample);
    expect(Date.now() - whileHung).toBeLessThan(1_500);
    expect(first.cloudError?.code).toBe('SEDNA_ERR_TIMEOUT');
    expect(first.result).toEqual(first.edgeResult);
    await hung.close(); // the cloud process is gone: connections refused from now on
    const second = await ji.inference(sample);
    expect(second.cloudError?.code).toBe('SEDNA_ERR_NETWORK');
    expect(second.result).toEqual(second.edgeResult);
  } finally {
    await ji.close();
  }
});

test('a trainer killed mid-round: the round closes at its timeout with the updates that came, and the others go on', async () => {
  const server = await AggregationServer.create({
    host: '127.0.0.1',
    port: 0,
    participantsCount: 2,
    minClients: 1,
    roundTimeoutMs: 1_000,
    exitRound: 1,
    reconnectGraceMs: 200,
  });
  await server.start();
  // The second trainer is its own process: it joins, then dies without a word (SIGKILL).
  const script = `
    import { AggregationClient } from ${JSON.stringify(path.join(ROOT, 'dist/service/client/aggregation-client.js'))};
    const c = await AggregationClient.create({ url: ${JSON.stringify(server.wsUrl)}, clientId: 'doomed', reconnect: false });
    process.stdout.write('joined\\n');
    setInterval(() => undefined, 1000);`;
  const doomed = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve) => doomed.stdout.once('data', () => resolve()));
  const left = new Promise((resolve) => server.once('client-leave', resolve));
  const survivor = await AggregationClient.create({ url: server.wsUrl, clientId: 'survivor', reconnect: false });
  try {
    await survivor.sendUpdate([{ name: 'w', dtype: 'float32', shape: [2], data: Float32Array.from([1, 2]) }], 5);
    doomed.kill('SIGKILL');
    await left;
    const round = new Promise<{ closedBy: string; updatesReceived: number }>((resolve) =>
      server.once('round', resolve),
    );
    const aggregate = await survivor.nextAggregate({ timeoutMs: 10_000 });
    expect(Array.from(aggregate.weights[0]?.data as Float32Array)).toEqual([1, 2]);
    expect(await round).toMatchObject({ closedBy: 'timeout', updatesReceived: 1 });
  } finally {
    doomed.kill('SIGKILL');
    await survivor.close();
    await server.close();
  }
});

test('S3 failing (500s, then gone): coded errors within the deadline, bounded retries, no partial files', async () => {
  let hits = 0;
  const failing = await scriptedServer((_req, res) => {
    hits++;
    res
      .writeHead(500, { 'content-type': 'application/xml' })
      .end('<?xml version="1.0"?><Error><Code>InternalError</Code><Message>disk on fire</Message></Error>');
  });
  const s3 = { accessKeyId: 'k', secretAccessKey: 's', region: 'us-east-1', maxAttempts: 3, requestTimeoutMs: 1_000 };
  const ops = new FileOps({ tempDir: dir, s3: { ...s3, endpoint: failing.url } });
  const gone = new FileOps({ tempDir: dir, s3: { ...s3, endpoint: `http://127.0.0.1:${await deadPort()}` } });
  try {
    const target = path.join(dir, 'model.onnx');
    const started = Date.now();
    const err = await rejectionOf(ops.download('s3://bucket/models/model.onnx', target));
    expect(err.code).toBe('SEDNA_ERR_STORAGE');
    expect(hits).toBeGreaterThanOrEqual(1);
    expect(hits).toBeLessThanOrEqual(6); // retries are capped
    const down = await rejectionOf(gone.upload(CLOUD_ONNX, 's3://bucket/models/model.onnx'));
    expect(['SEDNA_ERR_NETWORK', 'SEDNA_ERR_STORAGE']).toContain(down.code);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(fs.existsSync(target)).toBe(false);
    expect((await fsp.readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  } finally {
    await ops.close();
    await gone.close();
    await failing.close();
  }
});

test('a download dripping one byte every 200 ms ends at the total deadline, leaving nothing behind', async () => {
  const drip = await scriptedServer((_req, res) => {
    res.writeHead(200, { 'content-length': '1000000' });
    const timer = setInterval(() => res.write('x'), 200);
    res.on('close', () => clearInterval(timer));
  });
  const ops = new FileOps({ tempDir: dir, http: { totalTimeoutMs: 1_500 } });
  try {
    const started = Date.now();
    const err = await rejectionOf(ops.download(`${drip.url}/model.onnx`, path.join(dir, 'm.onnx')));
    expect(err.code).toBe('SEDNA_ERR_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(await fsp.readdir(dir)).toEqual([]);
  } finally {
    await ops.close();
    await drip.close();
  }
});

test('the disk full while a model is saved: a coded error, the previous model intact, no temp file', async () => {
  const mount = path.join(dir, 'full');
  await fsp.mkdir(mount);
  // A real full file system: a 128 KiB tmpfs (the suite runs as root, as CI does).
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=128k', 'tmpfs', mount]);
  const model = await OnnxEstimator.create({ modelUrl: CLOUD_ONNX }); // ~39 KB
  try {
    const saved = path.join(mount, 'model.onnx');
    await model.save(saved);
    const before = await fsp.readFile(saved);
    await fsp
      .writeFile(path.join(mount, 'filler'), Buffer.alloc(128 * 1024 - before.length - 4096))
      .catch(() => undefined);
    const err = await rejectionOf(model.save(saved));
    expect(err.code).toBe('SEDNA_ERR_STORAGE');
    expect(err.message).toMatch(/ENOSPC|no space/i);
    expect((await fsp.readFile(saved)).equals(before)).toBe(true);
    expect((await fsp.readdir(mount)).sort()).toEqual(['filler', 'model.onnx']);
  } finally {
    await model.close();
    execFileSync('umount', [mount]);
  }
});
