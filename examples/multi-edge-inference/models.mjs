// The example's two models, behind sedna-sdk's PluggableModel contract. Classical computer
// vision, no weights: the synthetic scene's people are its only saturated pixels.
//
// ColorBlobDetector (detection worker): a pixel is "person" when its colour is saturated
// (max - min channel > 60); 4×4 cells with any such pixel are joined into connected components;
// each component large enough is a box. The scene goes on as JPEG (quality 90), as in Sedna.
//
// ColorHistogramExtractor (feature-extraction worker): for each box, a colour histogram of its
// saturated pixels, upper and lower half (shirt, trousers) separately, 4×4×4 RGB bins each:
// 128 values, square-rooted and L2-normalised, so a dot product is a Hellinger-like similarity.
import { DetTrackResult, Target, cropImage, decodeImage, encodeJpeg } from 'sedna-sdk';

const SATURATION = 60;
const CELL = 4;
const MIN_CELLS = 6;

const saturated = (data, i) =>
  Math.max(data[i], data[i + 1], data[i + 2]) - Math.min(data[i], data[i + 1], data[i + 2]) > SATURATION;

/** Boxes `[x1, y1, x2, y2]` of the saturated blobs of an RGB image. */
export function detectBlobs(image) {
  const { width, height, data } = image;
  const gw = Math.ceil(width / CELL);
  const gh = Math.ceil(height / CELL);
  const grid = new Uint8Array(gw * gh);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      if (saturated(data, (y * width + x) * 3)) grid[((y / CELL) | 0) * gw + ((x / CELL) | 0)] = 1;
  const label = new Int32Array(gw * gh).fill(-1);
  const boxes = [];
  const stack = [];
  for (let start = 0; start < grid.length; start++) {
    if (grid[start] === 0 || label[start] >= 0) continue;
    let [x1, y1, x2, y2, cells] = [gw, gh, -1, -1, 0];
    label[start] = boxes.length;
    stack.push(start);
    while (stack.length > 0) {
      const c = stack.pop();
      const cx = c % gw;
      const cy = (c / gw) | 0;
      cells++;
      x1 = Math.min(x1, cx);
      y1 = Math.min(y1, cy);
      x2 = Math.max(x2, cx);
      y2 = Math.max(y2, cy);
      for (const n of [
        cx > 0 ? c - 1 : -1,
        cx < gw - 1 ? c + 1 : -1,
        cy > 0 ? c - gw : -1,
        cy < gh - 1 ? c + gw : -1,
      ]) {
        if (n >= 0 && grid[n] === 1 && label[n] < 0) {
          label[n] = boxes.length;
          stack.push(n);
        }
      }
    }
    if (cells >= MIN_CELLS)
      boxes.push({
        box: [x1 * CELL, y1 * CELL, Math.min(width, (x2 + 1) * CELL), Math.min(height, (y2 + 1) * CELL)],
        cells,
      });
    else boxes.push(null);
  }
  return boxes.filter((b) => b !== null).map((b) => b.box);
}

export class ColorBlobDetector {
  /** @param {{ camera?: number | string }} options */
  constructor(options = {}) {
    this.camera = options.camera ?? 0;
  }

  load() {}

  /** @param {import('sedna-sdk').VideoFrame[]} frames */
  async inference(frames) {
    const results = [];
    for (const frame of frames) {
      const boxes = detectBlobs(frame.image);
      if (boxes.length === 0) continue; // Sedna passes on only frames with detections
      results.push(
        new DetTrackResult({
          frameIndex: frame.index,
          camera: this.camera,
          detectionTime: frame.detectionTime,
          bboxCoord: boxes,
          confidence: boxes.map(() => 1),
          tracklets: boxes.map((_, i) => i),
          scene: await encodeJpeg(frame.image, 90),
        }),
      );
    }
    return results;
  }
}

const BINS = 4;
export const FEATURE_DIM = 2 * BINS * BINS * BINS;

/** The 128-value colour feature of an RGB image's saturated pixels (see the file comment). */
export function colorFeature(image) {
  const { width, height, data } = image;
  let top = height;
  let bottom = -1;
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      if (saturated(data, (y * width + x) * 3)) {
        top = Math.min(top, y);
        bottom = Math.max(bottom, y);
        break;
      }
  const feature = new Float32Array(FEATURE_DIM);
  if (bottom < 0) return feature;
  const middle = (top + bottom + 1) / 2;
  const shift = 8 - Math.log2(BINS);
  for (let y = top; y <= bottom; y++) {
    const half = y < middle ? 0 : BINS * BINS * BINS;
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      if (!saturated(data, i)) continue;
      feature[half + ((data[i] >> shift) * BINS + (data[i + 1] >> shift)) * BINS + (data[i + 2] >> shift)] += 1;
    }
  }
  let norm = 0;
  for (let k = 0; k < feature.length; k++) {
    feature[k] = Math.sqrt(feature[k]);
    norm += feature[k] * feature[k];
  }
  norm = Math.sqrt(norm);
  for (let k = 0; k < feature.length; k++) feature[k] /= norm;
  return feature;
}

export class ColorHistogramExtractor {
  load() {}

  /** Adds one feature per box, computed on the decoded scene. */
  async inference(records) {
    for (const record of records) {
      if (record.scene === undefined) continue;
      const scene = await decodeImage(record.scene, `scene of camera ${record.camera} frame ${record.frameIndex}`);
      record.features = record.bboxCoord.map((box) => colorFeature(cropImage(scene, box)));
    }
    return records;
  }

  /** The query images' features, one Target per user (Sedna's get_target_features). */
  async getTargetFeatures(records) {
    const targets = [];
    for (const record of records) {
      const features = [];
      for (const [i, bytes] of record.bbox.entries())
        features.push(colorFeature(await decodeImage(bytes, `query image ${i}`)));
      targets.push(new Target({ userid: record.userID, features }));
    }
    return targets;
  }
}
