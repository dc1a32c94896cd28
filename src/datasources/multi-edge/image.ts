/**
 * Images in multi-edge inference: raw RGB frames (what ffmpeg decodes and models read) and encoded
 * JPEG bytes (what travels in records). Encoding and decoding go through sharp (libvips), an
 * optional peer loaded on first use; cropping is plain typed-array work.
 */
import { SednaError, invalidArgument, messageOf, missingDependency } from '../../common/errors.js';
import type { BoxCoord } from './records.js';

/** A raw image: `height` rows of `width` pixels, `channels` bytes each (3 = RGB), row-major. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly channels: 3;
  readonly data: Uint8Array;
}

/**
 * The most pixels a received image may decode to (4096 × 4096, 48 MiB of RGB; 4K frames fit): a
 * few kilobytes of JPEG can declare gigapixels, and sharp's own limit (2^28) allows 768 MiB each.
 */
export const MAX_DECODED_PIXELS = 4096 * 4096;

type SharpFactory = (typeof import('sharp'))['default'];
let sharpModule: Promise<SharpFactory> | undefined;

async function loadSharp(): Promise<SharpFactory> {
  sharpModule ??= import('sharp').then(
    (m) => m.default,
    (err: unknown) => {
      sharpModule = undefined;
      throw missingDependency('sharp', 'JPEG encoding and decoding (multi-edge inference)', err);
    },
  );
  return sharpModule;
}

/** Checks that `image` is a consistent RGB image (dimensions match the data). */
export function checkRgbImage(image: RgbImage, what = 'image'): void {
  const { width, height, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0)
    throw new SednaError('SEDNA_ERR_IMAGE_DECODE', `${what} has invalid dimensions ${width}x${height}`);
  if (!(data instanceof Uint8Array) || data.byteLength !== width * height * 3)
    throw new SednaError(
      'SEDNA_ERR_IMAGE_DECODE',
      `${what} is not an RGB image: ${width}x${height}x3 needs ${width * height * 3} bytes, got ${data instanceof Uint8Array ? data.byteLength : typeof data}`,
    );
}

/**
 * Encodes an RGB image as JPEG (Sedna's example writes scenes at quality 90). Chroma is kept at
 * full resolution (4:4:4) by default: colour is what ReID features often rest on, and 4:2:0 smears
 * it across small objects' edges.
 */
export async function encodeJpeg(
  image: RgbImage,
  quality = 90,
  chromaSubsampling: '4:4:4' | '4:2:0' = '4:4:4',
): Promise<Uint8Array> {
  checkRgbImage(image);
  if (!Number.isInteger(quality) || quality < 1 || quality > 100)
    throw invalidArgument('quality', quality, 'an integer from 1 to 100');
  const sharp = await loadSharp();
  const out = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .jpeg({ quality, chromaSubsampling })
    .toBuffer();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * Decodes JPEG or PNG bytes into RGB; `SEDNA_ERR_IMAGE_DECODE` when they are not an image or
 * declare more than {@link MAX_DECODED_PIXELS} pixels.
 */
export async function decodeImage(bytes: Uint8Array, what = 'image'): Promise<RgbImage> {
  if (!(bytes instanceof Uint8Array) || bytes.byteLength === 0)
    throw new SednaError('SEDNA_ERR_IMAGE_DECODE', `${what} is empty`);
  const sharp = await loadSharp();
  try {
    const { data, info } = await sharp(bytes, { failOn: 'error', limitInputPixels: MAX_DECODED_PIXELS })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return {
      width: info.width,
      height: info.height,
      channels: 3,
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    };
  } catch (err) {
    throw new SednaError('SEDNA_ERR_IMAGE_DECODE', `${what} does not decode: ${messageOf(err)}`, {
      cause: err,
      details: { bytes: bytes.byteLength },
    });
  }
}

/**
 * Copies the pixels inside `box` (`[x1, y1, x2, y2]`, clamped to the image, rounded outwards).
 * An empty intersection is an error: a box outside the frame is a detector bug worth seeing.
 */
export function cropImage(image: RgbImage, box: BoxCoord): RgbImage {
  checkRgbImage(image);
  const x1 = Math.max(0, Math.floor(Math.min(box[0], box[2])));
  const y1 = Math.max(0, Math.floor(Math.min(box[1], box[3])));
  const x2 = Math.min(image.width, Math.ceil(Math.max(box[0], box[2])));
  const y2 = Math.min(image.height, Math.ceil(Math.max(box[1], box[3])));
  if (!(x2 > x1 && y2 > y1))
    throw invalidArgument('box', box, `a box that overlaps the ${image.width}x${image.height} image`);
  const width = x2 - x1;
  const height = y2 - y1;
  const data = new Uint8Array(width * height * 3);
  const rowBytes = width * 3;
  for (let y = 0; y < height; y++) {
    const from = ((y1 + y) * image.width + x1) * 3;
    data.set(image.data.subarray(from, from + rowBytes), y * rowBytes);
  }
  return { width, height, channels: 3, data };
}
