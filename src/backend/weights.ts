/**
 * Model weights as typed arrays (ARCHITECTURE rule 6). Every backend's getWeights/setWeights,
 * the aggregation algorithms and the federated-learning transport use these records; JSON arrays
 * of numbers appear only at the edge of the Sedna-compatible transport.
 */
import { SednaError } from '../core/errors.js';

export type WeightDtype = 'float32' | 'float64' | 'int32' | 'int64' | 'uint8';

export interface WeightDataByDtype {
  float32: Float32Array;
  float64: Float64Array;
  int32: Int32Array;
  int64: BigInt64Array;
  uint8: Uint8Array;
}
export type WeightData = WeightDataByDtype[WeightDtype];

/** One named tensor of a model. `data.length` equals the product of `shape`. */
export interface WeightRecord<D extends WeightDtype = WeightDtype> {
  readonly name: string;
  readonly dtype: D;
  readonly shape: readonly number[];
  readonly data: WeightDataByDtype[D];
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

const ARRAY_OF_DTYPE: Readonly<Record<WeightDtype, { BYTES_PER_ELEMENT: number; name: string }>> = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
};

export function bytesPerElement(dtype: WeightDtype): number {
  return ARRAY_OF_DTYPE[dtype].BYTES_PER_ELEMENT;
}

/** Checks one record is self-consistent (dtype matches the array, length matches the shape). */
export function checkWeightRecord(record: WeightRecord, where = 'weights'): void {
  // Records arrive from peers and users: the dtype may be anything at run time.
  const expected = (ARRAY_OF_DTYPE as Partial<Record<string, { name: string }>>)[record.dtype];
  if (expected === undefined) {
    throw new SednaError(
      'SEDNA_ERR_WEIGHTS_MISMATCH',
      `${where}: tensor "${record.name}" has unknown dtype ${JSON.stringify(record.dtype)}`,
      {
        details: { name: record.name, dtype: record.dtype },
      },
    );
  }
  if (record.data.constructor.name !== expected.name) {
    throw new SednaError(
      'SEDNA_ERR_WEIGHTS_MISMATCH',
      `${where}: tensor "${record.name}" says dtype ${record.dtype} but holds a ${record.data.constructor.name}`,
      { details: { name: record.name, dtype: record.dtype } },
    );
  }
  if (!record.shape.every((d) => Number.isInteger(d) && d >= 0) || elementCount(record.shape) !== record.data.length) {
    throw new SednaError(
      'SEDNA_ERR_WEIGHTS_MISMATCH',
      `${where}: tensor "${record.name}" has shape [${record.shape.join(', ')}] but ${record.data.length} values`,
      { details: { name: record.name, shape: record.shape, length: record.data.length } },
    );
  }
}

/**
 * Checks that `actual` has the same tensors as `expected` (names, dtypes, shapes, order); throws
 * SEDNA_ERR_WEIGHTS_MISMATCH naming the first difference.
 */
export function checkSameLayout(
  expected: readonly WeightRecord[],
  actual: readonly WeightRecord[],
  where = 'weights',
): void {
  if (expected.length !== actual.length) {
    throw new SednaError(
      'SEDNA_ERR_WEIGHTS_MISMATCH',
      `${where}: expected ${expected.length} tensors, got ${actual.length}`,
      {
        details: { expected: expected.length, actual: actual.length },
      },
    );
  }
  expected.forEach((want, i) => {
    const got = actual[i] as WeightRecord;
    checkWeightRecord(got, where);
    const same =
      got.dtype === want.dtype &&
      got.shape.length === want.shape.length &&
      got.shape.every((d, j) => d === want.shape[j]);
    if (!same) {
      throw new SednaError(
        'SEDNA_ERR_WEIGHTS_MISMATCH',
        `${where}: tensor #${i} ("${got.name}") is ${got.dtype}[${got.shape.join(', ')}], expected ${want.dtype}[${want.shape.join(', ')}] like "${want.name}"`,
        {
          details: {
            index: i,
            name: got.name,
            expected: { dtype: want.dtype, shape: want.shape },
            actual: { dtype: got.dtype, shape: got.shape },
          },
        },
      );
    }
  });
}
