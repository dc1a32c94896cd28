/**
 * A minimal protobuf writer and reader for the part of ONNX (onnx.proto, IR version 8) this
 * library needs: writing small graphs (any ops and attributes; {@link denseClassifierGraph} builds
 * MatMul/Add/Relu/Softmax classifiers) with initializers as `raw_data`, and reading or replacing a
 * model's initializers for `getWeights()` / `setWeights()`. No protobuf library and no generated code: ONNX files only need the wire format's
 * varints and length-delimited fields, and owning the ~300 lines keeps the ONNX backend free of
 * extra dependencies.
 *
 * The reader is field-level: it parses the messages it understands and keeps every other field
 * as raw bytes, so rewriting initializers preserves everything else in the model unchanged.
 * Field numbers are from onnx/onnx.proto.
 */
import { SednaError } from '../common/errors.js';
import { elementCount, type WeightDataByDtype, type WeightDtype, type WeightRecord } from './weights.js';

// ---------------------------------------------------------------------------------------------
// ONNX constants

/** TensorProto.DataType values this module converts to and from weight records. */
export const ONNX_DATA_TYPE = {
  float32: 1,
  uint8: 2,
  int32: 6,
  int64: 7,
  float64: 11,
} as const satisfies Record<WeightDtype, number>;

const DTYPE_OF_ONNX = new Map<number, WeightDtype>(
  Object.entries(ONNX_DATA_TYPE).map(([dtype, code]) => [code, dtype as WeightDtype]),
);

/** The IR version written by {@link encodeModel} (ONNX 1.10+). */
export const IR_VERSION = 8;
/** The default-domain opset written by {@link encodeModel}. */
export const DEFAULT_OPSET = 13;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

// ---------------------------------------------------------------------------------------------
// Writer

/** Appends protobuf fields to a growing buffer. */
class ProtoWriter {
  private buf = new Uint8Array(256);
  private len = 0;

  private ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  private rawVarint(value: bigint): void {
    // Negative int64 values are encoded as their 64-bit two's complement (10 bytes).
    let v = BigInt.asUintN(64, value);
    this.ensure(10);
    while (v >= 0x80n) {
      this.buf[this.len++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.len++] = Number(v);
  }

  private tag(field: number, wire: number): void {
    this.rawVarint(BigInt((field << 3) | wire));
  }

  varint(field: number, value: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    this.rawVarint(BigInt(value));
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.rawVarint(BigInt(value.length));
    this.ensure(value.length);
    this.buf.set(value, this.len);
    this.len += value.length;
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  /** A `float` field (fixed32, little-endian). */
  float(field: number, value: number): this {
    this.tag(field, WIRE_FIXED32);
    this.ensure(4);
    new DataView(this.buf.buffer).setFloat32(this.len, value, true);
    this.len += 4;
    return this;
  }

  message(field: number, value: ProtoWriter): this {
    return this.bytes(field, value.finish());
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** A tensor shape for a graph input or output: numbers are fixed sizes, strings symbolic (`'N'`). */
export type OnnxDim = number | string;

export interface OnnxValueInfo {
  readonly name: string;
  /** An element type from {@link ONNX_DATA_TYPE}. */
  readonly dtype: WeightDtype;
  readonly shape: readonly OnnxDim[];
}

export type OnnxAttributeValue = number | string | readonly number[];

export interface OnnxNode {
  readonly opType: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly name?: string;
  /** Integers (`axis: -1`, `transB: 1`), floats (`alpha: 0.5` is written as FLOAT when not an integer), strings, int lists. */
  readonly attributes?: Readonly<Record<string, OnnxAttributeValue>>;
  /** Attributes to write as FLOAT even when their value is integral (e.g. Gemm `alpha: 1`). */
  readonly floatAttributes?: readonly string[];
}

export interface OnnxGraph {
  readonly name: string;
  readonly nodes: readonly OnnxNode[];
  readonly inputs: readonly OnnxValueInfo[];
  readonly outputs: readonly OnnxValueInfo[];
  readonly initializers: readonly WeightRecord[];
}

export interface OnnxModelOptions {
  readonly producerName?: string;
  readonly producerVersion?: string;
  readonly docString?: string;
  readonly opset?: number;
  /** `metadata_props` (key/value strings), e.g. the preprocessing a model expects. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** The tensor's bytes as a view (the writer copies them). */
function littleEndianBytes(data: WeightDataByDtype[WeightDtype]): Uint8Array {
  // Typed arrays use the platform's byte order; ONNX raw_data is little-endian. Every platform
  // Node supports is little-endian, which this asserts once at module load (see below).
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

const IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
if (!IS_LITTLE_ENDIAN) throw new Error('onnx-proto: big-endian platforms are not supported');

/** Encodes one weight record as a TensorProto with `raw_data`. */
export function encodeTensor(record: WeightRecord): Uint8Array {
  const w = new ProtoWriter();
  for (const d of record.shape) w.varint(1, d);
  w.varint(2, ONNX_DATA_TYPE[record.dtype]);
  w.string(8, record.name);
  w.bytes(9, littleEndianBytes(record.data));
  return w.finish();
}

function encodeValueInfo(info: OnnxValueInfo): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of info.shape) {
    const dim = new ProtoWriter();
    if (typeof d === 'number') dim.varint(1, d);
    else dim.string(2, d);
    shape.message(1, dim);
  }
  const tensorType = new ProtoWriter().varint(1, ONNX_DATA_TYPE[info.dtype]).message(2, shape);
  const type = new ProtoWriter().message(1, tensorType);
  return new ProtoWriter().string(1, info.name).message(2, type);
}

// AttributeProto.AttributeType
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_STRING = 3;
const ATTR_INTS = 7;

function encodeAttribute(name: string, value: OnnxAttributeValue, asFloat: boolean): ProtoWriter {
  const w = new ProtoWriter().string(1, name);
  if (typeof value === 'string') return w.varint(20, ATTR_STRING).string(4, value);
  if (typeof value === 'number') {
    if (asFloat || !Number.isInteger(value)) return w.varint(20, ATTR_FLOAT).float(2, value);
    return w.varint(20, ATTR_INT).varint(3, value);
  }
  w.varint(20, ATTR_INTS);
  for (const v of value) w.varint(8, v);
  return w;
}

function encodeNode(node: OnnxNode, index: number): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of node.inputs) w.string(1, i);
  for (const o of node.outputs) w.string(2, o);
  w.string(3, node.name ?? `${node.opType}_${index}`);
  w.string(4, node.opType);
  const floats = new Set(node.floatAttributes ?? []);
  for (const [name, value] of Object.entries(node.attributes ?? {})) {
    w.message(5, encodeAttribute(name, value, floats.has(name)));
  }
  return w;
}

/** Encodes a complete ModelProto (IR version 8, default-domain opset 13 unless given). */
export function encodeModel(graph: OnnxGraph, options: OnnxModelOptions = {}): Uint8Array {
  const g = new ProtoWriter();
  graph.nodes.forEach((node, i) => g.message(1, encodeNode(node, i)));
  g.string(2, graph.name);
  for (const init of graph.initializers) g.bytes(5, encodeTensor(init));
  for (const input of graph.inputs) g.message(11, encodeValueInfo(input));
  for (const output of graph.outputs) g.message(12, encodeValueInfo(output));

  const m = new ProtoWriter();
  m.varint(1, IR_VERSION);
  m.string(2, options.producerName ?? 'sedna-sdk');
  if (options.producerVersion !== undefined) m.string(3, options.producerVersion);
  if (options.docString !== undefined) m.string(6, options.docString);
  m.message(7, g);
  m.message(8, new ProtoWriter().string(1, '').varint(2, options.opset ?? DEFAULT_OPSET));
  for (const [key, value] of Object.entries(options.metadata ?? {})) {
    m.message(14, new ProtoWriter().string(1, key).string(2, value));
  }
  return m.finish();
}

/** One dense layer of a feed-forward classifier. */
export interface DenseLayerSpec {
  /** float32 [inputs, units]. */
  readonly kernel: WeightRecord<'float32'>;
  /** float32 [units]. */
  readonly bias: WeightRecord<'float32'>;
  readonly activation: 'relu' | 'softmax' | 'linear';
}

/**
 * Builds the graph of a feed-forward network as MatMul + Add (+ Relu / Softmax) per layer, with
 * the kernels and biases as initializers under their record names. Input `[N, inputs]`, output
 * `[N, units of the last layer]`, both float32 with a symbolic batch dimension `N`.
 */
export function denseClassifierGraph(
  layers: readonly DenseLayerSpec[],
  io: { readonly input: string; readonly output: string; readonly name?: string },
): OnnxGraph {
  const first = layers[0];
  const last = layers.at(-1);
  if (first === undefined || last === undefined) throw new TypeError('denseClassifierGraph: no layers');
  const nodes: OnnxNode[] = [];
  let current = io.input;
  layers.forEach((layer, i) => {
    const isLast = i === layers.length - 1;
    const mm = `layer${i}/matmul`;
    const add = isLast && layer.activation === 'linear' ? io.output : `layer${i}/add`;
    nodes.push({ opType: 'MatMul', inputs: [current, layer.kernel.name], outputs: [mm], name: mm });
    nodes.push({ opType: 'Add', inputs: [mm, layer.bias.name], outputs: [add], name: add });
    current = add;
    if (layer.activation === 'linear') return;
    const out = isLast ? io.output : `layer${i}/${layer.activation}`;
    nodes.push(
      layer.activation === 'relu'
        ? { opType: 'Relu', inputs: [current], outputs: [out], name: `layer${i}/relu` }
        : { opType: 'Softmax', inputs: [current], outputs: [out], name: `layer${i}/softmax`, attributes: { axis: -1 } },
    );
    current = out;
  });
  return {
    name: io.name ?? 'dense_classifier',
    nodes,
    inputs: [{ name: io.input, dtype: 'float32', shape: ['N', first.kernel.shape[0] ?? 0] }],
    outputs: [{ name: io.output, dtype: 'float32', shape: ['N', last.kernel.shape[1] ?? 0] }],
    initializers: layers.flatMap((l) => [l.kernel, l.bias]),
  };
}

// ---------------------------------------------------------------------------------------------
// Reader

/** One field of a message, as it appears on the wire. */
interface RawField {
  readonly field: number;
  readonly wire: number;
  /** The field's value: varints decoded, length-delimited payloads as a view. */
  readonly varint: bigint;
  readonly bytes: Uint8Array;
  /** The whole field (tag included) as it was encoded, for verbatim re-writing. */
  readonly raw: Uint8Array;
}

function invalid(message: string): SednaError {
  return new SednaError('SEDNA_ERR_MODEL_INVALID', `not a valid ONNX model: ${message}`);
}

const EMPTY = new Uint8Array(0);

/** Reads a varint at `at.pos`, advancing it. */
function readVarint(buf: Uint8Array, at: { pos: number }): bigint {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    if (at.pos >= buf.length) throw invalid('truncated varint');
    const b = buf[at.pos++] as number;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return result;
    shift += 7n;
    if (shift > 63n) throw invalid('varint longer than 10 bytes');
  }
}

/** Splits a message into its fields. Throws SEDNA_ERR_MODEL_INVALID on truncated or malformed input. */
function readFields(buf: Uint8Array): RawField[] {
  const fields: RawField[] = [];
  const at = { pos: 0 };
  while (at.pos < buf.length) {
    const start = at.pos;
    const tag = readVarint(buf, at);
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (field === 0) throw invalid(`field number 0 at byte ${start}`);
    let value = 0n;
    let bytes: Uint8Array = EMPTY;
    if (wire === WIRE_VARINT) value = readVarint(buf, at);
    else if (wire === WIRE_LEN || wire === WIRE_FIXED32 || wire === WIRE_FIXED64) {
      const len = wire === WIRE_LEN ? Number(readVarint(buf, at)) : wire === WIRE_FIXED32 ? 4 : 8;
      if (at.pos + len > buf.length) throw invalid(`field ${field} runs past the end (${len} bytes at byte ${at.pos})`);
      bytes = buf.subarray(at.pos, at.pos + len);
      at.pos += len;
    } else throw invalid(`unsupported wire type ${wire} for field ${field} at byte ${start}`);
    fields.push({ field, wire, varint: value, bytes, raw: buf.subarray(start, at.pos) });
  }
  return fields;
}

const decoder = new TextDecoder('utf-8', { fatal: false });

function stringOf(f: RawField | undefined): string {
  return f === undefined ? '' : decoder.decode(f.bytes);
}

/** Packed or unpacked repeated varints (proto3 writers pack, proto2 writers may not), as int64. */
function repeatedVarints(fields: readonly RawField[], field: number): bigint[] {
  const out: bigint[] = [];
  for (const f of fields) {
    if (f.field !== field) continue;
    if (f.wire === WIRE_VARINT) out.push(BigInt.asIntN(64, f.varint));
    else if (f.wire === WIRE_LEN) {
      const at = { pos: 0 };
      while (at.pos < f.bytes.length) out.push(BigInt.asIntN(64, readVarint(f.bytes, at)));
    }
  }
  return out;
}

/** Packed or unpacked repeated fixed-width values (float_data, double_data) as raw bytes. */
function repeatedFixed(fields: readonly RawField[], field: number): Uint8Array {
  const parts = fields.filter((f) => f.field === field).map((f) => f.bytes);
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** What {@link decodeTensor} found: a record, or why the tensor cannot become one. */
export type DecodedTensor =
  | { readonly ok: true; readonly record: WeightRecord }
  | { readonly ok: false; readonly name: string; readonly reason: string };

function typedFromBytes(dtype: WeightDtype, bytes: Uint8Array): WeightDataByDtype[WeightDtype] {
  // A fresh, aligned buffer the record owns. (Not `bytes.slice()`: on a Node Buffer that is a
  // view into the shared pool, not a copy.)
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  const buffer = copy.buffer;
  switch (dtype) {
    case 'float32':
      return new Float32Array(buffer);
    case 'float64':
      return new Float64Array(buffer);
    case 'int32':
      return new Int32Array(buffer);
    case 'int64':
      return new BigInt64Array(buffer);
    case 'uint8':
      return new Uint8Array(buffer);
  }
}

/** Decodes one TensorProto into a weight record (raw_data or the typed *_data fields). */
export function decodeTensor(bytes: Uint8Array): DecodedTensor {
  const fields = readFields(bytes);
  const name = stringOf(fields.find((f) => f.field === 8));
  const dataType = Number(fields.find((f) => f.field === 2)?.varint ?? 0n);
  const shape = repeatedVarints(fields, 1).map(Number);
  const dtype = DTYPE_OF_ONNX.get(dataType);
  if (fields.some((f) => f.field === 14 && f.varint === 1n) || fields.some((f) => f.field === 13)) {
    return { ok: false, name, reason: 'its data is stored in an external file' };
  }
  if (dtype === undefined) return { ok: false, name, reason: `ONNX data type ${dataType} has no weight-record dtype` };
  const count = elementCount(shape);
  const width = { float32: 4, float64: 8, int32: 4, int64: 8, uint8: 1 }[dtype];
  const raw = fields.find((f) => f.field === 9);
  let data: WeightDataByDtype[WeightDtype];
  if (raw !== undefined) {
    if (raw.bytes.length !== count * width) {
      throw invalid(`initializer "${name}" has ${raw.bytes.length} bytes of raw_data for shape [${shape.join(', ')}]`);
    }
    data = typedFromBytes(dtype, raw.bytes);
  } else if (dtype === 'float32') data = typedFromBytes(dtype, repeatedFixed(fields, 4));
  else if (dtype === 'float64') data = typedFromBytes(dtype, repeatedFixed(fields, 10));
  else if (dtype === 'int64') data = BigInt64Array.from(repeatedVarints(fields, 7));
  else if (dtype === 'int32') data = Int32Array.from(repeatedVarints(fields, 5), Number);
  else data = Uint8Array.from(repeatedVarints(fields, 5), Number); // uint8 values travel in int32_data
  if (data.length !== count) {
    throw invalid(`initializer "${name}" has ${data.length} values for shape [${shape.join(', ')}]`);
  }
  return { ok: true, record: { name, dtype, shape, data } };
}

/** The parts of a model the ONNX backend reads. */
export interface OnnxModelSummary {
  readonly irVersion: number;
  readonly opsets: readonly { readonly domain: string; readonly version: number }[];
  readonly producerName: string;
  readonly graphName: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly nodeCount: number;
  readonly opTypes: readonly string[];
  readonly initializers: readonly DecodedTensor[];
  readonly metadata: Readonly<Record<string, string>>;
}

function graphField(model: readonly RawField[]): RawField {
  const graph = model.find((f) => f.field === 7 && f.wire === WIRE_LEN);
  if (graph === undefined) throw invalid('it has no graph');
  return graph;
}

/** Parses a ModelProto far enough to list its graph's inputs, outputs, ops and initializers. */
export function decodeModel(bytes: Uint8Array): OnnxModelSummary {
  const model = readFields(bytes);
  const graph = readFields(graphField(model).bytes);
  const names = (field: number): string[] =>
    graph.filter((f) => f.field === field).map((f) => stringOf(readFields(f.bytes).find((g) => g.field === 1)));
  const nodes = graph.filter((f) => f.field === 1).map((f) => readFields(f.bytes));
  const metadata: Record<string, string> = {};
  for (const f of model.filter((m) => m.field === 14)) {
    const kv = readFields(f.bytes);
    metadata[stringOf(kv.find((g) => g.field === 1))] = stringOf(kv.find((g) => g.field === 2));
  }
  return {
    irVersion: Number(model.find((f) => f.field === 1)?.varint ?? 0n),
    opsets: model
      .filter((f) => f.field === 8)
      .map((f) => {
        const o = readFields(f.bytes);
        return {
          domain: stringOf(o.find((g) => g.field === 1)),
          version: Number(o.find((g) => g.field === 2)?.varint ?? 0n),
        };
      }),
    producerName: stringOf(model.find((f) => f.field === 2)),
    graphName: stringOf(graph.find((f) => f.field === 2)),
    inputs: names(11),
    outputs: names(12),
    nodeCount: nodes.length,
    opTypes: [...new Set(nodes.map((n) => stringOf(n.find((g) => g.field === 4))))],
    initializers: graph.filter((f) => f.field === 5).map((f) => decodeTensor(f.bytes)),
    metadata,
  };
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function lengthDelimited(field: number, payload: Uint8Array): Uint8Array {
  return new ProtoWriter().bytes(field, payload).finish();
}

/**
 * Returns a copy of `bytes` whose graph initializers are replaced, by name, with `records`
 * (every other field kept byte for byte). Each record must name an existing initializer.
 */
export function replaceInitializers(bytes: Uint8Array, records: readonly WeightRecord[]): Uint8Array {
  const byName = new Map(records.map((r) => [r.name, r]));
  const model = readFields(bytes);
  const graphAt = graphField(model);
  const graph = readFields(graphAt.bytes);
  const seen = new Set<string>();
  const graphParts = graph.map((f) => {
    if (f.field !== 5) return f.raw;
    const name = stringOf(readFields(f.bytes).find((g) => g.field === 8));
    const record = byName.get(name);
    if (record === undefined) return f.raw;
    seen.add(name);
    return lengthDelimited(5, encodeTensor(record));
  });
  const missing = records.filter((r) => !seen.has(r.name)).map((r) => r.name);
  if (missing.length > 0) {
    throw new SednaError(
      'SEDNA_ERR_WEIGHTS_MISMATCH',
      `the model has no initializer named ${missing.map((n) => `"${n}"`).join(', ')}`,
      {
        details: { missing },
      },
    );
  }
  const newGraph = concat(graphParts);
  return concat(model.map((f) => (f === graphAt ? lengthDelimited(7, newGraph) : f.raw)));
}
