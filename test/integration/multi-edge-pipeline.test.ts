/**
 * Imports the built package (dist/), as the example's models do through `sedna-sdk`: one copy of
 * the library in the process, as in a worker.
 *
 * The multi-edge components on real servers on loopback: ObjectDetector → FEService → back to the
 * detector → ReID over REST, with the example's classical models on the two-camera scene; the
 * status and update routes; bad input on every route (not a frame, a pickle, a JPEG that does not
 * decode, a feature of the wrong length, a body over the limit), a seeded fuzz of the routes, TLS.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import sharp from 'sharp';
import { loadConfig } from '../../dist/common/config.js';
import { primaryHostIp } from '../../dist/common/host-ip.js';
import { encodeResults, RECORD_CONTENT_TYPE } from '../../dist/datasources/multi-edge/codec.js';
import { encodeJpeg } from '../../dist/datasources/multi-edge/image.js';
import { DetTrackResult } from '../../dist/datasources/multi-edge/records.js';
import { VideoSource } from '../../dist/datasources/video.js';
import { FEService, type FeatureModel } from '../../dist/core/multi-edge-inference/fe-service.js';
import { ObjectDetector, type DetectorModel } from '../../dist/core/multi-edge-inference/object-detector.js';
import { pluginEndpoint, PLUGIN } from '../../dist/core/multi-edge-inference/plugins.js';
import { ReID, TargetMatcher, type TargetMatch } from '../../dist/core/multi-edge-inference/reid.js';
import { MultiEdgeClient } from '../../dist/service/client/multi-edge-client.js';
import { MultiEdgeServer } from '../../dist/service/server/multi-edge-server.js';
import { selfSignedCertificate } from '../helpers/tls.js';
import { scene, sceneVideos, type SceneTruth } from '../helpers/video.js';
// @ts-expect-error -- the example's plain JavaScript models
import * as exampleModels from '../../examples/multi-edge-inference/models.mjs';

interface Models {
  ColorBlobDetector: new (o: { camera: number }) => DetectorModel;
  ColorHistogramExtractor: new () => FeatureModel;
  FEATURE_DIM: number;
}
const { ColorBlobDetector, ColorHistogramExtractor, FEATURE_DIM } = exampleModels as Models;

const config = loadConfig({ LOG_LEVEL: 'silent' });
const client = (service: 'video_analytics' | 'feature_extraction' | 'reid', port: number): MultiEdgeClient =>
  new MultiEdgeClient({ service, host: '127.0.0.1', port, maxAttempts: 1 });

async function queryImages(): Promise<Uint8Array[]> {
  return Promise.all([2, 3].map((scale) => encodeJpeg({ ...scene.renderQueryImage(0, scale), channels: 3 })));
}

describe('plugins', () => {
  it('use Sedna’s variables, ports and default service hosts', () => {
    const defaults = loadConfig({});
    expect(pluginEndpoint(defaults, PLUGIN.REID_I)).toEqual({ host: 'reid-reid', port: 5000 });
    expect(pluginEndpoint(defaults, PLUGIN.FEATURE_EXTRACTION_I)).toEqual({
      host: 'feature-extraction-fe',
      port: 6000,
    });
    expect(pluginEndpoint(defaults, PLUGIN.VIDEO_ANALYTICS_I)).toEqual({
      host: 'video-analytics-videoanalytics',
      port: 4000,
    });
    expect(pluginEndpoint(defaults, PLUGIN.VIDEO_ANALYTICS)).toEqual({ host: primaryHostIp(), port: 4000 });
    const set = loadConfig({ FE_MODEL_BIND_URL: 'http://fe.edge:7000', FE_MODEL_BIND_PORT: '7001' });
    expect(pluginEndpoint(set, PLUGIN.FEATURE_EXTRACTION_I)).toEqual({ host: 'fe.edge', port: 7001 });
  });
});

describe('the pipeline over REST on loopback', () => {
  let truth: SceneTruth;
  beforeAll(async () => {
    truth = await sceneVideos();
  }, 60_000);

  it('finds the target across both cameras by real feature matching', async () => {
    const matches: TargetMatch[] = [];
    const fe = await FEService.create({
      models: [new ColorHistogramExtractor()],
      config,
      host: '127.0.0.1',
      port: 0,
      kafka: false,
      detection: client('video_analytics', 1),
    });
    const feUrl = await fe.start();
    const fePort = Number(new URL(feUrl).port);
    const matcher = new TargetMatcher({ queryImages: await queryImages(), onMatch: (m) => void matches.push(m) });
    const reid = await ReID.create({
      models: [matcher],
      config,
      host: '127.0.0.1',
      port: 0,
      featureExtraction: client('feature_extraction', fePort),
    });
    const reidPort = Number(new URL(await reid.start()).port);
    const detectors = await Promise.all(
      [0, 1].map((camera) =>
        ObjectDetector.create({
          models: [new ColorBlobDetector({ camera })],
          config,
          host: '127.0.0.1',
          port: 0,
          kafka: false,
          featureExtraction: client('feature_extraction', fePort),
          forwardToReid: client('reid', reidPort),
        }),
      ),
    );
    // Feature extraction answers to the first detector (Sedna: one VideoAnalytics service).
    const detPort = Number(new URL(await detectors[0]!.start()).port);
    await detectors[1]!.start();
    (fe as unknown as { detection: MultiEdgeClient }).detection = client('video_analytics', detPort);
    try {
      await Promise.all(
        detectors.map(async (detector, camera) => {
          for await (const frame of new VideoSource({ url: truth.cameras[camera]!.file })) await detector.put(frame);
          await detector.drain();
        }),
      );
      await fe.drain();
      // The enriched results came back to detector 0, which forwards them to ReID in its outbox.
      await detectors[0]!.drain();
      await reid.drain();
      const detections = detectors.reduce((n, d) => n + d.stats.detections, 0);
      expect(detections).toBeGreaterThan(100);
      expect(reid.stats.processed).toBe(detections);
      expect(detectors[0]!.stats.forwarded).toBe(detections);
      for (const d of detectors) {
        expect(d.stats.skippedByGate).toBeGreaterThanOrEqual(25); // the still stretches
        expect(d.stats.failed).toBe(0);
      }
      // Score against the ground truth (scene.judgeMatch: the matched box must be the target's).
      const judged = matches.map((m) => ({
        m,
        ok: scene.judgeMatch(
          truth.cameras[Number(m.record.camera)]!.frames[m.record.frameIndex]!,
          truth.target,
          m.index < 0 ? undefined : m.record.bboxCoord[m.index],
        ),
      }));
      expect(
        judged.filter((j) => !j.ok).map(({ m }) => [m.record.camera, m.record.frameIndex, m.index, m.score.toFixed(2)]),
      ).toEqual([]);
      const correct = judged.filter((j) => j.ok).length;
      expect(correct / matches.length).toBeGreaterThanOrEqual(0.95);
      expect(matches.some((m) => m.record.camera === 1 && m.index >= 0)).toBe(true); // seen on both cameras
      expect(matches.some((m) => m.record.camera === 0 && m.index >= 0)).toBe(true);
      expect(matches.every((m) => m.record.features.every((f) => f.length === FEATURE_DIM))).toBe(true);

      // The status route answers where Sedna's check_server_status() looks (the bare service path).
      const res = await fetch(`http://127.0.0.1:${reidPort}/reid`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ status: 'OK', service: 'reid', stats: { processed: detections } });
      expect((await client('feature_extraction', fePort).status()).stats).toMatchObject({ processed: detections });
    } finally {
      for (const d of detectors) await d.close();
      await fe.close();
      await reid.close();
    }
  }, 120_000);
});

describe('bad input', () => {
  let fe: FEService;
  let reid: ReID;
  let fePort: number;
  let reidPort: number;
  const sent: DetTrackResult[][] = [];
  let detection: MultiEdgeServer;

  beforeAll(async () => {
    // A detection server that records what feature extraction sends back.
    detection = await MultiEdgeServer.create({
      service: 'video_analytics',
      host: '127.0.0.1',
      port: 0,
      handler: { put: (r) => void sent.push(r), stats: () => ({}) },
    });
    const detPort = Number(new URL(await detection.start()).port);
    fe = await FEService.create({
      models: [new ColorHistogramExtractor()],
      config,
      host: '127.0.0.1',
      port: 0,
      kafka: false,
      detection: client('video_analytics', detPort),
      bodyLimitBytes: 200_000,
    });
    fePort = Number(new URL(await fe.start()).port);
    reid = await ReID.create({
      models: [new TargetMatcher({ queryImages: await queryImages() })],
      config,
      host: '127.0.0.1',
      port: 0,
      featureExtraction: client('feature_extraction', fePort),
    });
    reidPort = Number(new URL(await reid.start()).port);
  }, 60_000);
  afterAll(async () => {
    await fe.close();
    await reid.close();
    await detection.close();
  });

  const post = (port: number, path: string, body: Uint8Array | string, type = RECORD_CONTENT_TYPE) =>
    fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers: { 'content-type': type }, body });

  it('answers 4xx with a code for bodies that are not ours; a pickle is never read', async () => {
    const pickle = Buffer.from('80049512000000000000007d948c0161944b01732e', 'hex');
    for (const [body, type, status, code] of [
      [pickle, RECORD_CONTENT_TYPE, 400, 'SEDNA_ERR_RECORD_FORMAT'],
      [pickle, 'application/python-pickle', 415, 'SEDNA_ERR_UNSUPPORTED_MEDIA_TYPE'],
      ['{"data": 1}', 'application/json', 415, 'SEDNA_ERR_UNSUPPORTED_MEDIA_TYPE'],
      [Buffer.alloc(300_000), RECORD_CONTENT_TYPE, 413, 'SEDNA_ERR_PAYLOAD_TOO_LARGE'],
    ] as const) {
      const res = await post(fePort, '/feature_extraction/feature_extraction', body, type);
      expect([res.status, ((await res.json()) as { code: string }).code]).toEqual([status, code]);
    }
    const res = await fetch(`http://127.0.0.1:${fePort}/feature_extraction/nowhere`);
    expect(res.status).toBe(404);
  });

  it('a JPEG that does not decode fails its own batch only; the next frames go through', async () => {
    const good = new DetTrackResult({
      frameIndex: 2,
      scene: await encodeJpeg({ width: 320, height: 240, channels: 3, data: scene.renderFrame(0, 30) }),
      bboxCoord: scene.visiblePeople(0, 30).map((p) => p.box),
    });
    const broken = new DetTrackResult({
      frameIndex: 1,
      scene: Uint8Array.of(0xff, 0xd8, 0xff, 0, 1, 2),
      bboxCoord: [[0, 0, 10, 10]],
    });
    const before = fe.stats;
    expect(await client('feature_extraction', fePort).transmit([broken])).toBe(1);
    expect(await client('feature_extraction', fePort).transmit([good])).toBe(1);
    await fe.drain();
    expect(fe.stats.failed - before.failed).toBe(1);
    expect(fe.stats.processed - before.processed).toBe(1);
    expect(sent.at(-1)![0]!.frameIndex).toBe(2);
    expect(sent.at(-1)![0]!.features).toHaveLength(good.bboxCoord.length);
  });

  it('a feature of the wrong length is a counted SHAPE_MISMATCH; ReID keeps matching the others', async () => {
    const before = reid.stats;
    const wrong = new DetTrackResult({ frameIndex: 1, bboxCoord: [[0, 0, 1, 1]], features: [new Float32Array(7)] });
    const right = new DetTrackResult({
      frameIndex: 2,
      bboxCoord: [[0, 0, 1, 1]],
      features: [new Float32Array(FEATURE_DIM).fill(0.1)],
    });
    await client('reid', reidPort).transmit([wrong]);
    await client('reid', reidPort).transmit([right]);
    await reid.drain();
    expect(reid.stats.failed - before.failed).toBe(1);
    expect(reid.stats.processed - before.processed).toBe(1);
  });

  it('update_service reaches the models; get_target_features answers a targets frame', async () => {
    const fes = client('feature_extraction', fePort);
    expect(await fes.updateService({ op_mode: 'tracking' })).toEqual([null]);
    const [target] = await fes.getTargetFeatures([new DetTrackResult({ userID: 'alice', bbox: await queryImages() })]);
    expect(target!.userid).toBe('alice');
    expect(target!.features).toHaveLength(2);
    const res = await post(
      fePort,
      '/feature_extraction/get_target_features',
      encodeResults([new DetTrackResult({ bbox: [Uint8Array.of(1, 2, 3)] })]),
    );
    expect([res.status, ((await res.json()) as { code: string }).code]).toEqual([400, 'SEDNA_ERR_IMAGE_DECODE']);
    // A small JPEG that declares more pixels than MAX_DECODED_PIXELS is refused before decoding.
    const huge = await sharp({ create: { width: 4200, height: 4100, channels: 3, background: '#808080' } })
      .jpeg()
      .toBuffer();
    expect(huge.length).toBeLessThan(1024 * 1024);
    const bomb = await post(
      fePort,
      '/feature_extraction/get_target_features',
      encodeResults([new DetTrackResult({ bbox: [huge] })]),
    );
    const body = (await bomb.json()) as { code: string; message: string };
    expect([bomb.status, body.code, body.message]).toEqual([
      400,
      'SEDNA_ERR_IMAGE_DECODE',
      expect.stringMatching(/pixel/i),
    ]);
  });

  it('survives a seeded fuzz of every route: only coded 4xx answers, and it keeps serving', async () => {
    const routes = [
      '/feature_extraction/feature_extraction',
      '/feature_extraction/update_service',
      '/feature_extraction/get_target_features',
    ];
    const valid = encodeResults([new DetTrackResult({ features: [Float32Array.of(1)] })]);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        fc.oneof(
          fc.uint8Array({ maxLength: 400 }),
          fc.tuple(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 0, max: 255 })).map(([at, v]) => {
            const copy = Buffer.from(valid);
            copy[at] = v;
            return new Uint8Array(copy);
          }),
        ),
        fc.constantFrom(RECORD_CONTENT_TYPE, 'application/json', 'text/plain', 'application/octet-stream'),
        async (route, body, type) => {
          const res = await post(fePort, route, body, type);
          if (res.status >= 500) throw new Error(`${route} answered ${res.status}: ${await res.text()}`);
          if (res.status >= 400) expect(((await res.json()) as { code: string }).code).toMatch(/^SEDNA_ERR_/);
        },
      ),
      { numRuns: 150, seed: 16 },
    );
    expect((await client('feature_extraction', fePort).status()).status).toBe('OK');
  }, 60_000);
});

describe('the results route', () => {
  it('aborts a put that waits for room when its client goes away, and only then', async () => {
    const signals: AbortSignal[] = [];
    let arrived: () => void = () => undefined;
    let release: () => void = () => undefined;
    let holding = false;
    const server = await MultiEdgeServer.create({
      service: 'reid',
      host: '127.0.0.1',
      port: 0,
      handler: {
        put: async (_records, signal) => {
          signals.push(signal);
          arrived();
          if (holding) await new Promise<void>((resolve) => (release = resolve));
        },
        stats: () => ({}),
      },
    });
    const url = `${await server.start()}/reid/reid`;
    const body = encodeResults([new DetTrackResult({ frameIndex: 1 })]);
    const headers = { 'content-type': RECORD_CONTENT_TYPE };
    try {
      expect((await fetch(url, { method: 'POST', headers, body })).status).toBe(200);
      // The client gives up while put() waits: the signal aborts.
      holding = true;
      const second = new Promise<void>((resolve) => (arrived = resolve));
      const gone = new AbortController();
      const request = fetch(url, { method: 'POST', headers, body, signal: gone.signal }).catch(() => 'aborted');
      await second;
      // By now the first request has long closed (the second came after it): an answered request's
      // signal never aborts.
      expect(signals[0]!.aborted).toBe(false);
      expect(signals[1]!.aborted).toBe(false);
      const aborted = new Promise((resolve) => signals[1]!.addEventListener('abort', resolve));
      gone.abort();
      expect(await request).toBe('aborted');
      await aborted;
      expect(signals[1]!.aborted).toBe(true);
    } finally {
      release();
      await server.close();
    }
  });
});

describe('TLS', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sedna-multi-edge-tls-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a component serves https through its server option; a client trusts it only with the CA', async () => {
    const { keyPath, certPath } = selfSignedCertificate(dir);
    const fe = await FEService.create({
      models: [new ColorHistogramExtractor()],
      config,
      host: '127.0.0.1',
      port: 0,
      kafka: false,
      detection: client('video_analytics', 1),
      server: { tls: { keyPath, certPath } },
    });
    try {
      const url = await fe.start();
      expect(url).toMatch(/^https:\/\/127\.0\.0\.1:/);
      const port = Number(new URL(url).port);
      const options = {
        service: 'feature_extraction',
        host: '127.0.0.1',
        port,
        protocol: 'https',
        maxAttempts: 1,
      } as const;
      const trusting = new MultiEdgeClient({ ...options, ca: fs.readFileSync(certPath) });
      const untrusting = new MultiEdgeClient(options);
      try {
        const [target] = await trusting.getTargetFeatures([
          new DetTrackResult({ userID: 'bob', bbox: await queryImages() }),
        ]);
        expect([target!.userid, target!.features.length]).toEqual(['bob', 2]);
        // (dist's error classes, not src's: compare the code.)
        const refused = (await untrusting.status().catch((err: unknown) => err)) as { code?: string; message?: string };
        expect([refused.code, refused.message]).toEqual(['SEDNA_ERR_NETWORK', expect.stringContaining('self-signed')]);
      } finally {
        trusting.close();
        untrusting.close();
      }
    } finally {
      await fe.close();
    }
  });
});
