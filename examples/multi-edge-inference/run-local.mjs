#!/usr/bin/env node
// Multi-edge inference on this machine, no cluster: find one person across two cameras.
//
//   npm run example:reid                   # over REST, then over Kafka (librdkafka's mock cluster)
//   npm run example:reid -- --json         # one JSON object instead of tables
//   npm run example:reid -- --rest         # only REST (or --kafka: only Kafka)
//
// It renders two short videos with known ground truth (scene.mjs: three people, the searched one
// walks from camera 0 into camera 1), then runs the four workers as child processes configured only
// by environment variables, as in their pods: two detection workers (one per camera), a
// feature-extraction worker and a ReID worker that has the searched person's query images. The
// ReID worker's matches come from real feature matching (colour histograms, cosine similarity,
// Sedna's match_threshold 0.75); this script only scores them against the ground truth.
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { MultiEdgeClient, encodeJpeg } from 'sedna-sdk';
import { startKafkaMock } from '../../scripts/kafka-mock.mjs';
import { judgeMatch, renderQueryImage, writeSceneVideos } from './scene.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const args = process.argv.slice(2);
const asJson = args.includes('--json');
const transports = args.includes('--rest') ? ['rest'] : args.includes('--kafka') ? ['kafka'] : ['rest', 'kafka'];
const say = asJson ? () => {} : (line) => process.stdout.write(`${line}\n`);

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts a worker script; `events` yields its stdout JSON lines. */
function startWorker(name, env) {
  const child = spawn(process.execPath, [path.join(HERE, `${name}.mjs`)], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const lines = readline.createInterface({ input: child.stdout });
  const waiting = [];
  const seen = [];
  lines.on('line', (line) => {
    let event;
    try {
      event = JSON.parse(line);
    } catch {
      return;
    }
    seen.push(event);
    for (const w of waiting.splice(0)) w();
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    name,
    child,
    stderr: () => stderr,
    /** Waits for the worker's event named `type`. */
    async next(type, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = seen.find((e) => e.event === type);
        if (found !== undefined) return found;
        if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode}) before "${type}": ${stderr}`);
        if (Date.now() > deadline) throw new Error(`${name}: no "${type}" within ${timeoutMs} ms: ${stderr}`);
        await Promise.race([new Promise((r) => waiting.push(r)), exited, new Promise((r) => setTimeout(r, 500))]);
      }
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

const percentile = (sorted, p) =>
  sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function runPipeline(transport, work, truth, queryFiles) {
  const dir = path.join(work, transport);
  await fs.mkdir(dir, { recursive: true });
  const [detPort0, detPort1, fePort, reidPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  let kafka;
  const kafkaEnv = {};
  if (transport === 'kafka') {
    kafka = await startKafkaMock({ brokers: 1 });
    kafkaEnv.KAFKA_ENABLED = 'true';
    kafkaEnv.KAFKA_BIND_IPS = kafka.brokers.map((b) => b.split(':')[0]).join('|');
    kafkaEnv.KAFKA_BIND_PORTS = kafka.brokers.map((b) => b.split(':')[1]).join('|');
  }
  const common = {
    NAMESPACE: 'default',
    DET_MODEL_BIND_URL: '127.0.0.1',
    DET_MODEL_BIND_PORT: String(detPort0), // feature extraction answers to the first detection service
    FE_MODEL_BIND_URL: '127.0.0.1',
    FE_MODEL_BIND_PORT: String(fePort),
    REID_MODEL_BIND_URL: '127.0.0.1',
    REID_MODEL_BIND_PORT: String(reidPort),
  };
  const workers = [];
  const started = Date.now();
  try {
    const fe = startWorker('feature-extraction', {
      ...common,
      ...kafkaEnv,
      WORKER_NAME: 'fe-x1',
      SERVICE_NAME: 'feature-extraction',
    });
    workers.push(fe);
    const reid = startWorker('reid', {
      ...common,
      ...(transport === 'kafka' ? { ...kafkaEnv, consumer_topics: 'enriched_object' } : {}),
      WORKER_NAME: 'reid-x1',
      JOB_NAME: 'reid',
      query_images: queryFiles.join('|'),
      output_url: dir,
    });
    workers.push(reid);
    await fe.next('listening');
    await reid.next('listening');
    const detectors = [];
    for (const camera of [0, 1]) {
      const det = startWorker('detection', {
        ...common,
        ...kafkaEnv,
        DET_MODEL_BIND_PORT: String(camera === 0 ? detPort0 : detPort1),
        WORKER_NAME: `video-analytics-${camera}`,
        JOB_NAME: `video-analytics-${camera}`,
        video_address: truth.cameras[camera].file,
        video_id: String(camera),
        forward_to_reid: transport === 'rest' ? 'true' : 'false',
      });
      workers.push(det);
      detectors.push(det);
      await det.next('listening');
    }
    const done = await Promise.all(detectors.map((d) => d.next('done', 120_000)));
    const detections = done.reduce((n, d) => n + d.detections, 0);
    // Every detection reaches ReID once: wait for its counter (bounded).
    const status = new MultiEdgeClient({ service: 'reid', host: '127.0.0.1', port: reidPort });
    const deadline = Date.now() + 60_000;
    let processed = 0;
    while (Date.now() < deadline) {
      ({ processed } = (await status.status()).stats);
      if (processed >= detections) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    status.close();
    const wallMs = Date.now() - started;
    const matches = (await fs.readFile(path.join(dir, 'matches.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l));
    return { transport, done, detections, processed, matches, wallMs };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await kafka?.stop();
  }
}

function score(run, truth) {
  const correct = run.matches.filter((m) =>
    judgeMatch(truth.cameras[m.camera].frames[m.frameIndex], truth.target, m.box ?? undefined),
  ).length;
  const cameras = [0, 1].map((camera) => {
    const d = run.done.find((x) => x.camera === camera);
    const truthFirst = truth.cameras[camera].frames.findIndex((people) =>
      people.some((p) => p.id === truth.target && p.visible >= 0.5),
    );
    const found = run.matches.filter((m) => m.camera === camera && m.match >= 0).map((m) => m.frameIndex);
    return {
      camera,
      framesRead: d.framesRead,
      skippedByOpticalFlow: d.skippedByGate,
      detections: d.detections,
      targetFirstSeen: found.length === 0 ? null : Math.min(...found),
      targetFirstSeenTruth: truthFirst < 0 ? null : truthFirst,
    };
  });
  const latencies = run.matches
    .map((m) => m.latencyMs)
    .filter((v) => v !== null)
    .sort((a, b) => a - b);
  return {
    transport: run.transport,
    cameras,
    framesMatched: run.matches.length,
    reidTop1Accuracy: run.matches.length === 0 ? 0 : correct / run.matches.length,
    latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99) },
    wallSeconds: run.wallMs / 1000,
  };
}

function table(rows) {
  const width = [0, 1].map((c) => Math.max(...rows.map((r) => r[c].length)));
  const line = `+${width.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  return [line, ...rows.map((r) => `| ${r[0].padEnd(width[0])} | ${r[1].padEnd(width[1])} |`), line].join('\n');
}

const work = await fs.mkdtemp(path.join(os.tmpdir(), 'sedna-reid-'));
try {
  say('rendering two camera videos with ground truth (ffmpeg)...');
  const truth = await writeSceneVideos(path.join(work, 'videos'));
  const queryFiles = [];
  for (const scale of [2, 3]) {
    const file = path.join(work, `query-${scale}.jpg`);
    await fs.writeFile(file, await encodeJpeg({ ...renderQueryImage(0, scale), channels: 3 }));
    queryFiles.push(file);
  }
  const results = [];
  for (const transport of transports) {
    say(
      `running detection ×2 → feature extraction → ReID over ${transport === 'rest' ? 'REST' : 'Kafka (mock cluster)'}...`,
    );
    results.push(score(await runPipeline(transport, work, truth, queryFiles), truth));
  }
  if (asJson)
    process.stdout.write(
      `${JSON.stringify({ scene: { frames: truth.frames, fps: truth.fps, target: truth.target }, results })}\n`,
    );
  else
    for (const r of results) {
      const rows = [
        [
          `transport: ${r.transport}`,
          `searched person ${truth.target}, ${truth.frames} frames per camera at ${truth.fps} fps`,
        ],
      ];
      for (const c of r.cameras) {
        rows.push([`camera ${c.camera}: frames read`, String(c.framesRead)]);
        rows.push([
          `camera ${c.camera}: skipped by optical flow`,
          `${c.skippedByOpticalFlow} (${((100 * c.skippedByOpticalFlow) / c.framesRead).toFixed(0)} %)`,
        ]);
        rows.push([`camera ${c.camera}: detections (frames)`, String(c.detections)]);
        rows.push([
          `camera ${c.camera}: target first seen`,
          `frame ${c.targetFirstSeen ?? '-'} (ground truth ${c.targetFirstSeenTruth ?? '-'})`,
        ]);
      }
      rows.push(['ReID top-1 accuracy', `${(100 * r.reidTop1Accuracy).toFixed(1)} % of ${r.framesMatched} frames`]);
      rows.push([
        'end-to-end latency per frame',
        `p50 ${r.latencyMs.p50?.toFixed(0)} ms, p99 ${r.latencyMs.p99?.toFixed(0)} ms`,
      ]);
      rows.push(['wall time', `${r.wallSeconds.toFixed(1)} s`]);
      say(table(rows));
    }
} finally {
  await fs.rm(work, { recursive: true, force: true });
}
