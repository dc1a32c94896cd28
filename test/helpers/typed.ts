/** A weight record's typed array over a fresh, aligned copy of `bytes` (for property tests). */
import type { WeightDtype, WeightRecord } from '../../src/backend/weights.js';

const ARRAY = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
} as const;

export const WIDTH: Readonly<Record<WeightDtype, number>> = { float32: 4, float64: 8, int32: 4, int64: 8, uint8: 1 };

export function typedFromBytes(dtype: WeightDtype, bytes: Uint8Array): WeightRecord['data'] {
  return new ARRAY[dtype](new Uint8Array(bytes).buffer);
}

/** `bytes` at byte `offset` of a larger Buffer filled with junk, as a socket's pool would hold them. */
export function placedInBuffer(bytes: Uint8Array, offset: number, junk = 0xa5): Buffer {
  const host = Buffer.alloc(offset + bytes.length + 13, junk);
  host.set(bytes, offset);
  return host.subarray(offset, offset + bytes.length);
}
