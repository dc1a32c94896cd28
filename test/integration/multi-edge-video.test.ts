/**
 * Video sources (src/datasources/video.ts) against ffmpeg-made files, an HTTP download and live
 * streams served by ffmpeg (RTMP, HTTP-TS), and the optical-flow gate (OpenCV WASM) on static
 * and moving frames of the same scene.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { LukasKanade } from '../../src/algorithms/optical-flow/lukas-kanade.js';
import { parseDetectionTime } from '../../src/datasources/multi-edge/records.js';
import { VideoSource, videoSourceKind, type VideoFrame } from '../../src/datasources/video.js';
import { rejectionOf } from '../helpers/errors.js';
import { freePort, scene, sceneVideos, serveStream, stopChild, type SceneTruth } from '../helpers/video.js';

async function collect(source: VideoSource, max = Infinity): Promise<VideoFrame[]> {
  const frames: VideoFrame[] = [];
  for await (const frame of source) {
    frames.push(frame);
    if (frames.length >= max) break;
  }
  return frames;
}

let truth: SceneTruth;
beforeAll(async () => {
  truth = await sceneVideos();
}, 60_000);

describe('video sources', () => {
  it('chooses the source kind from the URL', () => {
    expect(videoSourceKind('rtsp://cam/1')).toBe('stream');
    expect(videoSourceKind('rtmp://cam/1')).toBe('stream');
    expect(videoSourceKind('https://host/v.mp4')).toBe('download');
    expect(videoSourceKind('s3://bucket/v.mp4')).toBe('download');
    expect(videoSourceKind('/data/v.mp4')).toBe('file');
  });

  it('decodes a file into RGB frames with Sedna’s (frame, detection time, index) tuple', async () => {
    const file = truth.cameras[0]!.file;
    const frames = await collect(new VideoSource({ url: file }));
    expect(frames).toHaveLength(truth.frames);
    expect(frames.map((f) => f.index)).toEqual(Array.from({ length: truth.frames }, (_, i) => i));
    const first = frames[0]!;
    expect(first.image).toMatchObject({ width: 320, height: 240, channels: 3 });
    expect(first.image.data.byteLength).toBe(320 * 240 * 3);
    expect(parseDetectionTime(first.detectionTime)).toBeCloseTo(first.capturedAt / 1000, 2);
    // The decoded pixels are the rendered ones, up to compression error.
    const rendered = scene.renderFrame(0, 0);
    let error = 0;
    for (let i = 0; i < rendered.length; i++) error += Math.abs(rendered[i]! - first.image.data[i]!);
    expect(error / rendered.length).toBeLessThan(3);
  });

  it('delivers frames at a target fps and size', async () => {
    const frames = await collect(
      new VideoSource({ url: `file://${truth.cameras[1]!.file}`, fps: 5, width: 160, height: 120 }),
    );
    expect(frames.length).toBeGreaterThanOrEqual(49);
    expect(frames.length).toBeLessThanOrEqual(51);
    expect(frames[0]!.image).toMatchObject({ width: 160, height: 120 });
  });

  it('downloads an http video first, and a 404 is SEDNA_ERR_VIDEO_SOURCE', async () => {
    const body = fs.readFileSync(truth.cameras[0]!.file);
    const server = http.createServer((req, res) => {
      if (req.url === '/v.mp4') res.writeHead(200, { 'content-length': body.length }).end(body);
      else res.writeHead(404).end('nope');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const source = new VideoSource({ url: `${base}/v.mp4` });
      expect(source.kind).toBe('download');
      expect(await collect(source)).toHaveLength(truth.frames);
      const err = await rejectionOf(collect(new VideoSource({ url: `${base}/missing.mp4` })));
      expect(err.code).toBe('SEDNA_ERR_VIDEO_SOURCE');
      expect(err.message).toContain('404');
    } finally {
      server.close();
    }
  });

  it('a missing or undecodable file is SEDNA_ERR_VIDEO_SOURCE, a missing ffmpeg is MISSING_DEPENDENCY', async () => {
    expect((await rejectionOf(collect(new VideoSource({ url: '/nonexistent/video.mp4' })))).code).toBe(
      'SEDNA_ERR_VIDEO_SOURCE',
    );
    const junk = `${truth.cameras[0]!.file}.junk`;
    fs.writeFileSync(junk, 'this is not a video');
    expect((await rejectionOf(collect(new VideoSource({ url: junk })))).code).toBe('SEDNA_ERR_VIDEO_SOURCE');
    const missing = await rejectionOf(collect(new VideoSource({ url: junk, ffmpegPath: '/nonexistent/ffmpeg' })));
    expect(missing.code).toBe('SEDNA_ERR_MISSING_DEPENDENCY');
    expect(missing.message).toContain('apt-get install ffmpeg');
  });

  it.each(['rtmp', 'http'] as const)(
    'reads a live %s stream, reconnects when it stops, and gives up after maxReconnects',
    async (protocol) => {
      const port = await freePort();
      let server = serveStream(truth.cameras[0]!.file, protocol, port);
      const source = new VideoSource({
        url: server.url,
        kind: 'stream',
        // The first connections may come before ffmpeg listens: they count as reconnects too.
        maxReconnects: 8,
        reconnectBackoff: { baseDelayMs: 200, maxDelayMs: 800 },
        stallTimeoutMs: 3_000,
      });
      const frames: VideoFrame[] = [];
      let restarted = false;
      const failure = (async () => {
        for await (const frame of source) {
          frames.push(frame);
          if (frames.length === 10 && !restarted) {
            // The publisher dies mid-stream and comes back: the source reconnects by itself.
            restarted = true;
            await stopChild(server.child);
            server = serveStream(truth.cameras[0]!.file, protocol, port);
          }
          if (frames.length === 25) await stopChild(server.child); // gone for good
        }
      })();
      const err = await rejectionOf(failure);
      expect(err.code).toBe('SEDNA_ERR_VIDEO_SOURCE');
      expect([frames.length >= 25, err.message]).toEqual([true, expect.stringContaining('did not come back')]);
      expect(source.stats.reconnects).toBeGreaterThanOrEqual(1);
      expect(frames.map((f) => f.index)).toEqual(frames.map((_, i) => i)); // indexes keep counting
      await stopChild(server.child);
    },
    60_000,
  );
});

describe('optical-flow gate (Shi-Tomasi + pyramidal Lucas-Kanade, OpenCV WASM)', () => {
  let gate: LukasKanade;
  beforeAll(async () => {
    gate = await LukasKanade.create();
  }, 30_000);
  afterAll(() => gate.close());

  const frame = (camera: number, t: number) => ({ width: 320, height: 240, data: scene.renderFrame(camera, t) });

  it('sees no movement between frames of a still scene, and movement when people walk', () => {
    expect(gate.moved(frame(0, 3), frame(0, 12))).toBe(false);
    expect(gate.moved(frame(0, 20), frame(0, 21))).toBe(true);
    expect(gate.moved(frame(1, 20), frame(1, 21))).toBe(true);
    expect(gate.stats).toMatchObject({ comparisons: 3, moved: 2, errors: 0 });
  });

  it('on decoded video it skips the still stretches and keeps the moving frames', async () => {
    let previous: VideoFrame | undefined;
    const forwarded: number[] = [];
    for await (const f of new VideoSource({ url: truth.cameras[0]!.file })) {
      if (previous === undefined || gate.moved(previous.image, f.image)) forwarded.push(f.index);
      previous = f;
    }
    // Ground truth from the rendered frames: a frame moved when over 200 pixels changed (a person
    // walking); slivers at the frame border (a person leaving) are not worth a detection.
    const changed = (t: number): number => {
      const [a, b] = [scene.renderFrame(0, t - 1), scene.renderFrame(0, t)];
      let n = 0;
      for (let i = 0; i < a.length; i += 3) if (a[i] !== b[i] || a[i + 1] !== b[i + 1] || a[i + 2] !== b[i + 2]) n++;
      return n;
    };
    const frames = Array.from({ length: truth.frames - 1 }, (_, i) => i + 1);
    const still = frames.filter((t) => changed(t) === 0);
    const moving = frames.filter((t) => changed(t) > 200);
    expect(still.length).toBeGreaterThanOrEqual(29);
    expect(moving.length).toBeGreaterThanOrEqual(60);
    const skippedStill = still.filter((t) => !forwarded.includes(t)).length / still.length;
    const keptMoving = moving.filter((t) => forwarded.includes(t)).length / moving.length;
    expect(skippedStill).toBeGreaterThanOrEqual(0.9);
    expect(keptMoving).toBeGreaterThanOrEqual(0.95);
  }, 60_000);

  it('rejects a frame whose data does not match its size', () => {
    expect(() => gate.moved({ width: 10, height: 10, data: new Uint8Array(5) }, frame(0, 0))).toThrow(
      expect.objectContaining({ code: 'SEDNA_ERR_INVALID_ARGUMENT' }) as Error,
    );
  });
});
