// A synthetic two-camera scene with known ground truth, for the multi-edge example and the tests.
//
// Three people (coloured shirt + trousers) in a street seen by two cameras side by side: camera 0
// sees world x in [0, W), camera 1 sees [W, 2W). Person 0001 (the searched target: red shirt,
// blue trousers) walks from camera 0 into camera 1; person 0002 walks the other way; person 0003
// stands in camera 0. Everyone stands still for the first frames and pauses once in the middle,
// so an optical-flow gate has static stretches to skip. Backgrounds are grey textures (no colour),
// so the people are the only saturated pixels.
//
// renderFrame() draws one RGB frame; writeSceneVideos() encodes both cameras with ffmpeg (H.264)
// and returns the ground truth: per camera and frame, each visible person's id and box.
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';

export const SCENE = Object.freeze({ width: 320, height: 240, fps: 10, frames: 100 });
const PERSON = { w: 24, h: 64 };
/** Frames in which nobody moves: the start and a pause. */
const STILL = (t) => t < 20 || (t >= 50 && t < 60);

export const PEOPLE = Object.freeze([
  // Colours of similar luminance, so every person offers corners of similar strength.
  { id: '0001', shirt: [240, 60, 60], trousers: [60, 90, 240], y: 60 },
  { id: '0002', shirt: [40, 170, 60], trousers: [200, 110, 20], y: 150 },
  { id: '0003', shirt: [20, 170, 190], trousers: [150, 50, 170], y: 170 },
]);
export const TARGET_ID = '0001';

/** Walking time up to frame t (frames in which people moved). */
function walked(t) {
  let n = 0;
  for (let i = 0; i < t; i++) if (!STILL(i + 1)) n++;
  return n;
}

/** World x of each person's left edge at frame t. */
export function worldX(personIndex, t) {
  const s = walked(t);
  const W = SCENE.width;
  if (personIndex === 0) return 30 + 6 * s;
  if (personIndex === 1) return 2 * W - 60 - 5 * s;
  return 150;
}

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const backgrounds = new Map();
/** A grey texture of 8×8 blocks and fine grain, fixed per camera (corners for the optical flow). */
function background(camera) {
  const hit = backgrounds.get(camera);
  if (hit !== undefined) return hit;
  const { width: W, height: H } = SCENE;
  const rand = mulberry32(1000 + camera);
  const blocks = Array.from({ length: (W / 8) * (H / 8) }, () => 100 + Math.floor(rand() * 40));
  const data = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const v = Math.min(255, blocks[(y >> 3) * (W / 8) + (x >> 3)] + Math.floor(rand() * 6));
      const i = (y * W + x) * 3;
      data[i] = v;
      data[i + 1] = v;
      data[i + 2] = v;
    }
  backgrounds.set(camera, data);
  return data;
}

/**
 * The people camera `camera` sees at frame t: `{ id, box: [x1, y1, x2, y2] (clipped), visible }`,
 * `visible` being the share of the person inside the frame (a person at the border is partly seen).
 */
export function visiblePeople(camera, t) {
  const W = SCENE.width;
  const out = [];
  PEOPLE.forEach((p, i) => {
    const x = worldX(i, t) - camera * W;
    const x1 = Math.max(0, x);
    const x2 = Math.min(W, x + PERSON.w);
    if (x2 > x1) out.push({ id: p.id, box: [x1, p.y, x2, p.y + PERSON.h], visible: (x2 - x1) / PERSON.w });
  });
  return out;
}

/**
 * Scores one ReID outcome against the ground truth: a matched box must overlap the target's box
 * (IoU ≥ 0.5); no match is right when the target is absent. A target less than half in the frame
 * may be found or missed (either is right).
 */
export function judgeMatch(truthFrame, targetId, matchedBox) {
  const target = truthFrame.find((p) => p.id === targetId);
  if (matchedBox === undefined) return target === undefined || target.visible < 0.5;
  return target !== undefined && iou(matchedBox, target.box) >= 0.5;
}

export function iou(a, b) {
  const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = w * h;
  const area = (r) => (r[2] - r[0]) * (r[3] - r[1]);
  return inter / (area(a) + area(b) - inter);
}

/** Draws a person: grey head, striped shirt, trousers. */
function drawPerson(data, person, x0) {
  const { width: W } = SCENE;
  for (let dy = 0; dy < PERSON.h; dy++) {
    const y = person.y + dy;
    for (let dx = 0; dx < PERSON.w; dx++) {
      const x = x0 + dx;
      if (x < 0 || x >= W) continue;
      let rgb;
      if (dy < 12) {
        if (dx < 6 || dx >= 18) continue; // head narrower than the body
        rgb = [190, 180, 172];
      } else {
        // Thin white stripes: texture for the corner detector, the same on everybody.
        rgb = dy % 6 < 2 ? [250, 250, 250] : dy < 38 ? person.shirt : person.trousers;
      }
      const i = (y * W + x) * 3;
      data[i] = rgb[0];
      data[i + 1] = rgb[1];
      data[i + 2] = rgb[2];
    }
  }
}

/** One RGB frame (`width × height × 3` bytes) of camera `camera` at frame t. */
export function renderFrame(camera, t) {
  const data = Uint8Array.from(background(camera));
  PEOPLE.forEach((p, i) => drawPerson(data, p, worldX(i, t) - camera * SCENE.width));
  return data;
}

/** A person alone on a plain grey background, `scale` times bigger: a query image. */
export function renderQueryImage(personIndex, scale = 2) {
  const w = PERSON.w + 16;
  const h = PERSON.h + 16;
  const small = new Uint8Array(w * h * 3).fill(128);
  const person = { ...PEOPLE[personIndex], y: 8 };
  // drawPerson writes into a frame of SCENE.width: draw through a temporary full-width canvas.
  const canvas = new Uint8Array(SCENE.width * (h + 8) * 3).fill(128);
  drawPerson(canvas, person, 8);
  for (let y = 0; y < h; y++) small.set(canvas.subarray(y * SCENE.width * 3, y * SCENE.width * 3 + w * 3), y * w * 3);
  const W2 = w * scale;
  const H2 = h * scale;
  const big = new Uint8Array(W2 * H2 * 3);
  for (let y = 0; y < H2; y++)
    for (let x = 0; x < W2; x++) {
      const from = (Math.floor(y / scale) * w + Math.floor(x / scale)) * 3;
      big.set(small.subarray(from, from + 3), (y * W2 + x) * 3);
    }
  return { width: W2, height: H2, data: big };
}

/** Encodes raw RGB frames into an H.264 file with ffmpeg. */
export function encodeVideo(file, frames, { width, height, fps }) {
  return new Promise((resolve, reject) => {
    const ffmpeg = spawn(
      'ffmpeg',
      [
        '-hide_banner',
        '-loglevel',
        'error',
        '-y',
        '-f',
        'rawvideo',
        '-pix_fmt',
        'rgb24',
        '-s',
        `${width}x${height}`,
        '-r',
        String(fps),
        '-i',
        'pipe:0',
        '-c:v',
        'libx264',
        '-preset',
        'veryfast',
        '-crf',
        '12',
        '-pix_fmt',
        'yuv444p',
        '-g',
        String(fps),
        file,
      ],
      { stdio: ['pipe', 'ignore', 'pipe'] },
    );
    let stderr = '';
    ffmpeg.stderr.on('data', (d) => (stderr += d));
    ffmpeg.once('error', (err) =>
      reject(new Error(`cannot run ffmpeg (${err.message}): install it with apt-get install ffmpeg`)),
    );
    ffmpeg.once('close', (code) =>
      code === 0 ? resolve(file) : reject(new Error(`ffmpeg exited with ${code}: ${stderr}`)),
    );
    ffmpeg.stdin.on('error', () => undefined);
    (async () => {
      for (const frame of frames) {
        if (!ffmpeg.stdin.write(frame)) await new Promise((r) => ffmpeg.stdin.once('drain', r));
      }
      ffmpeg.stdin.end();
    })().catch(reject);
  });
}

/**
 * Writes `camera-0.mp4`, `camera-1.mp4` and `ground-truth.json` into `dir`; returns the ground
 * truth `{ fps, frames, width, height, target, cameras: [{ file, frames: [[{id, box}]] }] }`.
 */
export async function writeSceneVideos(dir, frames = SCENE.frames) {
  await fs.mkdir(dir, { recursive: true });
  const cameras = [];
  for (const camera of [0, 1]) {
    const file = path.join(dir, `camera-${camera}.mp4`);
    const list = Array.from({ length: frames }, (_, t) => renderFrame(camera, t));
    await encodeVideo(file, list, SCENE);
    cameras.push({ file, frames: Array.from({ length: frames }, (_, t) => visiblePeople(camera, t)) });
  }
  const truth = { ...SCENE, frames, target: TARGET_ID, cameras };
  await fs.writeFile(path.join(dir, 'ground-truth.json'), JSON.stringify(truth));
  return truth;
}
