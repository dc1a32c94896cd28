/**
 * Video sources for multi-edge inference (Sedna's detection worker, spec §9.9): a local file, a
 * file downloaded over HTTP(S) (or from S3), or a live RTSP/RTMP/HTTP stream, decoded by ffmpeg
 * (Debian's package) into raw RGB frames at a target frame rate. Each frame comes with Sedna's
 * detector tuple: the image, the detection time (`%a, %d %B %Y %H:%M:%S.%f`) and its index.
 *
 * A stream that stops or stalls is reopened with exponential backoff and jitter (frame indexes
 * keep counting); a file that fails, a URL that 404s, or a stream that stays away past
 * `maxReconnects` ends the iteration with `SEDNA_ERR_VIDEO_SOURCE`. A missing ffmpeg is
 * `SEDNA_ERR_MISSING_DEPENDENCY`.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { SednaError, invalidArgument, messageOf } from '../common/errors.js';
import { backoffDelay, type RetryPolicy } from '../common/http-client.js';
import { getLogger } from '../common/logger.js';
import { FileOps } from './file-ops.js';
import type { RgbImage } from './multi-edge/image.js';
import { formatDetectionTime } from './multi-edge/records.js';

/** One decoded frame: Sedna's `(frame, detection_time, frame_index)` tuple. */
export interface VideoFrame {
  readonly image: RgbImage;
  /** When the frame was read, in Sedna's format. */
  readonly detectionTime: string;
  readonly index: number;
  /** When the frame was read, epoch milliseconds (for latency measurements). */
  readonly capturedAt: number;
}

export type VideoSourceKind = 'file' | 'download' | 'stream';

export interface VideoSourceOptions {
  /** A path, `file://`, `http(s)://`, `s3://`, `rtsp://`, `rtmp://` URL. */
  url: string;
  /** How to read it; by default streams for rtsp/rtmp/udp/srt/tcp, download for http(s)/s3, else file. */
  kind?: VideoSourceKind;
  /** Frames per second to deliver (ffmpeg's fps filter); default: the video's own rate. */
  fps?: number;
  /** Scale frames to this size; default: the video's size. */
  width?: number;
  height?: number;
  /** The ffmpeg executable (default `ffmpeg` on PATH). */
  ffmpegPath?: string;
  /** Streams: reopen attempts after a stop before giving up (default 10; 0 = never reopen). */
  maxReconnects?: number;
  /** Streams: backoff between reopen attempts (default 250 ms doubling up to 5 s, full jitter). */
  reconnectBackoff?: Partial<Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'>>;
  /** Streams: no byte for this long counts as a stop (default 10 s). */
  stallTimeoutMs?: number;
  /** Streams: the first frame must come within this (connect + probe; default 30 s). */
  openTimeoutMs?: number;
  /** Downloads go through this FileOps (default: a new one, closed with the source). */
  fileOps?: FileOps;
  signal?: AbortSignal;
  random?: () => number;
}

export interface VideoSourceStats {
  readonly frames: number;
  /** Times a stream was reopened. */
  readonly reconnects: number;
  /** Bytes of a partial frame dropped when a stream broke mid-frame. */
  readonly droppedBytes: number;
}

const STREAM_SCHEMES = /^(rtsp|rtsps|rtmp|rtmps|udp|srt|tcp):\/\//i;
const DOWNLOAD_SCHEMES = /^(https?|s3):\/\//i;

/** ffmpeg prints the output stream before the first frame: `Video: rawvideo (...), rgb24(...), 640x480`. */
const OUTPUT_SIZE = /Video: rawvideo.*?, (\d{1,5})x(\d{1,5})/;

export function videoSourceKind(url: string): VideoSourceKind {
  if (STREAM_SCHEMES.test(url)) return 'stream';
  if (DOWNLOAD_SCHEMES.test(url)) return 'download';
  return 'file';
}

/**
 * A video source: iterate it (`for await (const frame of source)`) to get frames; `close()` stops
 * ffmpeg. Frames are delivered as they are decoded, with backpressure: ffmpeg waits while the
 * consumer is busy (file) or the stream's own buffer absorbs it (live).
 */
export class VideoSource implements AsyncIterable<VideoFrame> {
  readonly kind: VideoSourceKind;
  private readonly options: VideoSourceOptions;
  private readonly log = getLogger('video-source');
  private child: ChildProcessByStdio<null, Readable, Readable> | undefined;
  private closed = false;
  private counters = { frames: 0, reconnects: 0, droppedBytes: 0 };
  private iterating = false;

  constructor(options: VideoSourceOptions) {
    if (typeof options.url !== 'string' || options.url.trim() === '')
      throw invalidArgument('url', options.url, 'a video path or URL');
    for (const key of ['fps', 'width', 'height'] as const) {
      const v = options[key];
      if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw invalidArgument(key, v, 'a positive number');
    }
    if ((options.width === undefined) !== (options.height === undefined))
      throw invalidArgument('width/height', [options.width, options.height], 'both or neither');
    this.options = options;
    this.kind = options.kind ?? videoSourceKind(options.url);
  }

  get stats(): VideoSourceStats {
    return { ...this.counters };
  }

  /** Stops reading: ffmpeg is killed and the iteration ends. */
  close(): void {
    this.closed = true;
    this.child?.kill('SIGKILL');
  }

  /** Closed, or aborted by the caller's signal (read through a method: both change while we await). */
  private isStopped(): boolean {
    return this.closed || this.options.signal?.aborted === true;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<VideoFrame> {
    if (this.iterating) throw invalidArgument('VideoSource', this.options.url, 'a source iterated once at a time');
    this.iterating = true;
    try {
      if (this.kind === 'stream') {
        yield* this.stream();
        return;
      }
      const file =
        this.kind === 'download'
          ? await this.download()
          : { input: this.options.url.replace(/^file:\/\//, ''), cleanup: () => Promise.resolve() };
      try {
        yield* this.decode(file.input, { live: false });
      } finally {
        await file.cleanup();
      }
    } finally {
      this.iterating = false;
      this.close();
    }
  }

  private async download(): Promise<{ input: string; cleanup: () => Promise<void> }> {
    const fileOps = this.options.fileOps ?? new FileOps();
    try {
      const local = await fileOps.download(this.options.url);
      return { input: local, cleanup: () => fs.rm(path.dirname(local), { recursive: true, force: true }) };
    } catch (err) {
      throw new SednaError(
        'SEDNA_ERR_VIDEO_SOURCE',
        `cannot download the video ${this.options.url}: ${messageOf(err)}`,
        {
          cause: err,
          details: { url: this.options.url },
        },
      );
    } finally {
      if (this.options.fileOps === undefined) await fileOps.close();
    }
  }

  private async *stream(): AsyncGenerator<VideoFrame> {
    const maxReconnects = this.options.maxReconnects ?? 10;
    const policy: RetryPolicy = {
      maxAttempts: maxReconnects + 1,
      baseDelayMs: this.options.reconnectBackoff?.baseDelayMs ?? 250,
      maxDelayMs: this.options.reconnectBackoff?.maxDelayMs ?? 5_000,
    };
    let failures = 0;
    for (;;) {
      let lastError: unknown;
      const before = this.counters.frames;
      try {
        yield* this.decode(this.options.url, { live: true });
      } catch (err) {
        if (err instanceof SednaError && err.code === 'SEDNA_ERR_MISSING_DEPENDENCY') throw err;
        lastError = err;
      }
      if (this.isStopped()) return;
      // A run that delivered frames resets the backoff: the stream was healthy until it stopped.
      failures = this.counters.frames > before ? 1 : failures + 1;
      if (failures > maxReconnects) {
        throw new SednaError(
          'SEDNA_ERR_VIDEO_SOURCE',
          `the stream ${this.options.url} stopped and did not come back after ${maxReconnects} reconnects${lastError === undefined ? '' : `: ${messageOf(lastError)}`}`,
          { cause: lastError, details: { url: this.options.url, reconnects: this.counters.reconnects } },
        );
      }
      const wait = backoffDelay(failures - 1, policy, this.options.random);
      this.log.warn(
        { url: this.options.url, waitMs: wait, err: lastError === undefined ? undefined : messageOf(lastError) },
        'video stream stopped; reconnecting',
      );
      // An abort ends the wait early; the loop then sees isStopped().
      await delay(wait, undefined, this.options.signal === undefined ? {} : { signal: this.options.signal }).catch(
        () => undefined,
      );
      if (this.isStopped()) return;
      this.counters.reconnects++;
    }
  }

  /** Runs ffmpeg once over `input` and yields its frames; throws when ffmpeg fails. */
  private async *decode(input: string, mode: { live: boolean }): AsyncGenerator<VideoFrame> {
    const args = ['-hide_banner', '-nostdin', '-loglevel', 'info'];
    if (/^rtsps?:\/\//i.test(input)) args.push('-rtsp_transport', 'tcp');
    args.push('-i', input, '-an', '-sn', '-dn');
    const filters: string[] = [];
    if (this.options.fps !== undefined) filters.push(`fps=${this.options.fps}`);
    if (this.options.width !== undefined && this.options.height !== undefined)
      filters.push(`scale=${this.options.width}:${this.options.height}`);
    if (filters.length > 0) args.push('-vf', filters.join(','));
    args.push('-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1');

    const child = spawnFfmpeg(this.options.ffmpegPath ?? 'ffmpeg', args);
    this.child = child.process;
    const stallMs = this.options.stallTimeoutMs ?? 10_000;
    const watch = { stalled: false };
    let watchdog: NodeJS.Timeout | undefined;
    // Probing a stream takes seconds before the first byte: the first deadline is the open one.
    const arm = (ms: number): void => {
      if (!mode.live) return;
      clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        watch.stalled = true;
        child.process.kill('SIGKILL');
      }, ms);
    };
    const onAbort = (): void => {
      child.process.kill('SIGKILL');
    };
    this.options.signal?.addEventListener('abort', onAbort, { once: true });
    if (this.closed) child.process.kill('SIGKILL');
    arm(this.options.openTimeoutMs ?? 30_000);
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    try {
      let size: { width: number; height: number } | undefined;
      let frameBytes = 0;
      for await (const chunk of child.process.stdout as AsyncIterable<Buffer>) {
        arm(stallMs);
        if (size === undefined) {
          size = await child.outputSize;
          frameBytes = size.width * size.height * 3;
        }
        pending.push(chunk);
        pendingBytes += chunk.length;
        while (pendingBytes >= frameBytes) {
          const frame = new Uint8Array(frameBytes);
          let filled = 0;
          while (filled < frameBytes) {
            const head = pending[0] as Buffer;
            const take = Math.min(head.length, frameBytes - filled);
            frame.set(head.subarray(0, take), filled);
            filled += take;
            if (take === head.length) pending.shift();
            else pending[0] = head.subarray(take);
          }
          pendingBytes -= frameBytes;
          const now = Date.now();
          const index = this.counters.frames++;
          yield {
            image: { width: size.width, height: size.height, channels: 3, data: frame },
            detectionTime: formatDetectionTime(new Date(now)),
            index,
            capturedAt: now,
          };
          if (this.closed) return;
        }
      }
      const exit = await child.exited;
      if (this.isStopped()) return;
      if (pendingBytes > 0) {
        this.counters.droppedBytes += pendingBytes;
        pending = [];
      }
      if (watch.stalled) throw videoError(input, `no data for ${stallMs} ms`, child.stderrTail());
      if (exit.code !== 0 || mode.live) {
        // A live stream that ends cleanly has still stopped: the caller decides about reconnecting.
        throw videoError(
          input,
          exit.code === 0 ? 'the stream ended' : `ffmpeg exited with ${exit.code ?? exit.signal ?? '?'}`,
          child.stderrTail(),
        );
      }
    } finally {
      clearTimeout(watchdog);
      this.options.signal?.removeEventListener('abort', onAbort);
      child.process.kill('SIGKILL');
    }
  }
}

function videoError(input: string, problem: string, stderr: string): SednaError {
  const tail = stderr.trim().split('\n').slice(-3).join(' | ');
  return new SednaError(
    'SEDNA_ERR_VIDEO_SOURCE',
    `video ${input}: ${problem}${tail === '' ? '' : ` (ffmpeg: ${tail})`}`,
    {
      details: { url: input },
    },
  );
}

interface FfmpegRun {
  process: ChildProcessByStdio<null, Readable, Readable>;
  /** Resolves with the output frame size once ffmpeg printed it. */
  outputSize: Promise<{ width: number; height: number }>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderrTail(): string;
}

const STDERR_KEEP = 8 * 1024;

function spawnFfmpeg(command: string, args: string[]): FfmpegRun {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let sawOutput = false;
  let resolveSize: (size: { width: number; height: number }) => void = () => undefined;
  let rejectSize: (err: unknown) => void = () => undefined;
  const outputSize = new Promise<{ width: number; height: number }>((resolve, reject) => {
    resolveSize = resolve;
    rejectSize = reject;
  });
  outputSize.catch(() => undefined); // observed by decode() only when frames arrive
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    stderr = (stderr + text).slice(-STDERR_KEEP);
    if (text.includes('Output #0')) sawOutput = true;
    if (sawOutput) {
      const m = OUTPUT_SIZE.exec(stderr.slice(stderr.lastIndexOf('Output #0')));
      if (m !== null) resolveSize({ width: Number(m[1]), height: Number(m[2]) });
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      const failure =
        err.code === 'ENOENT'
          ? new SednaError(
              'SEDNA_ERR_MISSING_DEPENDENCY',
              `video decoding needs ffmpeg, which was not found (${command}); install it with: apt-get install ffmpeg`,
              { cause: err, details: { package: 'ffmpeg', feature: 'video sources' } },
            )
          : err;
      rejectSize(failure);
      reject(failure);
    });
    child.once('close', (code, signal) => {
      rejectSize(new Error('ffmpeg printed no output stream'));
      resolve({ code, signal });
    });
  });
  // stdout ends (and the for-await loop with it) before 'close'; a spawn error must surface there.
  child.stdout.once('end', () => undefined);
  exited.catch(() => undefined);
  return {
    process: child,
    outputSize,
    exited,
    stderrTail: () => stderr,
  };
}
