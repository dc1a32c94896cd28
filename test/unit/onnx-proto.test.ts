// The ONNX protobuf subset: encode/decode round trips, other writers' encodings, malformed input.
import {
  decodeModel,
  decodeTensor,
  denseClassifierGraph,
  encodeModel,
  encodeTensor,
  replaceInitializers,
} from '../../src/backend/onnx-proto.js';
import type { WeightRecord } from '../../src/backend/weights.js';
import { isSednaError } from '../../src/common/errors.js';

const kernel: WeightRecord<'float32'> = {
  name: 'k',
  dtype: 'float32',
  shape: [3, 2],
  data: new Float32Array([1, -2, 0.5, Math.PI, -0, 1e-30]),
};
const bias: WeightRecord<'float32'> = {
  name: 'b',
  dtype: 'float32',
  shape: [2],
  data: new Float32Array([0.25, -0.75]),
};

function model(): Uint8Array {
  return encodeModel(denseClassifierGraph([{ kernel, bias, activation: 'softmax' }], { input: 'x', output: 'p' }), {
    producerVersion: '1.2.3',
    docString: 'test',
    metadata: { preprocessing: 'x / 16' },
  });
}

/** Protobuf varint bytes of a non-negative integer. */
function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

function expectInvalid(fn: () => unknown, text: string): void {
  try {
    fn();
  } catch (err) {
    expect(isSednaError(err, 'SEDNA_ERR_MODEL_INVALID')).toBe(true);
    expect((err as Error).message).toContain(text);
    return;
  }
  throw new Error('expected SEDNA_ERR_MODEL_INVALID');
}

describe('encodeModel / decodeModel', () => {
  it('round-trips the graph summary and the initializers bit for bit', () => {
    const summary = decodeModel(model());
    expect(summary).toMatchObject({
      irVersion: 8,
      opsets: [{ domain: '', version: 13 }],
      producerName: 'sedna-sdk',
      inputs: ['x'],
      outputs: ['p'],
      nodeCount: 3,
      opTypes: ['MatMul', 'Add', 'Softmax'],
      metadata: { preprocessing: 'x / 16' },
    });
    expect(summary.initializers).toEqual([
      { ok: true, record: kernel },
      { ok: true, record: bias },
    ]);
  });

  it('round-trips every weight dtype, including negative int64 values', () => {
    const records: WeightRecord[] = [
      { name: 'f64', dtype: 'float64', shape: [2], data: new Float64Array([1.5, -Number.MAX_VALUE]) },
      { name: 'i32', dtype: 'int32', shape: [3], data: new Int32Array([-1, 0, 2 ** 31 - 1]) },
      { name: 'i64', dtype: 'int64', shape: [2], data: new BigInt64Array([-(2n ** 63n), 42n]) },
      { name: 'u8', dtype: 'uint8', shape: [1, 2], data: new Uint8Array([0, 255]) },
      { name: 'empty', dtype: 'float32', shape: [0, 4], data: new Float32Array(0) },
    ];
    for (const r of records) expect(decodeTensor(encodeTensor(r))).toEqual({ ok: true, record: r });
  });
});

describe('decodeTensor: what other writers produce', () => {
  const header = [8, 2, 8, 2, 16, 1, 66, 1, 0x74]; // dims 2, 2; data_type FLOAT; name "t"

  it('reads packed float_data', () => {
    const floats = new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer);
    const bytes = new Uint8Array([...header, 34, ...varint(16), ...floats]);
    expect(decodeTensor(bytes)).toEqual({
      ok: true,
      record: { name: 't', dtype: 'float32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) },
    });
  });

  it('reads unpacked int64_data and int32_data with negative values', () => {
    const minusOne = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    const i64 = new Uint8Array([8, 2, 16, 7, 66, 1, 0x74, 56, 5, 56, ...minusOne]);
    expect(decodeTensor(i64)).toEqual({
      ok: true,
      record: { name: 't', dtype: 'int64', shape: [2], data: new BigInt64Array([5n, -1n]) },
    });
    const i32 = new Uint8Array([8, 1, 16, 6, 66, 1, 0x74, 42, 10, ...minusOne]);
    expect(decodeTensor(i32)).toEqual({
      ok: true,
      record: { name: 't', dtype: 'int32', shape: [1], data: new Int32Array([-1]) },
    });
  });

  it('reports tensors it cannot turn into records instead of guessing', () => {
    const float16 = new Uint8Array([8, 1, 16, 10, 66, 1, 0x74, 74, 2, 0, 0]);
    expect(decodeTensor(float16)).toEqual({
      ok: false,
      name: 't',
      reason: 'ONNX data type 10 has no weight-record dtype',
    });
    const external = new Uint8Array([...header, 112, 1]);
    expect(decodeTensor(external)).toEqual({ ok: false, name: 't', reason: 'its data is stored in an external file' });
  });

  it('rejects raw_data of the wrong length', () => {
    expectInvalid(
      () => decodeTensor(new Uint8Array([...header, 74, 3, 0, 0, 0])),
      'has 3 bytes of raw_data for shape [2, 2]',
    );
  });
});

describe('malformed models', () => {
  it('truncated bytes, a missing graph and unknown wire types are SEDNA_ERR_MODEL_INVALID', () => {
    const bytes = model();
    expectInvalid(() => decodeModel(bytes.subarray(0, bytes.length - 7)), 'runs past the end');
    expectInvalid(() => decodeModel(new Uint8Array([8, 8])), 'it has no graph');
    expectInvalid(() => decodeModel(new Uint8Array([0x0b])), 'unsupported wire type 3');
    expectInvalid(() => decodeModel(new Uint8Array([8, 0x80])), 'truncated varint');
  });
});

describe('replaceInitializers', () => {
  it('replaces tensors by name and keeps every other byte', () => {
    const bytes = model();
    const newBias = { ...bias, data: new Float32Array([9, 9]) };
    const replaced = replaceInitializers(bytes, [newBias]);
    expect(replaced.length).toBe(bytes.length);
    const summary = decodeModel(replaced);
    expect(summary.initializers).toEqual([
      { ok: true, record: kernel },
      { ok: true, record: newBias },
    ]);
    expect(summary.metadata).toEqual({ preprocessing: 'x / 16' });
    // Putting the old values back gives the original file.
    expect(Buffer.from(replaceInitializers(replaced, [bias])).equals(Buffer.from(bytes))).toBe(true);
  });

  it('an unknown initializer name is SEDNA_ERR_WEIGHTS_MISMATCH', () => {
    expect(() => replaceInitializers(model(), [{ ...bias, name: 'nope' }])).toThrow(
      expect.objectContaining({ code: 'SEDNA_ERR_WEIGHTS_MISMATCH' }) as Error,
    );
  });
});
