/**
 * Property tests for the other codecs and parsers: Python-style JSON floats (against values
 * Python's json.dumps wrote, test/fixtures/python/float-repr.json), the ONNX protobuf reader,
 * CSV numbers and files, txt index files and the tagged JSON of hard-example records. Inputs sit
 * at odd offsets inside larger Buffers where the parser takes bytes.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { pythonFloat, toPythonJson, JsonTensor } from '../../src/common/python-json.js';
import { SednaError } from '../../src/common/errors.js';
import { decodeModel, decodeTensor, encodeModel, encodeTensor } from '../../src/backend/onnx-proto.js';
import type { WeightDtype, WeightRecord } from '../../src/backend/weights.js';
import { forEachCsvRow, parseNumber } from '../../src/datasources/csv.js';
import { TxtDataParse } from '../../src/datasources/txt.js';
import { decodeDataJson, encodeDataJson } from '../../src/datasources/base.js';
import { ROOT } from '../helpers/paths.js';
import { WIDTH, typedFromBytes } from '../helpers/typed.js';

const golden = JSON.parse(fs.readFileSync(path.join(ROOT, 'test/fixtures/python/float-repr.json'), 'utf8')) as {
  values: [string, string][];
};

describe('Python-style JSON floats', () => {
  test(`pythonFloat writes what Python's json.dumps writes (${golden.values.length} recorded doubles)`, () => {
    const wrong: string[] = [];
    for (const [hex, python] of golden.values) {
      const v = Buffer.from(hex, 'hex').readDoubleLE(0);
      if (pythonFloat(v) !== python) wrong.push(`${python} written as ${pythonFloat(v)}`);
    }
    expect(wrong).toEqual([]);
    expect(golden.values.length).toBeGreaterThan(2000);
    // The same values through the list writer, whose fast paths patch JSON.stringify's output.
    const values = Float64Array.from(golden.values, ([hex]) => Buffer.from(hex, 'hex').readDoubleLE(0));
    const python = golden.values.map(([, p]) => p);
    expect(toPythonJson(values)).toBe(`[${python.join(',')}]`);
    for (let row = 0; row + 64 <= values.length; row += 64) {
      const sub = values.subarray(row, row + 64).filter((v) => !Object.is(v, -0) && Math.abs(v) < 1e16);
      const want = Array.from(sub, pythonFloat);
      expect(toPythonJson(sub)).toBe(`[${want.join(',')}]`);
    }
  });

  test('every finite double reads back to itself, in Python float syntax', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (v) => {
        const s = pythonFloat(v);
        expect(Object.is(Number(s), v)).toBe(true);
        expect(s).toMatch(/^-?(\d+\.\d+|\d(\.\d+)?e[+-]\d{2,3})$/);
      }),
      { numRuns: 5000 },
    );
  });

  test('without typed arrays, toPythonJson writes exactly what JSON.stringify writes', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(toPythonJson(v)).toBe(JSON.stringify(v));
      }),
      { numRuns: 1000 },
    );
  });

  test('typed arrays and tensors inside any JSON value read back as their values', () => {
    fc.assert(
      fc.property(
        fc.jsonValue({ maxDepth: 2 }),
        fc.float32Array({ noNaN: true, noDefaultInfinity: true, maxLength: 20 }),
        fc.int32Array({ maxLength: 20 }),
        (other, floats, ints) => {
          const shape = [floats.length];
          const value = { other, floats, ints, tensor: new JsonTensor(floats, shape), list: [floats, ints] };
          const back = JSON.parse(toPythonJson(value)) as Record<string, unknown>;
          const plain = (a: ArrayLike<number>): number[] => Array.from(a, (x) => (x === 0 ? 0 : x));
          // JSON has no -0 for a plain number (JSON.stringify(-0) is "0"), so compare with what JSON keeps.
          expect(back.other).toEqual(JSON.parse(JSON.stringify(other)));
          expect(plain(back.floats as number[])).toEqual(plain(floats));
          expect(back.ints).toEqual(Array.from(ints));
          expect(plain(back.tensor as number[])).toEqual(plain(floats));
          expect(plain(JSON.parse(JSON.stringify(new JsonTensor(floats, shape))) as number[])).toEqual(
            plain(back.tensor as number[]),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  test('the issue 13 examples', () => {
    expect(toPythonJson({ data: Float32Array.from([0, 1, 0, 1]) })).toBe('{"data":[0.0,1.0,0.0,1.0]}');
    expect(
      toPythonJson([new JsonTensor(Float64Array.from([4, 5]), [2]), new JsonTensor(Float64Array.from([6]), [1])]),
    ).toBe('[[4.0,5.0],[6.0]]');
    expect(toPythonJson(new JsonTensor(Float64Array.from([2.5]), []))).toBe('2.5');
    expect(toPythonJson(BigInt64Array.from([2n ** 62n]))).toBe(`[${2n ** 62n}]`);
  });
});

const ONNX_DTYPES: WeightDtype[] = ['float32', 'float64', 'int32', 'int64', 'uint8'];

const onnxRecordArb: fc.Arbitrary<WeightRecord> = fc
  .record({
    name: fc.string({ unit: 'binary', maxLength: 10 }),
    dtype: fc.constantFrom(...ONNX_DTYPES),
    shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }),
  })
  .chain(({ name, dtype, shape }) => {
    const n = shape.reduce((a, d) => a * d, 1) * WIDTH[dtype];
    return fc
      .uint8Array({ minLength: n, maxLength: n })
      .map((bytes): WeightRecord => ({ name, dtype, shape, data: typedFromBytes(dtype, bytes) }));
  });

function at(bytes: Uint8Array, offset: number): Buffer {
  const host = Buffer.alloc(offset + bytes.length + 7, 0xee);
  host.set(bytes, offset);
  return host.subarray(offset, offset + bytes.length);
}

function sameRecord(got: WeightRecord, want: WeightRecord): void {
  expect([got.name, got.dtype, got.shape]).toEqual([want.name, want.dtype, want.shape]);
  const bytes = (r: WeightRecord): Buffer => Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength);
  expect(bytes(got).equals(bytes(want))).toBe(true);
}

describe('ONNX protobuf reader (property)', () => {
  test('tensors and model initializers round-trip bit-exact from any offset', () => {
    fc.assert(
      fc.property(fc.array(onnxRecordArb, { maxLength: 4 }), fc.integer({ min: 0, max: 15 }), (records, offset) => {
        for (const r of records) {
          const decoded = decodeTensor(at(encodeTensor(r), offset));
          if (!decoded.ok) throw new Error(decoded.reason);
          sameRecord(decoded.record, r);
        }
        const model = encodeModel({ name: 'g', nodes: [], inputs: [], outputs: [], initializers: records });
        const summary = decodeModel(at(model, offset));
        expect(summary.initializers).toHaveLength(records.length);
        summary.initializers.forEach((d, i) => {
          if (!d.ok) throw new Error(d.reason);
          sameRecord(d.record, records[i] as WeightRecord);
        });
      }),
      { numRuns: 200 },
    );
  });

  test('damaged or random bytes give a summary or SEDNA_ERR_MODEL_INVALID, never another exception', () => {
    const model = encodeModel({
      name: 'g',
      nodes: [{ opType: 'Identity', inputs: ['x'], outputs: ['y'] }],
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, 'N'] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: [1, 'N'] }],
      initializers: [{ name: 'w', dtype: 'float32', shape: [2], data: Float32Array.from([1, 2]) }],
    });
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc
            .array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 })
            .map((flips) => {
              const copy = Uint8Array.from(model);
              for (const [i, b] of flips) copy[i % copy.length] = b;
              return copy;
            }),
        ),
        (bytes) => {
          try {
            decodeModel(bytes);
          } catch (err) {
            expect(err).toBeInstanceOf(SednaError);
            expect((err as SednaError).code).toBe('SEDNA_ERR_MODEL_INVALID');
          }
          try {
            decodeTensor(bytes);
          } catch (err) {
            expect(err).toBeInstanceOf(SednaError);
            expect((err as SednaError).code).toBe('SEDNA_ERR_MODEL_INVALID');
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('CSV and txt parsers (property)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'sedna-prop-'));
  });
  afterAll(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  test('parseNumber gives the double Number() gives for every plain decimal, and never throws', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
          fc.stringMatching(/^[+-]?\d{1,18}(\.\d{0,18})?$/),
          fc.string({ maxLength: 12 }),
        ),
        (cell) => {
          const got = parseNumber(cell);
          if (/^[+-]?\d+(\.\d*)?$/.test(cell) || /^-?\d(\.\d+)?e[+-]\d+$/.test(cell)) expect(got).toBe(Number(cell));
          else expect(got === undefined || typeof got === 'number').toBe(true);
        },
      ),
      { numRuns: 5000 },
    );
    // Found by this property: names of Object.prototype's members were "numbers" (functions).
    for (const cell of ['valueOf', 'toString', 'constructor', '__proto__', 'hasOwnProperty'])
      expect(parseNumber(cell)).toBeUndefined();
  });

  test('a CSV file written with RFC 4180 quoting reads back cell for cell', async () => {
    let n = 0;
    const cellText = fc.string({ unit: 'binary', maxLength: 8 }).map((s) => `s${s}`); // never numeric
    await fc.assert(
      fc.asyncProperty(
        fc
          .integer({ min: 1, max: 4 })
          .chain((cols) =>
            fc.array(
              fc.tuple(
                fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { minLength: cols, maxLength: cols }),
                cellText,
              ),
              { minLength: 1, maxLength: 20 },
            ),
          ),
        async (rows) => {
          const cols = (rows[0] as [number[], string])[0].length;
          const header = [...Array.from({ length: cols }, (_, i) => `f${i}`), 'label'];
          const quote = (s: string): string => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
          const text = [
            header.join(','),
            ...rows.map(([nums, label]) => [...nums.map(String), quote(label)].join(',')),
          ].join('\r\n');
          const file = path.join(dir, `t${n++}.csv`);
          await fsp.writeFile(file, text);
          const got: { values: unknown[]; label: unknown }[] = [];
          await forEachCsvRow(file, (row) => void got.push({ values: row.values, label: row.label }), {
            label: 'label',
            columnTypes: { label: 'string' },
          });
          expect(got).toEqual(rows.map(([nums, label]) => ({ values: nums.map((v) => (v === 0 ? 0 : v)), label })));
        },
      ),
      { numRuns: 60 },
    );
  });

  test('a txt index file reads back its paths and labels, whatever the spacing', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(fc.stringMatching(/^[a-zA-Z0-9_./-]{1,12}$/), fc.nat(1000), fc.constantFrom(' ', '  ', '\t')),
          { minLength: 1, maxLength: 20 },
        ),
        fc.constantFrom('\n', '\r\n'),
        async (lines, eol) => {
          const file = path.join(dir, `i${n++}.txt`);
          await fsp.writeFile(file, lines.map(([p, y, sep]) => `${p}${sep}${y}`).join(eol) + eol);
          const parsed = await new TxtDataParse('train').parse(file);
          expect(parsed.x).toEqual(lines.map(([p]) => p));
          expect(parsed.y?.map(Number)).toEqual(lines.map(([, y]) => y));
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('hard-example record JSON (property)', () => {
  const value = fc.letrec((tie) => ({
    any: fc.oneof(
      { depthSize: 'small' },
      fc.double(),
      fc.string(),
      fc.boolean(),
      fc.constant(null),
      fc.float32Array({ maxLength: 5 }),
      fc.int32Array({ maxLength: 5 }),
      fc.uint8Array({ maxLength: 5 }),
      fc.array(tie('any'), { maxLength: 4 }),
      fc.dictionary(fc.string({ maxLength: 5 }), tie('any'), { maxKeys: 4 }),
    ),
  })).any;

  test('decodeDataJson(encodeDataJson(v)) equals v, NaN, infinities and typed arrays included', () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(decodeDataJson(encodeDataJson(v))).toEqual(v);
      }),
      { numRuns: 1000 },
    );
  });

  test('any text decodes to a value or SEDNA_ERR_DATA_FORMAT, never another exception', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.jsonValue().map((v) => JSON.stringify(v)),
          fc
            .record({
              $typed: fc.constantFrom('Float32Array', 'toString', '__proto__', 'BigInt64Array', 'x'),
              data: fc.jsonValue(),
            })
            .map((v) => JSON.stringify(v)),
          fc.record({ $number: fc.jsonValue() }).map((v) => JSON.stringify(v)),
        ),
        (text) => {
          try {
            decodeDataJson(text);
          } catch (err) {
            expect(err).toBeInstanceOf(SednaError);
            expect((err as SednaError).code).toBe('SEDNA_ERR_DATA_FORMAT');
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
