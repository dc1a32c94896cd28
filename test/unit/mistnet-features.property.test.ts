/**
 * Property tests for what a MistNet edge uploads: the quantizer (random ranges, widths and values,
 * out-of-range ones included) and the feature records through the binary weights frame, decoded
 * from every byte offset inside a larger Buffer as a socket hands it over; and hostile records,
 * which must end in a coded error, never another exception or an unusable batch.
 */
import fc from 'fast-check';
import {
  decodeWeightsFrame,
  encodeWeightsFrame,
  type WeightDtype,
  type WeightRecord,
} from '../../src/backend/weights.js';
import {
  FEATURES_RECORD,
  LABELS_RECORD,
  QUANTIZATION_RECORD,
  decodeFeatureBatch,
  dequantize,
  encodeFeatureBatch,
  quantizationStep,
  quantize,
  type FeatureBatch,
} from '../../src/algorithms/split-learning/index.js';
import { SednaError } from '../../src/common/errors.js';
import { WIDTH, placedInBuffer as placed, typedFromBytes } from '../helpers/typed.js';

const rangeArb = fc
  .tuple(fc.double({ min: -1e3, max: 1e3, noNaN: true }), fc.double({ min: 1e-3, max: 1e3, noNaN: true }))
  .map(([min, width]) => ({ min, max: min + width }));

describe('the quantizer (property)', () => {
  test('lands within half a step of the clamped value, and its own levels round-trip exactly', () => {
    fc.assert(
      fc.property(
        rangeArb,
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.float({ noNaN: true }), { maxLength: 50 }),
        (range, bits, raw) => {
          const values = Float32Array.from(raw);
          const codes = quantize(values, range, bits);
          const back = dequantize(codes, range, bits);
          const step = quantizationStep(range, bits);
          values.forEach((v, i) => {
            const clamped = Math.min(range.max, Math.max(range.min, v));
            // Half a step, plus float32 rounding of the stored level.
            const slack = step / 2 + 4 * Math.abs(clamped) * 2 ** -24 + 1e-9;
            expect(Math.abs(back[i]! - clamped)).toBeLessThanOrEqual(slack);
            expect(codes[i]).toBeLessThanOrEqual(2 ** bits - 1);
          });
          // Levels closer together than float32 can tell apart (a range narrow for its magnitude)
          // collapse when dequantized into float32 features; elsewhere they round-trip exactly.
          const resolution = Math.max(Math.abs(range.min), Math.abs(range.max)) * 2 ** -23;
          if (step >= 8 * resolution) {
            const levels = Uint8Array.from({ length: 2 ** bits }, (_, c) => c);
            expect(Array.from(quantize(dequantize(levels, range, bits), range, bits))).toEqual(Array.from(levels));
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  test('refuses NaN with a coded error instead of a silent level', () => {
    expect(() => quantize(Float32Array.of(0.5, NaN), { min: 0, max: 1 }, 8)).toThrow(
      expect.objectContaining({ code: 'SEDNA_ERR_INVALID_ARGUMENT' }) as Error,
    );
  });
});

const batchArb: fc.Arbitrary<FeatureBatch> = fc
  .record({
    count: fc.integer({ min: 1, max: 12 }),
    featureShape: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }),
    bits: fc.integer({ min: 0, max: 8 }),
    labelWidth: fc.constantFrom(0, 1, 3),
    range: rangeArb,
  })
  .chain(({ count, featureShape, bits, labelWidth, range }) => {
    const size = count * featureShape.reduce((a, d) => a * d, 1);
    const features =
      bits === 0
        ? fc
            .array(fc.float({ noNaN: true, noDefaultInfinity: true }), { minLength: size, maxLength: size })
            .map((v) => Float32Array.from(v))
        : fc.uint8Array({ min: 0, max: 2 ** bits - 1, minLength: size, maxLength: size });
    const labels =
      labelWidth === 0
        ? fc
            .array(fc.integer({ min: 0, max: 1000 }), { minLength: count, maxLength: count })
            .map((v) => Int32Array.from(v))
        : fc
            .array(fc.float({ noNaN: true, noDefaultInfinity: true }), {
              minLength: count * labelWidth,
              maxLength: count * labelWidth,
            })
            .map((v) => Float32Array.from(v));
    return fc.tuple(features, labels).map(([f, l]): FeatureBatch => ({
      count,
      featureShape,
      features: f,
      quantization: { ...range, bits },
      labels: l,
      labelWidth,
    }));
  });

describe('feature records (property)', () => {
  test('round-trip through the weights frame from every byte offset of a larger Buffer', () => {
    fc.assert(
      fc.property(batchArb, (batch) => {
        const frame = encodeWeightsFrame(encodeFeatureBatch(batch));
        for (let offset = 0; offset < 9; offset++) {
          const decoded = decodeFeatureBatch(
            decodeWeightsFrame(placed(frame, offset)).weights,
            'p',
            batch.featureShape,
          );
          expect(decoded.count).toBe(batch.count);
          expect(decoded.featureShape).toEqual(batch.featureShape);
          expect(decoded.quantization).toEqual(batch.quantization);
          expect(decoded.labelWidth).toBe(batch.labelWidth);
          expect(
            Buffer.from(decoded.features.buffer, decoded.features.byteOffset, decoded.features.byteLength),
          ).toEqual(Buffer.from(batch.features.buffer, batch.features.byteOffset, batch.features.byteLength));
          expect(Array.from(decoded.labels)).toEqual(Array.from(batch.labels));
        }
      }),
      { numRuns: 120 },
    );
  });

  const DTYPES = Object.keys(WIDTH) as WeightDtype[];
  const hostileRecord = (name: string): fc.Arbitrary<WeightRecord> =>
    fc
      .record({
        name: fc.constantFrom(name, FEATURES_RECORD, LABELS_RECORD, QUANTIZATION_RECORD, 'x'),
        dtype: fc.constantFrom(...DTYPES),
        shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }),
      })
      .chain(({ name: n, dtype, shape }) => {
        const bytes = shape.reduce((a, d) => a * d, 1) * WIDTH[dtype];
        return fc
          .uint8Array({ minLength: bytes, maxLength: bytes })
          .map((b): WeightRecord => ({ name: n, dtype, shape, data: typedFromBytes(dtype, b) }));
      });

  test('hostile records: a well-formed batch or a coded error, nothing else', () => {
    fc.assert(
      fc.property(
        fc.tuple(hostileRecord(FEATURES_RECORD), hostileRecord(LABELS_RECORD), hostileRecord(QUANTIZATION_RECORD)),
        fc.option(fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 2 }), { nil: undefined }),
        (records, expected) => usableOrCoded(() => decodeFeatureBatch(records, 'hostile', expected)),
      ),
      { numRuns: 400 },
    );
  });

  // Random records almost never get past the first check; one change to a valid upload reaches
  // every later one (ranges, bits, codes, labels, counts).
  const QUANTIZATION_VALUES = [NaN, Infinity, -Infinity, -1, 0, 0.5, 8, 9, 1e300, -0];
  const mutationArb = fc.oneof(
    fc.record({ kind: fc.constant('byte' as const), record: fc.nat(2), at: fc.nat(), value: fc.nat(255) }),
    fc.record({
      kind: fc.constant('quantization' as const),
      at: fc.nat(2),
      value: fc.constantFrom(...QUANTIZATION_VALUES),
    }),
    fc.record({
      kind: fc.constant('shape' as const),
      record: fc.nat(2),
      at: fc.nat(),
      value: fc.integer({ min: 0, max: 5 }),
    }),
    fc.record({ kind: fc.constant('drop' as const), record: fc.nat(2) }),
    fc.record({ kind: fc.constant('duplicate' as const), record: fc.nat(2) }),
    fc.record({
      kind: fc.constant('rename' as const),
      record: fc.nat(2),
      value: fc.constantFrom(FEATURES_RECORD, LABELS_RECORD, QUANTIZATION_RECORD, 'x'),
    }),
  );
  type Mutation = typeof mutationArb extends fc.Arbitrary<infer M> ? M : never;

  function mutate(records: WeightRecord[], m: Mutation): WeightRecord[] {
    const out = records.map((r) => ({ ...r, data: typedFromBytes(r.dtype, bytesOf(r.data)) }));
    const target = 'record' in m ? (out[m.record] as WeightRecord) : (out[2] as WeightRecord);
    switch (m.kind) {
      case 'byte': {
        const bytes = new Uint8Array(target.data.buffer, target.data.byteOffset, target.data.byteLength);
        if (bytes.length > 0) bytes[m.at % bytes.length] = m.value;
        return out;
      }
      case 'quantization':
        (target.data as Float64Array)[m.at] = m.value;
        return out;
      case 'shape': {
        const shape = [...target.shape];
        if (shape.length > 0) shape[m.at % shape.length] = m.value;
        out[m.record] = { ...target, shape };
        return out;
      }
      case 'drop':
        return out.filter((_, i) => i !== m.record);
      case 'duplicate':
        return [...out, target];
      case 'rename':
        out[m.record] = { ...target, name: m.value };
        return out;
    }
  }

  test('one change to a valid upload, decoded from an odd offset: a well-formed batch or a coded error', () => {
    fc.assert(
      fc.property(batchArb, mutationArb, fc.integer({ min: 1, max: 7 }), (batch, m, offset) => {
        const records = mutate(encodeFeatureBatch(batch), m);
        usableOrCoded(() => {
          // The frame encoder checks records too: what it refuses never reaches a peer.
          const frame = encodeWeightsFrame(records);
          return decodeFeatureBatch(decodeWeightsFrame(placed(frame, offset)).weights, 'mutated', batch.featureShape);
        });
      }),
      { numRuns: 400 },
    );
  });
});

function bytesOf(data: WeightRecord['data']): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Runs a decode: what passes must be usable (counts agree, codes and labels in range, values finite). */
function usableOrCoded(decode: () => FeatureBatch): void {
  let batch: FeatureBatch;
  try {
    batch = decode();
  } catch (err) {
    expect(err).toBeInstanceOf(SednaError);
    expect(['SEDNA_ERR_WEIGHTS_MISMATCH', 'SEDNA_ERR_INVALID_UPDATE']).toContain((err as SednaError).code);
    return;
  }
  const size = batch.featureShape.reduce((a, d) => a * d, 1);
  expect(batch.count).toBeGreaterThan(0);
  expect(batch.features.length).toBe(batch.count * size);
  expect(batch.labels.length).toBe(batch.count * Math.max(1, batch.labelWidth));
  expect(batch.quantization.min).toBeLessThan(batch.quantization.max);
  if (batch.features instanceof Uint8Array) {
    expect(batch.features.every((c) => c <= 2 ** batch.quantization.bits - 1)).toBe(true);
  } else {
    expect(batch.quantization.bits).toBe(0);
    expect(batch.features.every(Number.isFinite)).toBe(true);
  }
  if (batch.labels instanceof Int32Array) expect(batch.labels.every((l) => l >= 0)).toBe(true);
  else expect(batch.labels.every(Number.isFinite)).toBe(true);
}
