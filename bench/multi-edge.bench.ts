/**
 * Multi-edge inference benchmarks (issue 16). Sections, all by default, or name some:
 *   npm run bench -- multi-edge                      # everything
 *   npx tsx bench/multi-edge.bench.ts matching gate  # some
 *
 * - matching: 1,000 query features × 10,000 candidates (d = 256), top-1 per query, on the JS
 *   kernel and on onnxruntime's GEMM (1 and 2 threads), the candidates prepared once; baseline in
 *   the same run: the previous unblocked loop on a 50-query slice (scaled ×20).
 * - gate: the optical-flow gate on 640×480 frames (the scene scaled up by ffmpeg): ms per frame,
 *   the share of frames skipped on a still scene and on a moving one.
 * - pipeline: frames/s through detector → FE → ReID with the example's models, called in one
 *   process (baseline, measured again before each run), over REST on loopback, and over Kafka
 *   (mock cluster): the ratios, by frames/s and by CPU time per frame (steadier on a shared
 *   machine). All three components run in this one process, so every hop's cost is charged to the
 *   same core as the models.
 * - memory: 15,000 frames (10 minutes at 25 fps) pushed as fast as possible into a detector whose
 *   model is slower than the stream, with a bounded `drop-oldest` queue: RSS along the way.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  FEService,
  LukasKanade,
  MultiEdgeClient,
  ObjectDetector,
  ReID,
  TargetMatcher,
  VideoSource,
  configureLogger,
  encodeJpeg,
  loadConfig,
  FeatureIndex,
  normalize,
  stackFeatures,
  type TopK,
  type DetTrackResult,
  type DetectorModel,
  type FeatureModel,
  type VideoFrame,
} from '../src/index.js';
// @ts-expect-error -- the example's plain JavaScript modules
import * as sceneModule from '../examples/multi-edge-inference/scene.mjs';
// @ts-expect-error -- the example's plain JavaScript modules
import * as modelsModule from '../examples/multi-edge-inference/models.mjs';
import { startKafkaMock } from '../scripts/kafka-mock.mjs';

interface Scene {
  SCENE: { width: number; height: number; fps: number };
  renderFrame(camera: number, t: number): Uint8Array;
  renderQueryImage(person: number, scale: number): { width: number; height: number; data: Uint8Array };
  encodeVideo(
    file: string,
    frames: Uint8Array[],
    size: { width: number; height: number; fps: number },
  ): Promise<string>;
}
const scene = sceneModule as Scene;
const { ColorBlobDetector, ColorHistogramExtractor } = modelsModule as {
  ColorBlobDetector: new (o: { camera: number }) => DetectorModel;
  ColorHistogramExtractor: new () => FeatureModel;
};

configureLogger({ level: 'warn', name: 'bench' });
const wanted = process.argv.slice(2);
const run = (name: string) => wanted.length === 0 || wanted.includes(name);
const config = loadConfig({ LOG_LEVEL: 'warn' });
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-multi-edge-'));

function randomFeatures(rows: number, dim: number, seed: number): Float32Array[] {
  let s = seed;
  const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  return Array.from({ length: rows }, () => normalize(Float32Array.from({ length: dim }, rand)));
}

/** Wall and CPU time (ms) of the fastest of `runs` calls; CPU time counts every thread. */
async function timed(runs: number, fn: () => unknown): Promise<{ wall: number; cpu: number }> {
  let wall = Infinity;
  let cpu = Infinity;
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    const t = performance.now();
    await fn();
    const w = performance.now() - t;
    const c = process.cpuUsage(c0);
    if (w < wall) [wall, cpu] = [w, (c.user + c.system) / 1000];
  }
  return { wall, cpu };
}

if (run('matching')) {
  const [M, N, D] = [1000, 10_000, 256];
  const query = randomFeatures(M, D, 1);
  const candidates = randomFeatures(N, D, 2);
  const flop = 2 * M * N * D;
  const line = (name: string, t: { wall: number; cpu: number }) =>
    console.log(
      `matching ${name}: ${t.wall.toFixed(1)} ms (${(flop / t.wall / 1e6).toFixed(1)} GFLOP/s wall, ` +
        `${(flop / t.cpu / 1e6).toFixed(1)} GFLOP/s per CPU-second); goal 10 ms: ×${(t.wall / 10).toFixed(1)}`,
    );
  console.log(
    `matching: ${M} queries × ${N} candidates, d = ${D}, top-1 per query (${(flop / 1e9).toFixed(2)} GFLOP); load ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores`,
  );

  // Baseline in the same run: the unblocked loop (one query row against 4 candidates at a time)
  // that the kernel replaced, on a 50-query slice, scaled ×20.
  const slice = query.slice(0, 50);
  const flat = stackFeatures(candidates).data;
  const old = await timed(1, () => {
    let sink = 0;
    for (const q of slice)
      for (let j = 0; j < N; j += 4) {
        const [c0, c1, c2, c3] = [j * D, (j + 1) * D, (j + 2) * D, (j + 3) * D];
        let [s0, s1, s2, s3] = [0, 0, 0, 0];
        for (let k = 0; k < D; k++) {
          const v = q[k]!;
          s0 += v * flat[c0 + k]!;
          s1 += v * flat[c1 + k]!;
          s2 += v * flat[c2 + k]!;
          s3 += v * flat[c3 + k]!;
        }
        sink = Math.max(sink, s0, s1, s2, s3);
      }
    return sink;
  });
  line('baseline, the previous unblocked loop (50 queries ×20)', {
    wall: old.wall * (M / 50),
    cpu: old.cpu * (M / 50),
  });

  let t0 = performance.now();
  const js = await FeatureIndex.create(candidates, { backend: 'js' });
  console.log(`matching prepare, JS (pack 10,000 candidates once): ${(performance.now() - t0).toFixed(1)} ms`);
  await js.search(query.slice(0, 8));
  let jsTop: TopK | undefined;
  line('JS kernel (4×4 tiles, one core)', await timed(2, async () => (jsTop = await js.search(query))));

  let ortTop: TopK | undefined;
  for (const threads of [1, 2]) {
    t0 = performance.now();
    let index: FeatureIndex;
    try {
      index = await FeatureIndex.create(candidates, { backend: 'onnxruntime', threads });
    } catch (err) {
      console.log(`matching onnxruntime: not available (${(err as Error).message})`);
      break;
    }
    const prepare = performance.now() - t0;
    await index.search(query.slice(0, 128));
    line(
      `onnxruntime MatMul+TopK, ${threads} thread(s) (prepared once in ${prepare.toFixed(0)} ms)`,
      await timed(7, async () => (ortTop = await index.search(query))),
    );
    await index.close();
  }
  if (jsTop !== undefined && ortTop !== undefined) {
    let same = 0;
    for (let i = 0; i < M; i++) if (jsTop.indices[i] === ortTop.indices[i]) same++;
    console.log(`matching: JS and onnxruntime agree on the top-1 of ${same} of ${M} queries`);
  }
  await js.close();
}

async function decodeAll(file: string, size?: { width: number; height: number }): Promise<VideoFrame[]> {
  const frames: VideoFrame[] = [];
  for await (const f of new VideoSource({ url: file, ...(size ?? {}) })) frames.push(f);
  return frames;
}

if (run('gate')) {
  const size = { width: scene.SCENE.width, height: scene.SCENE.height, fps: scene.SCENE.fps };
  const still = await scene.encodeVideo(
    path.join(work, 'still.mp4'),
    Array.from({ length: 60 }, () => scene.renderFrame(0, 0)),
    size,
  );
  const moving = await scene.encodeVideo(
    path.join(work, 'moving.mp4'),
    // Walking frames only (the scene pauses at 50-59).
    Array.from({ length: 60 }, (_, i) => scene.renderFrame(0, i < 30 ? 20 + i : 30 + i)),
    size,
  );
  const gate = await LukasKanade.create();
  for (const [name, file] of [
    ['still', still],
    ['moving', moving],
  ] as const) {
    const frames = await decodeAll(file, { width: 640, height: 480 });
    let skipped = 0;
    const t = performance.now();
    for (let i = 1; i < frames.length; i++) if (!gate.moved(frames[i - 1]!.image, frames[i]!.image)) skipped++;
    const perFrame = (performance.now() - t) / (frames.length - 1);
    console.log(
      `gate 640×480 ${name} scene: ${perFrame.toFixed(1)} ms/frame, skipped ${((100 * skipped) / (frames.length - 1)).toFixed(0)} % of ${frames.length - 1}`,
    );
  }
  gate.close();
}

async function pipelineFrames(): Promise<VideoFrame[]> {
  const size = { width: scene.SCENE.width, height: scene.SCENE.height, fps: scene.SCENE.fps };
  const file = await scene.encodeVideo(
    path.join(work, 'pipeline.mp4'),
    Array.from({ length: 200 }, (_, i) => scene.renderFrame(0, 20 + (i % 80))),
    size,
  );
  return decodeAll(file);
}

async function queryImages(): Promise<Uint8Array[]> {
  return Promise.all([2, 3].map((s) => encodeJpeg({ ...scene.renderQueryImage(0, s), channels: 3 })));
}

interface Throughput {
  /** Frames per second (wall clock). */
  fps: number;
  /** CPU time of this process per frame (every thread: sharp's too), ms. */
  cpuPerFrame: number;
  /** Sends per hop (requests or producer calls), when distributed. */
  sends?: string;
}

/** Runs `fn` over `frames` frames and measures it. */
async function throughput(frames: number, fn: () => Promise<void>): Promise<Throughput> {
  const c0 = process.cpuUsage();
  const t = performance.now();
  await fn();
  const wall = performance.now() - t;
  const c = process.cpuUsage(c0);
  return { fps: frames / (wall / 1000), cpuPerFrame: (c.user + c.system) / 1000 / frames };
}

/** In one process: the three models called directly, frame by frame. */
async function inProcess(frames: VideoFrame[]): Promise<Throughput> {
  const det = new ColorBlobDetector({ camera: 0 });
  const fe = new ColorHistogramExtractor();
  const matcher = new TargetMatcher({ queryImages: await queryImages() });
  matcher.updateTarget(await fe.getTargetFeatures!(matcher.updatePlugin()));
  return throughput(frames.length, async () => {
    for (const frame of frames) {
      const results = await det.inference([frame]);
      await matcher.inference(await fe.inference(results));
    }
  });
}

async function distributed(frames: VideoFrame[], kafka?: { brokers: string[] }, batchSize = 1): Promise<Throughput> {
  const client = (service: 'video_analytics' | 'feature_extraction' | 'reid', port: number) =>
    new MultiEdgeClient({ service, host: '127.0.0.1', port });
  const k = kafka === undefined ? false : { brokers: kafka.brokers };
  // Asynchronous stages with bounded queues (backpressure: block): the three stages overlap.
  const fe = await FEService.create({
    models: [new ColorHistogramExtractor()],
    config,
    host: '127.0.0.1',
    port: 0,
    kafka: k,
    asynchronous: true,
    maxQueue: 64,
    batchSize,
    detection: client('video_analytics', 1),
  });
  const fePort = Number(new URL(await fe.start()).port);
  const reid = await ReID.create({
    models: [new TargetMatcher({ queryImages: await queryImages() })],
    config,
    host: '127.0.0.1',
    port: 0,
    batchSize,
    maxQueue: 64,
    featureExtraction: client('feature_extraction', fePort),
    ...(kafka === undefined ? {} : { consumerTopics: ['enriched_object'], kafka: k }),
  });
  const reidPort = Number(new URL(await reid.start()).port);
  const det = await ObjectDetector.create({
    models: [new ColorBlobDetector({ camera: 0 })],
    config,
    host: '127.0.0.1',
    port: 0,
    gate: false,
    asynchronous: true,
    maxQueue: 64,
    batchSize,
    kafka: k,
    featureExtraction: client('feature_extraction', fePort),
    ...(kafka === undefined ? { forwardToReid: client('reid', reidPort) } : {}),
  });
  (fe as unknown as { detection: MultiEdgeClient }).detection = client(
    'video_analytics',
    Number(new URL(await det.start()).port),
  );
  try {
    const result = await throughput(frames.length, async () => {
      for (const frame of frames) await det.put(frame);
      while (reid.stats.processed < frames.length) await new Promise((r) => setTimeout(r, 2));
    });
    const d = det.stats;
    const hops = [`det→FE ${d.sends}`, `FE→det ${fe.stats.sends}`];
    if (kafka === undefined) hops.push(`det→ReID ${d.forwardSends}`);
    return { ...result, sends: hops.join(', ') };
  } finally {
    await det.close();
    await fe.close();
    await reid.close();
  }
}

if (run('pipeline')) {
  const frames = await pipelineFrames();
  await inProcess(frames.slice(0, 10)); // warm up
  const show = (t: Throughput) =>
    `${t.fps.toFixed(1)} frames/s, ${t.cpuPerFrame.toFixed(2)} ms CPU per frame` +
    (t.sends === undefined ? '' : ` (sends: ${t.sends})`);
  console.log(`pipeline: ${frames.length} frames, load ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores`);
  // The baseline is measured again before each distributed run: the ratios compare neighbours.
  const compare = async (name: string, run: () => Promise<Throughput>) => {
    const base = await inProcess(frames);
    const t = await run();
    console.log(`pipeline in one process: ${show(base)}`);
    console.log(
      `pipeline ${name}: ${show(t)}; ratio ${(t.fps / base.fps).toFixed(2)} (frames/s), ${(base.cpuPerFrame / t.cpuPerFrame).toFixed(2)} (CPU per frame)`,
    );
  };
  for (const batch of [1, 8])
    await compare(`over REST (loopback), batch_size ${batch}`, () => distributed(frames, undefined, batch));
  const mock = await startKafkaMock({ brokers: 1 });
  try {
    for (const batch of [1, 8])
      await compare(`over Kafka (mock cluster; the broker's CPU not counted), batch_size ${batch}`, () =>
        distributed(frames, mock, batch),
      );
  } finally {
    await mock.stop();
  }
}

if (run('memory')) {
  const slow: DetectorModel = {
    inference: async (batch: VideoFrame[]): Promise<DetTrackResult[]> => {
      await new Promise((r) => setTimeout(r, 1)); // slower than the frames come
      return batch.length < 0 ? [] : [];
    },
  };
  const det = await ObjectDetector.create({
    models: [slow],
    config,
    serve: false,
    gate: false,
    kafka: false,
    asynchronous: true,
    maxQueue: 64,
    overflow: 'drop-oldest',
    featureExtraction: new MultiEdgeClient({ service: 'feature_extraction', host: '127.0.0.1', port: 1 }),
  });
  const mib = () => process.memoryUsage().rss / 2 ** 20;
  const samples: string[] = [];
  const start = mib();
  for (let i = 0; i < 15_000; i++) {
    await det.put({
      image: { width: 320, height: 240, channels: 3, data: new Uint8Array(320 * 240 * 3) },
      detectionTime: '',
      index: i,
      capturedAt: 0,
    });
    if (i % 3000 === 2999) {
      await new Promise((r) => setImmediate(r));
      samples.push(`${i + 1}: ${mib().toFixed(0)} MiB`);
    }
  }
  const { dropped, processed, highWater } = det.stats;
  await det.close();
  console.log(
    `memory, 15000 frames into a bounded queue (64, drop-oldest): RSS start ${start.toFixed(0)} MiB; ${samples.join(', ')}; processed ${processed}, dropped ${dropped}, high water ${highWater}`,
  );
}

fs.rmSync(work, { recursive: true, force: true });
