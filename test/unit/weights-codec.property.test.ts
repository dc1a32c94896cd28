/**
 * Property tests for the weights codec (src/backend/weights.ts) and the aggregation protocol's
 * frames: random dtypes, shapes, names and bytes; every frame also decoded from every byte offset
 * inside a larger Buffer (as a socket hands it over); round trips compared bit for bit.
 */
import fc from 'fast-check';
import {
  allocateWeightsFrame,
  checkWeightRecord,
  decodeWeightsFrame,
  encodeWeightsFrame,
  encodeWeightsFrameChunks,
  layoutOf,
  weightsFromNestedLists,
  weightsToJsonTensors,
  weightsToNestedLists,
  type WeightDtype,
  type WeightRecord,
} from '../../src/backend/weights.js';
import { SednaError } from '../../src/common/errors.js';
import { WIDTH, placedInBuffer as placed, typedFromBytes } from '../helpers/typed.js';
import { toPythonJson } from '../../src/common/python-json.js';
import {
  decodeBinaryMessage,
  encodeBinaryMessage,
  parseTextFrame,
  pythonIntOf,
  updateData,
} from '../../src/service/aggregation-protocol.js';

const DTYPES = Object.keys(WIDTH) as WeightDtype[];

const shapeArb = fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 3 });
/** A record with arbitrary bytes (NaN payloads, negative zeros, denormals included). */
const recordArb: fc.Arbitrary<WeightRecord> = fc
  .record({ name: fc.string({ unit: 'binary', maxLength: 12 }), dtype: fc.constantFrom(...DTYPES), shape: shapeArb })
  .chain(({ name, dtype, shape }) => {
    const n = shape.reduce((a, d) => a * d, 1) * WIDTH[dtype];
    return fc
      .uint8Array({ minLength: n, maxLength: n })
      .map((bytes): WeightRecord => ({ name, dtype, shape, data: typedFromBytes(dtype, bytes) }));
  });
const recordsArb = fc.array(recordArb, { maxLength: 5 });
const metaArb = fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 });

function bytesOf(r: WeightRecord): Uint8Array {
  return new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength);
}

function expectSameWeights(got: readonly WeightRecord[], want: readonly WeightRecord[]): void {
  expect(got.map((r) => [r.name, r.dtype, r.shape])).toEqual(want.map((r) => [r.name, r.dtype, r.shape]));
  got.forEach((r, i) => {
    checkWeightRecord(r);
    expect(Buffer.from(bytesOf(r)).equals(Buffer.from(bytesOf(want[i] as WeightRecord)))).toBe(true);
  });
}

describe('weights frames (property)', () => {
  test('decode(encode(w)) is bit-exact from every byte offset of a larger Buffer', () => {
    fc.assert(
      fc.property(recordsArb, metaArb, (records, meta) => {
        const frame = encodeWeightsFrame(records, meta);
        for (let offset = 0; offset < 16; offset++) {
          const decoded = decodeWeightsFrame(placed(frame, offset));
          expectSameWeights(decoded.weights, records);
          // Meta travels as JSON, which has no -0 (JSON.stringify(-0) is "0"): expect what JSON carries.
          expect(decoded.meta).toEqual(JSON.parse(JSON.stringify(meta)));
        }
      }),
      { numRuns: 150 },
    );
  });

  test('the decoded tensors do not change when the socket buffer is reused', () => {
    fc.assert(
      fc.property(recordsArb, (records) => {
        const frame = encodeWeightsFrame(records);
        const host = placed(frame, 3); // odd: every wider tensor is copied
        const decoded = decodeWeightsFrame(host);
        const before = decoded.weights.map((r) => Buffer.from(bytesOf(r)));
        host.fill(0x5a);
        decoded.weights.forEach((r, i) => {
          if (WIDTH[r.dtype] > 1) expect(Buffer.from(bytesOf(r)).equals(before[i] as Buffer)).toBe(true);
        });
      }),
      { numRuns: 100 },
    );
  });

  test('chunks concatenate to the frame; preallocated frames encode in place to the same tensors', () => {
    fc.assert(
      fc.property(
        recordsArb,
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 300 }),
        (records, minChunkBytes, maxChunkBytes) => {
          const whole = encodeWeightsFrame(records, { t: 1 });
          const chunks = encodeWeightsFrameChunks(records, { t: 1 }, { minChunkBytes, maxChunkBytes });
          expect(Buffer.concat(chunks).equals(Buffer.from(whole))).toBe(true);
          if (records.length === 0) return;
          const slots = allocateWeightsFrame(layoutOf(records));
          slots.forEach((s, i) => {
            bytesOf(s).set(bytesOf(records[i] as WeightRecord));
          });
          const inPlace = encodeWeightsFrame(slots, { t: 2 });
          expectSameWeights(decodeWeightsFrame(placed(inPlace, 5)).weights, records);
        },
      ),
      { numRuns: 100 },
    );
  });

  test('a damaged or truncated frame is SEDNA_ERR_PROTOCOL or decodes to consistent records, never anything else', () => {
    fc.assert(
      fc.property(
        recordsArb,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        (records, flips, cut, offset) => {
          const frame = Buffer.from(encodeWeightsFrame(records));
          for (const [at, byte] of flips) frame[at % frame.length] = byte;
          const damaged = frame.subarray(0, frame.length - (cut % 4 === 0 ? cut % frame.length : 0));
          try {
            const { weights } = decodeWeightsFrame(placed(damaged, offset));
            for (const r of weights) checkWeightRecord(r);
          } catch (err) {
            expect(err).toBeInstanceOf(SednaError);
            expect((err as SednaError).code).toBe('SEDNA_ERR_PROTOCOL');
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  test('a binary protocol message keeps its envelope and weights from any offset', () => {
    fc.assert(
      fc.property(recordsArb, fc.integer({ min: 0, max: 15 }), fc.nat(1000), (records, offset, n) => {
        const envelope = { type: 'update_weight', client: 'c', data: { num_samples: n }, job_name: 'j' };
        const { frame, weights } = decodeBinaryMessage(placed(encodeBinaryMessage(envelope, records), offset));
        expect(frame).toEqual(envelope);
        expectSameWeights(weights, records);
      }),
      { numRuns: 100 },
    );
  });
});

/** Records whose values are exact in JSON: finite floats, integers within 2^53. */
const finiteRecordArb: fc.Arbitrary<WeightRecord> = fc
  .record({ dtype: fc.constantFrom(...DTYPES), shape: fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 3 }) })
  .chain(({ dtype, shape }) => {
    const n = shape.reduce((a, d) => a * d, 1);
    const sized = { minLength: n, maxLength: n };
    const data: fc.Arbitrary<WeightRecord['data']> =
      dtype === 'float32'
        ? fc.float32Array({ ...sized, noNaN: true, noDefaultInfinity: true })
        : dtype === 'float64'
          ? fc.float64Array({ ...sized, noNaN: true, noDefaultInfinity: true })
          : dtype === 'int32'
            ? fc.int32Array(sized)
            : dtype === 'uint8'
              ? fc.uint8Array(sized)
              : fc.array(fc.bigInt({ min: -(2n ** 53n), max: 2n ** 53n }), sized).map((v) => BigInt64Array.from(v));
    return data.map((d): WeightRecord => ({ name: `t${n}`, dtype, shape, data: d }));
  });

describe("Sedna's JSON weight lists (property)", () => {
  test('lists -> JSON -> records is bit-exact for finite values, through JSON.stringify and toPythonJson', () => {
    fc.assert(
      fc.property(fc.array(finiteRecordArb, { minLength: 1, maxLength: 4 }), (records) => {
        const layout = layoutOf(records);
        const viaStringify = weightsFromNestedLists(JSON.parse(JSON.stringify(weightsToNestedLists(records))), layout);
        const viaPython = weightsFromNestedLists(JSON.parse(toPythonJson(weightsToJsonTensors(records))), layout);
        // -0 survives toPythonJson ("-0.0") but not JSON.stringify ("0"): compare values there.
        expectSameWeights(viaPython, records);
        viaStringify.forEach((r, i) => {
          expect(Array.from(r.data as ArrayLike<number>).map((v) => (v === 0 ? 0 : v))).toEqual(
            Array.from((records[i] as WeightRecord).data as ArrayLike<number>).map((v) => (v === 0 ? 0 : v)),
          );
        });
      }),
      { numRuns: 300 },
    );
  });

  test('float tensors are written as Python floats (every number has "." or an exponent), integers as integers', () => {
    fc.assert(
      fc.property(fc.array(finiteRecordArb, { minLength: 1, maxLength: 4 }), (records) => {
        const text = toPythonJson(weightsToJsonTensors(records));
        const perTensor = JSON.parse(text) as unknown[];
        const raw = text.slice(1, -1);
        expect(perTensor).toHaveLength(records.length);
        const numbers = raw.match(/-?[0-9][0-9.e+-]*/g) ?? [];
        const floats = records.every((r) => r.dtype === 'float32' || r.dtype === 'float64');
        const ints = records.every((r) => !(r.dtype === 'float32' || r.dtype === 'float64'));
        if (floats) for (const n of numbers) expect(n).toMatch(/[.e]/);
        if (ints) for (const n of numbers) expect(n).toMatch(/^-?\d+$/);
      }),
      { numRuns: 200 },
    );
  });

  test('any JSON value is turned into records or a coded error, never another exception', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.boolean(), (value, withLayout) => {
        try {
          const records = weightsFromNestedLists(
            value,
            withLayout ? [{ name: 'a', dtype: 'float32', shape: [2, 2] }] : undefined,
          );
          for (const r of records) checkWeightRecord(r);
        } catch (err) {
          expect(err).toBeInstanceOf(SednaError);
          expect(['SEDNA_ERR_WEIGHTS_MISMATCH', 'SEDNA_ERR_INVALID_UPDATE']).toContain((err as SednaError).code);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('aggregation text frames and num_samples (property)', () => {
  test('parseTextFrame gives an object with a string type, or SEDNA_ERR_PROTOCOL / INVALID_UPDATE', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary' }),
          fc.jsonValue().map((v) => JSON.stringify(v)),
          fc
            .record({ type: fc.string(), data: fc.jsonValue({ maxDepth: 2 }) }, { requiredKeys: [] })
            .map((v) => JSON.stringify(v)),
        ),
        (text) => {
          try {
            const frame = parseTextFrame(text);
            expect(typeof frame.type).toBe('string');
            try {
              updateData(frame);
            } catch (err) {
              expect((err as SednaError).code).toBe('SEDNA_ERR_PROTOCOL');
            }
          } catch (err) {
            expect(err).toBeInstanceOf(SednaError);
            expect(['SEDNA_ERR_PROTOCOL', 'SEDNA_ERR_INVALID_UPDATE']).toContain((err as SednaError).code);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  test("num_samples strings are read as Python's int() reads them", () => {
    fc.assert(
      fc.property(
        fc.nat({ max: Number.MAX_SAFE_INTEGER }),
        fc.constantFrom('', ' ', '\t', '\n '),
        fc.constantFrom('', '+'),
        (n, pad, sign) => {
          expect(pythonIntOf(`${pad}${sign}${n}${pad}`)).toBe(n);
          const frame = parseTextFrame(
            JSON.stringify({ type: 'update_weight', data: { num_samples: `${pad}${n}`, weights: [] } }),
          );
          expect(updateData(frame).numSamples).toBe(n);
        },
      ),
    );
    expect(pythonIntOf('1_000')).toBe(1000);
    for (const bad of ['', '3.0', '1e3', '0x10', '1__0', '_1', '1_', 'three', '٣x', `${2 ** 60}`])
      expect(pythonIntOf(bad)).toBeUndefined();
  });
});
