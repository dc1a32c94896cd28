/**
 * The servers the robustness suite attacks, each started in its own child process (so a crash is
 * seen as an exit and memory is measured alone): `node --expose-gc servers.mjs <name>`.
 * Plain JavaScript on the built `dist/` (`npm run test:robustness` builds first).
 *
 * To add a server, add one entry to SERVERS: a `start()` that listens on 127.0.0.1 with a free
 * port and returns `{ url, close }`, and a `spec` the fuzzer reads (see test/robustness/README.md):
 *   kind        'http' | 'ws'
 *   seeds       well-formed requests the fuzzer mutates: { method, path, body? }
 *   good        a request that must keep succeeding between attacks: { method, path, body?, expect }
 *   errorShapes 'coded' (every 4xx is {code, message}) or 'lc' (the real LocalController's
 *               answers, which the emulator reproduces byte for byte, are accepted too)
 *   wsPath      for 'ws': the WebSocket path
 */
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createServer } from '../../dist/service/server/base.js';
import { InferenceServer } from '../../dist/service/server/inference-server.js';
import { AggregationServer } from '../../dist/service/server/aggregation-server.js';
import { BigModelService } from '../../dist/core/joint-inference/big-model-service.js';
import { OnnxEstimator } from '../../dist/backend/onnx.js';
import { loadConfig } from '../../dist/common/config.js';
import { configureLogger } from '../../dist/common/logger.js';
import { LCEmulator } from '../../dist/testing/index.js';
import { KBServer } from '../../dist/service/server/kb-server.js';
import { FEService } from '../../dist/core/multi-edge-inference/fe-service.js';
import { ObjectDetector } from '../../dist/core/multi-edge-inference/object-detector.js';
import { encodeResults, RECORD_CONTENT_TYPE } from '../../dist/datasources/multi-edge/codec.js';
import { encodeJpeg } from '../../dist/datasources/multi-edge/image.js';
import { DetTrackResult } from '../../dist/datasources/multi-edge/records.js';
import { MultiEdgeClient } from '../../dist/service/client/multi-edge-client.js';
import { ColorBlobDetector, ColorHistogramExtractor } from '../../examples/multi-edge-inference/models.mjs';
import { startApiServer } from '../../dist/cli/run/api-server.js';
import { StatusStore } from '../../dist/cli/run/status.js';

configureLogger({ level: 'fatal', name: 'robustness' });

const MODELS = new URL('../fixtures/models/', import.meta.url).pathname;
/** Limits small enough that the fuzzer reaches them cheaply. */
const LIMITS = { bodyLimitBytes: 64 * 1024, requestTimeoutMs: 2_000, headersTimeoutMs: 1_000, closeGraceMs: 200 };
const row = Array.from({ length: 64 }, (_, i) => (i % 16) / 16);

// Multi-edge record frames: one detection on a small JPEG scene, and one query image.
const image = { width: 48, height: 32, channels: 3, data: new Uint8Array(48 * 32 * 3).map((_, i) => (i * 37) % 256) };
const jpeg = await encodeJpeg(image, 80);
const base64 = (bytes) => Buffer.from(bytes).toString('base64');
const detection = base64(
  encodeResults([
    new DetTrackResult({
      frameIndex: 3,
      camera: 1,
      scene: jpeg,
      bboxCoord: [[4, 4, 20, 28]],
      confidence: [0.9],
      tracklets: [7],
      detectionTime: 'Sun, 06 December 2026 10:00:00.000000',
    }),
  ]),
);
const enriched = base64(
  encodeResults([
    new DetTrackResult({
      frameIndex: 3,
      camera: 1,
      bboxCoord: [[4, 4, 20, 28]],
      features: [new Float32Array(8).fill(0.5)],
    }),
  ]),
);
const query = base64(encodeResults([new DetTrackResult({ userID: 'u1', bbox: [jpeg] })]));
const records = (path, rawBase64) => ({ method: 'POST', path, rawBase64, contentType: RECORD_CONTENT_TYPE });
/** A client to a port nothing listens on: the components' results go nowhere, quickly. */
async function nowhere(service) {
  const port = await new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address();
      probe.close(() => resolve(free));
    });
  });
  return new MultiEdgeClient({ service, host: '127.0.0.1', port, maxAttempts: 1, timeoutMs: 500 });
}
// A component's own closeGraceMs is its queue's; the server's goes in `server`.
const { bodyLimitBytes, ...serverLimits } = LIMITS;
const componentLimits = { bodyLimitBytes, server: serverLimits };

export const SERVERS = {
  /** BigModelService: the real joint-inference cloud, ONNX model and all. */
  'big-model-service': {
    spec: {
      kind: 'http',
      errorShapes: 'coded',
      seeds: [
        { method: 'POST', path: '/sedna/predict', body: { data: [row], post_process: null } },
        { method: 'POST', path: '/sedna/predict', body: { data: [row, row], callback: null } },
        { method: 'GET', path: '/sedna' },
      ],
      good: { method: 'POST', path: '/sedna/predict', body: { data: [row] }, expect: /"result":\[\[/ },
    },
    async start() {
      const service = await BigModelService.create({
        estimator: await OnnxEstimator.create(),
        modelUrl: `${MODELS}digits-cloud.onnx`,
        config: loadConfig({}),
        host: '127.0.0.1',
        port: 0,
        ...LIMITS,
      });
      await service.start();
      return { url: service.url, close: () => service.close() };
    },
  },

  /** InferenceServer with a model that echoes (the generic route code without ONNX). */
  'inference-server': {
    spec: {
      kind: 'http',
      errorShapes: 'coded',
      seeds: [
        { method: 'POST', path: '/sedna/predict', body: { data: [1, 2, 3] } },
        { method: 'POST', path: '/sedna/predict', body: { data: [[0.5]], callback: 'x' } },
      ],
      good: { method: 'POST', path: '/sedna/predict', body: { data: [7] }, expect: /"result":\[7\]/ },
    },
    async start() {
      const server = await InferenceServer.create({
        model: { inference: (data) => data },
        host: '127.0.0.1',
        port: 0,
        ...LIMITS,
      });
      await server.start();
      return { url: server.url, close: () => server.close() };
    },
  },

  /** A createServer route with a JSON schema, as users write them. */
  'create-server': {
    spec: {
      kind: 'http',
      errorShapes: 'coded',
      seeds: [
        { method: 'POST', path: '/items/42', body: { name: 'a', tags: ['x'], count: 3 } },
        { method: 'GET', path: '/items/7?verbose=true' },
      ],
      good: { method: 'POST', path: '/items/1', body: { name: 'ok', count: 1 }, expect: /"id":"1"/ },
    },
    async start() {
      const server = await createServer({ name: 'fuzz-routes', host: '127.0.0.1', port: 0, ...LIMITS });
      server.app.get('/items/:id', (request) => ({ id: request.params.id, query: request.query }));
      server.app.post(
        '/items/:id',
        {
          schema: {
            body: {
              type: 'object',
              required: ['name'],
              properties: {
                name: { type: 'string', maxLength: 100 },
                count: { type: 'integer' },
                tags: { type: 'array' },
              },
            },
          },
        },
        (request) => ({ id: request.params.id, name: request.body.name }),
      );
      await server.listen();
      return { url: server.url, close: () => server.close() };
    },
  },

  /** The LC emulator users run in their tests (it answers as Sedna's real LC does). */
  'lc-emulator': {
    spec: {
      kind: 'http',
      errorShapes: 'lc',
      seeds: [
        {
          method: 'POST',
          path: '/sedna/workers/w1/info',
          body: {
            name: 'w1',
            namespace: 'default',
            ownerName: 'j',
            ownerKind: 'jointinferenceservice',
            kind: 'inference',
            results: [],
            ownerInfo: { inferenceNumber: 1 },
          },
        },
        {
          method: 'POST',
          path: '/sedna/workers/w2/info',
          body: { name: 'w2', ownerKind: 'federatedlearningjob', status: 'running' },
        },
      ],
      good: {
        method: 'POST',
        path: '/sedna/workers/good/info',
        body: { name: 'good', ownerKind: 'jointinferenceservice', kind: 'inference' },
        // Go's MarshalIndent(v, "", " "), as the real LC answers (test/integration/lc-emulator.test.ts).
        expect: /^\{\n "Status": 200,\n "Message": "OK"\n\}$/,
      },
    },
    async start() {
      // It records what it receives (its purpose): the fuzz keeps the last 100 (default 1,000), or
      // its 64-128 KiB over-limit bodies alone would hold ~100 MiB, by design rather than by leak.
      const lc = await LCEmulator.start({ maxRecorded: 100 });
      return { url: lc.url, close: () => lc.close() };
    },
  },

  /** Multi-edge feature extraction (FEService with the example's colour-histogram model, asynchronous). */
  'multi-edge-fe': {
    spec: {
      kind: 'http',
      errorShapes: 'coded',
      seeds: [
        records('/feature_extraction/feature_extraction', detection),
        records('/feature_extraction/get_target_features', query),
        { method: 'POST', path: '/feature_extraction/update_service', body: { op_mode: 'detection' } },
        { method: 'GET', path: '/feature_extraction/status' },
      ],
      good: { ...records('/feature_extraction/feature_extraction', detection), expect: /"accepted":1/ },
    },
    async start() {
      const fe = await FEService.create({
        models: [new ColorHistogramExtractor()],
        config: loadConfig({}),
        detection: await nowhere('video_analytics'),
        // Live video: the route only queues (the fuzzer's clients half-close, and node's server
        // drops an answer that is not ready by then); the model runs behind a bounded queue.
        asynchronous: true,
        overflow: 'drop-oldest',
        host: '127.0.0.1',
        port: 0,
        ...componentLimits,
      });
      await fe.start();
      return { url: fe.url, close: () => fe.close() };
    },
  },

  /** Multi-edge detection: the route where enriched results come back from feature extraction. */
  'multi-edge-detection': {
    spec: {
      kind: 'http',
      errorShapes: 'coded',
      seeds: [
        records('/video_analytics/video_analytics', enriched),
        { method: 'POST', path: '/video_analytics/update_service', body: { op_mode: 'tracking' } },
        { method: 'GET', path: '/video_analytics' },
      ],
      good: { ...records('/video_analytics/video_analytics', enriched), expect: /"accepted":1/ },
    },
    async start() {
      const detector = await ObjectDetector.create({
        models: [new ColorBlobDetector()],
        config: loadConfig({}),
        gate: false,
        featureExtraction: await nowhere('feature_extraction'),
        host: '127.0.0.1',
        port: 0,
        ...componentLimits,
      });
      await detector.start();
      return { url: detector.url, close: () => detector.close() };
    },
  },

  'kb-server': {
    spec: {
      kind: 'http',
      errorShapes: 'coded',
      seeds: [
        { method: 'POST', path: '/knowledgebase/query', body: {} },
        { method: 'POST', path: '/knowledgebase/update/status', body: { tasks: 'g1,g2', status: 1 } },
        { method: 'GET', path: '/knowledgebase/file/download?files=model.json&name=model.json' },
        { method: 'POST', path: '/knowledgebase/file/upload', body: { file: 'x' } },
        { method: 'POST', path: '/knowledgebase/update', body: { task: 'x' } },
      ],
      good: { method: 'POST', path: '/knowledgebase/query', body: {}, expect: /"tasks":\[/ },
    },
    async start() {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sedna-fuzz-kb-'));
      const { bodyLimitBytes, ...limits } = LIMITS;
      const kb = await KBServer.create({
        dir,
        dbUrl: `sqlite:///${path.join(dir, 'kb.sqlite3')}`,
        host: '127.0.0.1',
        port: 0,
        maxUploadBytes: bodyLimitBytes,
        ...limits,
      });
      await fs.writeFile(path.join(dir, 'model.json'), '{}');
      const url = await kb.listen();
      return {
        url,
        close: async () => {
          await kb.close();
          await fs.rm(dir, { recursive: true, force: true });
        },
      };
    },
  },

  /** The federated-learning aggregator: its WebSocket (and its HTTP routes). */
  aggregation: {
    spec: { kind: 'ws', errorShapes: 'coded', wsPath: '/FedAvg', seeds: [{ method: 'GET', path: '/FedAvg' }] },
    async start() {
      const server = await AggregationServer.create({
        host: '127.0.0.1',
        port: 0,
        participantsCount: 3,
        exitRound: 1_000_000,
        roundTimeoutMs: 0,
        maxMessageBytes: 256 * 1024,
        subscribeTimeoutMs: 2_000,
        reconnectGraceMs: 50,
        // The fuzzer's clients leave rounds that nobody can move on purpose: a long run
        // (SEDNA_FUZZ_INPUTS) must keep fuzzing a live server, not one that ended the job as stalled.
        stallTimeoutMs: 24 * 3_600_000,
        roundDeadlineMs: 24 * 3_600_000,
        pingIntervalMs: 1_000,
        requestTimeoutMs: 2_000,
        closeGraceMs: 200,
      });
      await server.start();
      return { url: server.url, close: () => server.close() };
    },
  },

  /** `sedna run`'s status API and page, with Prometheus metrics on (one job, one worker's log). */
  'sedna-run-api': {
    spec: {
      kind: 'http',
      errorShapes: 'coded',
      seeds: [
        { method: 'GET', path: '/api/status' },
        { method: 'GET', path: '/api/logs/digits-edge-abcde?lines=5' },
        { method: 'GET', path: '/' },
        { method: 'GET', path: '/metrics' },
      ],
      good: { method: 'GET', path: '/api/status', expect: /"jobs":\[\{"kind":"JointInferenceService"/ },
    },
    async start() {
      const store = new StatusStore({ version: '0', files: ['job.yaml'], stateDir: '/tmp', startedAt: '' });
      store.addJob('JointInferenceService', 'default', 'digits');
      const logs = [{ t: 0, container: 'edge', text: 'a line' }];
      const run = { logsOf: (pod) => (pod === 'digits-edge-abcde' ? logs : undefined) };
      const server = await startApiServer(store, run, { host: '127.0.0.1', port: 0, page: true, metrics: true });
      return { url: server.url, close: () => server.close() };
    },
  },
};

function rss() {
  globalThis.gc?.();
  globalThis.gc?.();
  return process.memoryUsage().rss;
}

/**
 * The spec as it can cross the IPC channel: a RegExp serializes to `{}` there, so `good.expect`
 * goes as its source and flags (fuzz.ts rebuilds it).
 */
function toWire(spec) {
  if (spec.good === undefined) return spec;
  const { expect, ...good } = spec.good;
  if (!(expect instanceof RegExp)) throw new Error('servers.mjs: good.expect must be a RegExp');
  return { ...spec, good: { ...good, expectSource: expect.source, expectFlags: expect.flags } };
}

// As a child: start the named server, report, then answer RSS questions until told to stop.
if (process.argv[2] !== undefined && process.send !== undefined) {
  const entry = SERVERS[process.argv[2]];
  if (entry === undefined) throw new Error(`no server ${process.argv[2]} in test/robustness/servers.mjs`);
  const running = await entry.start();
  process.on('message', async (message) => {
    if (message === 'rss') process.send({ rss: rss() });
    if (message === 'stop') {
      await running.close();
      process.send({ stopped: true });
      process.exit(0);
    }
  });
  process.send({ ready: true, url: running.url, spec: toWire(entry.spec), rss: rss() });
}
