/**
 * The committed model fixtures (test/fixtures/models, built by `npm run fixtures`) and small
 * helpers the backend tests share.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { MODELS_DIR } from '../../scripts/fixtures/digits.js';
import type { WeightRecord } from '../../src/backend/weights.js';

export { loadDigits, scaleDigits, scaleDigitsBatch, MODELS_DIR } from '../../scripts/fixtures/digits.js';

export const EDGE_ONNX = path.join(MODELS_DIR, 'digits-edge.onnx');
export const CLOUD_ONNX = path.join(MODELS_DIR, 'digits-cloud.onnx');
export const MLP_TFJS = path.join(MODELS_DIR, 'digits-mlp-tfjs');

interface TensorSummary {
  name: string;
  dtype: string;
  shape: number[];
  sha256: string;
}

export interface FixtureManifest {
  models: {
    file: string;
    format: string;
    testAccuracy: number;
    sha256?: string;
    weights?: TensorSummary[];
    initializers?: TensorSummary[];
  }[];
  jointInference: { thresholds: { threshold: number; flagged: number; jointAccuracy: number }[] };
}

export function fixtureManifest(): FixtureManifest {
  return JSON.parse(fs.readFileSync(path.join(MODELS_DIR, 'manifest.json'), 'utf8')) as FixtureManifest;
}

export function manifestEntry(file: string): FixtureManifest['models'][number] {
  const entry = fixtureManifest().models.find((m) => m.file === file);
  if (entry === undefined) throw new Error(`manifest.json has no entry for ${file}`);
  return entry;
}

/** The exact bytes of a typed array (not its whole buffer). */
export function bytesOf(data: ArrayBufferView): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

export function sha256(data: ArrayBufferView): string {
  return createHash('sha256').update(bytesOf(data)).digest('hex');
}

/** Whether two weight lists are identical: names, dtypes, shapes and every byte. */
export function sameWeights(a: readonly WeightRecord[], b: readonly WeightRecord[]): boolean {
  return (
    a.length === b.length &&
    a.every((w, i) => {
      const v = b[i] as WeightRecord;
      return (
        w.dtype === v.dtype &&
        w.shape.join() === v.shape.join() &&
        Buffer.compare(bytesOf(w.data), bytesOf(v.data)) === 0
      );
    })
  );
}

/**
 * The TF.js fixture's weights read straight from model.json + weights.bin (no TF.js), as
 * float32 records in manifest order.
 */
export function readTfjsWeightsFile(dir = MLP_TFJS): WeightRecord<'float32'>[] {
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')) as {
    weightsManifest: { paths: string[]; weights: { name: string; shape: number[]; dtype: string }[] }[];
  };
  const bin = Buffer.concat(
    json.weightsManifest.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.join(dir, p)))),
  );
  let offset = 0;
  return json.weightsManifest
    .flatMap((g) => g.weights)
    .map((w) => {
      const count = w.shape.reduce((n, d) => n * d, 1);
      const data = new Float32Array(count);
      bytesOf(data).set(bin.subarray(offset, offset + count * 4));
      offset += count * 4;
      return { name: w.name, dtype: 'float32' as const, shape: w.shape, data };
    });
}

/** Files (recursively) under a folder, relative, sorted: to check nothing but the model is left. */
export function listFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}
