/**
 * Optical-flow frame gating (Sedna's `LukasKanade`, spec §3.10): Shi-Tomasi corners on the
 * reference frame, tracked into the current frame with pyramidal Lucas-Kanade; the frame shows
 * movement when a tracked corner lands on another pixel (Sedna: `round(new) != round(old)`).
 *
 * The computer vision is OpenCV's own (its JS/WASM build, the optional peer
 * `@techstark/opencv-js`, loaded on first use), with Sedna's parameters: maxCorners 100,
 * qualityLevel 0.3, minDistance 7, blockSize 7; window 15×15, 2 pyramid levels, stop after 10
 * iterations or 0.03 px.
 *
 * Where Sedna returns "no movement" on any error (so the frame is dropped), we count the error and
 * report movement: a frame is never lost because the gate failed.
 */
import { createRequire } from 'node:module';
import { invalidArgument, messageOf, missingDependency } from '../../common/errors.js';

/** A raw RGB frame (3 bytes per pixel, row-major). */
export interface GateFrame {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/** Decides whether `current` moved against `reference`. */
export interface MotionGate {
  moved(reference: GateFrame, current: GateFrame): boolean;
  close?(): void;
}

export interface LukasKanadeParams {
  maxCorners?: number;
  qualityLevel?: number;
  minDistance?: number;
  blockSize?: number;
  winSize?: number;
  maxLevel?: number;
  maxIterations?: number;
  epsilon?: number;
  /** Tracked corners that must change pixel for "movement" (Sedna: 1). */
  minMovingPoints?: number;
}

export const LUKAS_KANADE_DEFAULTS = Object.freeze({
  maxCorners: 100,
  qualityLevel: 0.3,
  minDistance: 7,
  blockSize: 7,
  winSize: 15,
  maxLevel: 2,
  maxIterations: 10,
  epsilon: 0.03,
  minMovingPoints: 1,
});

// opencv.js ships no usable types: the module is `any`, its matrices get the little we use.
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-assignment */
type Cv = any;
interface Mat {
  readonly rows: number;
  readonly data: Uint8Array;
  readonly data32F: Float32Array;
  delete(): void;
}

let opencv: Promise<{ cv: Cv }> | undefined;

/**
 * Loads OpenCV's WASM build once. The module object is a thenable that never settles, so it must
 * never be awaited or returned from a promise callback: we wrap it in `{ cv }`.
 */
function loadOpenCv(): Promise<{ cv: Cv }> {
  opencv ??= new Promise<{ cv: Cv }>((resolve, reject) => {
    let cv: Cv;
    try {
      cv = createRequire(import.meta.url)('@techstark/opencv-js');
    } catch (err) {
      opencv = undefined;
      reject(missingDependency('@techstark/opencv-js', 'optical-flow gating (LukasKanade)', err));
      return;
    }
    if (typeof cv.Mat === 'function') {
      resolve({ cv });
      return;
    }
    cv.onRuntimeInitialized = () => {
      resolve({ cv });
    };
  });
  return opencv;
}

export interface LukasKanadeStats {
  readonly comparisons: number;
  readonly moved: number;
  /** Comparisons that failed inside OpenCV (counted as movement). */
  readonly errors: number;
  /** Reference frames without a trackable corner (counted as movement). */
  readonly noCorners: number;
}

export class LukasKanade implements MotionGate {
  private readonly params: Required<LukasKanadeParams>;
  private stats_ = { comparisons: 0, moved: 0, errors: 0, noCorners: 0 };
  /** The reference frame's gray image and corners, kept while the reference stays the same. */
  private cache: { frame: GateFrame; gray: Mat; corners: Mat } | undefined;
  /** The last current frame's gray image: the next call's reference when frames are consecutive. */
  private lastCurrent: { frame: GateFrame; gray: Mat } | undefined;
  private closed = false;
  /** The last OpenCV failure (for logs). */
  lastError = '';

  private constructor(
    private readonly cv: Cv,
    params: LukasKanadeParams,
  ) {
    this.params = { ...LUKAS_KANADE_DEFAULTS, ...params };
    for (const [key, value] of Object.entries(this.params)) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
        throw invalidArgument(`LukasKanade.${key}`, value, 'a positive number');
    }
  }

  /** Loads OpenCV (about a second the first time) and returns a gate. */
  static async create(params: LukasKanadeParams = {}): Promise<LukasKanade> {
    const { cv } = await loadOpenCv();
    return new LukasKanade(cv, params);
  }

  get stats(): LukasKanadeStats {
    return { ...this.stats_ };
  }

  moved(reference: GateFrame, current: GateFrame): boolean {
    if (this.closed) throw invalidArgument('LukasKanade', 'closed', 'an open gate');
    checkFrame(reference, 'reference');
    checkFrame(current, 'current');
    if (reference.width !== current.width || reference.height !== current.height) return this.count(true);
    const { cv } = this;
    const mats: Mat[] = [];
    const mat = (): Mat => {
      const m = new cv.Mat() as Mat;
      mats.push(m);
      return m;
    };
    try {
      const ref = this.reference(reference);
      const pointCount = ref.corners.rows;
      if (pointCount === 0) {
        this.stats_.noCorners++;
        return this.count(true);
      }
      const gray = this.toGray(current);
      this.keepCurrent(current, gray);
      const next = mat();
      const status = mat();
      const error = mat();
      const { winSize, maxLevel, maxIterations, epsilon } = this.params;
      const criteria = new cv.TermCriteria(cv.TERM_CRITERIA_EPS | cv.TERM_CRITERIA_COUNT, maxIterations, epsilon);
      cv.calcOpticalFlowPyrLK(
        ref.gray,
        gray,
        ref.corners,
        next,
        status,
        error,
        new cv.Size(winSize, winSize),
        maxLevel,
        criteria,
      );
      const old = ref.corners.data32F;
      const now = next.data32F;
      const ok = status.data;
      let moving = 0;
      for (let i = 0; i < pointCount; i++) {
        if (ok[i] !== 1) continue;
        const ox = old[2 * i] as number;
        const oy = old[2 * i + 1] as number;
        const nx = now[2 * i] as number;
        const ny = now[2 * i + 1] as number;
        if (Math.round(nx) !== Math.round(ox) || Math.round(ny) !== Math.round(oy)) moving++;
      }
      return this.count(moving >= this.params.minMovingPoints);
    } catch (err) {
      this.stats_.errors++;
      this.lastError = messageOf(err);
      return this.count(true);
    } finally {
      for (const m of mats) m.delete();
    }
  }

  /** Releases OpenCV memory held for the reference frame. */
  close(): void {
    this.dropCache();
    this.lastCurrent?.gray.delete();
    this.lastCurrent = undefined;
    this.closed = true;
  }

  /** Keeps the current frame's gray image (the previous one is released unless it is the reference). */
  private keepCurrent(frame: GateFrame, gray: Mat): void {
    const previous = this.lastCurrent;
    if (previous !== undefined && previous.gray !== this.cache?.gray) previous.gray.delete();
    this.lastCurrent = { frame, gray };
  }

  private count(moved: boolean): boolean {
    this.stats_.comparisons++;
    if (moved) this.stats_.moved++;
    return moved;
  }

  private reference(frame: GateFrame): { gray: Mat; corners: Mat } {
    if (this.cache?.frame === frame) return this.cache;
    this.dropCache();
    const { cv } = this;
    // Consecutive frames: the last current frame is this reference, already in gray.
    const reuse = this.lastCurrent?.frame === frame ? this.lastCurrent : undefined;
    const gray = reuse?.gray ?? this.toGray(frame);
    const corners = new cv.Mat();
    const mask = new cv.Mat();
    try {
      const { maxCorners, qualityLevel, minDistance, blockSize } = this.params;
      cv.goodFeaturesToTrack(gray, corners, maxCorners, qualityLevel, minDistance, mask, blockSize);
    } catch (err) {
      if (reuse === undefined) gray.delete();
      corners.delete();
      throw err;
    } finally {
      mask.delete();
    }
    this.cache = { frame, gray, corners };
    return this.cache;
  }

  private dropCache(): void {
    if (this.cache === undefined) return;
    if (this.cache.gray !== this.lastCurrent?.gray) this.cache.gray.delete();
    this.cache.corners.delete();
    this.cache = undefined;
  }

  private toGray(frame: GateFrame): Mat {
    const { cv } = this;
    const rgb = new cv.Mat(frame.height, frame.width, cv.CV_8UC3);
    try {
      rgb.data.set(frame.data);
      const gray = new cv.Mat() as Mat;
      cv.cvtColor(rgb, gray, cv.COLOR_RGB2GRAY);
      return gray;
    } finally {
      rgb.delete();
    }
  }
}
/* eslint-enable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-assignment */

function checkFrame(frame: GateFrame, what: string): void {
  if (
    !Number.isInteger(frame.width) ||
    !Number.isInteger(frame.height) ||
    frame.width <= 0 ||
    frame.height <= 0 ||
    !(frame.data instanceof Uint8Array) ||
    frame.data.byteLength !== frame.width * frame.height * 3
  )
    throw invalidArgument(
      `${what} frame`,
      { width: frame.width, height: frame.height },
      'an RGB frame whose data holds width × height × 3 bytes',
    );
}
