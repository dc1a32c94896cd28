/**
 * Model weights as typed arrays (ARCHITECTURE rule 6). Every backend's getWeights/setWeights,
 * the aggregation algorithms and the federated-learning transport use these records; JSON arrays
 * of numbers appear only at the edge of the Sedna-compatible transport.
 */
import { SednaError } from '../common/errors.js';
import { JsonTensor } from '../common/python-json.js';

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

// ---------------------------------------------------------------------------------------------
// The weights codec: THE binary format for weights on the wire (one per project, ARCHITECTURE
// rule 5), and the conversion to and from Sedna's JSON nested lists at the edge of the
// Sedna-compatible transport.
//
// Binary frame, little-endian (docs/federated-learning.md):
//
//   0   4 B  magic "SDNW"
//   4   1 B  version (1)
//   5   1 B  flags (0)
//   6   2 B  reserved (0)
//   8   4 B  u32 H: byte length of the header
//   12  H B  header, UTF-8 JSON: {"meta": <object>, "tensors": [{"name","dtype","shape","offset","byteLength"}]}
//   ... zero padding, then each tensor's raw bytes at `offset` (from the frame start, a multiple of 8)
//
// The 8-byte alignment lets the decoder hand out typed-array views on the received buffer without
// copying (a copy is made only when the buffer itself sits at an odd address).

/** Magic bytes of a weights frame ("SDNW"). */
export const WEIGHTS_FRAME_MAGIC: readonly number[] = Object.freeze([0x53, 0x44, 0x4e, 0x57]);
export const WEIGHTS_FRAME_VERSION = 1;
const PREFIX_BYTES = 12;
const ALIGN = 8;
/** Headers are small (names and shapes); a bound stops a hostile frame from claiming gigabytes of JSON. */
const MAX_HEADER_BYTES = 16 * 1024 * 1024;

const DTYPES: readonly WeightDtype[] = ['float32', 'float64', 'int32', 'int64', 'uint8'];

function isDtype(value: unknown): value is WeightDtype {
  return typeof value === 'string' && (DTYPES as readonly string[]).includes(value);
}

// Typed arrays use the platform's byte order; the wire format is little-endian.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function requireLittleEndian(): void {
  if (!LITTLE_ENDIAN) {
    throw new SednaError('SEDNA_ERR_NOT_SUPPORTED', 'the weights codec needs a little-endian platform');
  }
}

/** A JSON object carried in a weights frame's header next to the tensors (e.g. a message envelope). */
export type FrameMeta = Readonly<Record<string, unknown>>;

/** One tensor's entry in a frame header. */
interface TensorEntry {
  readonly name: string;
  readonly dtype: WeightDtype;
  readonly shape: readonly number[];
  readonly offset: number;
  readonly byteLength: number;
}

function alignUp(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

function bytesOf(data: WeightData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

interface FramePlan {
  readonly prefix: Uint8Array;
  readonly entries: readonly TensorEntry[];
  readonly totalBytes: number;
}

function planFrame(records: readonly WeightRecord[], meta: FrameMeta): FramePlan {
  requireLittleEndian();
  records.forEach((r) => {
    checkWeightRecord(r, 'encodeWeightsFrame');
  });
  // Offsets depend on the header length, which depends on the offsets' digits: iterate until stable
  // (twice at most in practice).
  let headerBytes = new Uint8Array(0);
  let entries: TensorEntry[] = [];
  let dataStart = 0;
  for (let attempt = 0; attempt < 8; attempt++) {
    let offset = dataStart;
    entries = records.map((r) => {
      const entry = { name: r.name, dtype: r.dtype, shape: [...r.shape], offset, byteLength: r.data.byteLength };
      offset = alignUp(offset + r.data.byteLength);
      return entry;
    });
    headerBytes = new TextEncoder().encode(JSON.stringify({ meta, tensors: entries }));
    const needed = alignUp(PREFIX_BYTES + headerBytes.length);
    if (needed === dataStart) break;
    dataStart = needed;
  }
  const prefix = new Uint8Array(dataStart);
  prefix.set(WEIGHTS_FRAME_MAGIC, 0);
  prefix[4] = WEIGHTS_FRAME_VERSION;
  new DataView(prefix.buffer).setUint32(8, headerBytes.length, true);
  prefix.set(headerBytes, PREFIX_BYTES);
  const last = entries[entries.length - 1];
  const totalBytes = last === undefined ? dataStart : last.offset + last.byteLength;
  return { prefix, entries, totalBytes };
}

/** Frames laid out in advance by {@link allocateWeightsFrame}: where their data starts and ends. */
interface PreallocatedFrame {
  readonly dataStart: number;
  readonly offsets: readonly number[];
  readonly totalBytes: number;
}
const PREALLOCATED = new WeakMap<ArrayBufferLike, PreallocatedFrame>();

function typedArrayOf(dtype: WeightDtype, buffer: ArrayBuffer, offset: number, count: number): WeightData {
  switch (dtype) {
    case 'float32':
      return new Float32Array(buffer, offset, count);
    case 'float64':
      return new Float64Array(buffer, offset, count);
    case 'int32':
      return new Int32Array(buffer, offset, count);
    case 'int64':
      return new BigInt64Array(buffer, offset, count);
    case 'uint8':
      return new Uint8Array(buffer, offset, count);
  }
}

/**
 * Zeroed records for `layout` whose data are views into one buffer laid out as a weights frame,
 * with room for the prefix and a header of up to `headerRoom` bytes in front. Whoever fills
 * them (FedAvg's output) lets {@link encodeWeightsFrame} return that buffer as the frame without
 * copying: one contiguous message, no second copy of the weights. Each encode rewrites the header
 * area: do not encode such records again while an earlier frame of them is still being sent.
 */
export function allocateWeightsFrame(layout: WeightLayout, headerRoom?: number): WeightRecord[] {
  // Room for the envelope plus ~100 bytes of JSON per tensor; a larger header falls back to a copy.
  const room = headerRoom ?? 4096 + layout.reduce((n, t) => n + 128 + t.name.length + 16 * t.shape.length, 0);
  const dataStart = alignUp(PREFIX_BYTES + room);
  let end = dataStart;
  const offsets = layout.map((t) => {
    const at = alignUp(end);
    end = at + elementCount(t.shape) * bytesPerElement(t.dtype);
    return at;
  });
  const buffer = new ArrayBuffer(end);
  PREALLOCATED.set(buffer, { dataStart, offsets, totalBytes: end });
  return layout.map((t, i) => ({
    name: t.name,
    dtype: t.dtype,
    shape: [...t.shape],
    data: typedArrayOf(t.dtype, buffer, offsets[i] as number, elementCount(t.shape)),
  }));
}

/** Whether `records` are the records of a frame from {@link allocateWeightsFrame} (encoded without a copy). */
export function isFramedInPlace(records: readonly WeightRecord[]): boolean {
  const buffer = records[0]?.data.buffer;
  const frame = buffer === undefined ? undefined : PREALLOCATED.get(buffer);
  return (
    frame !== undefined &&
    frame.offsets.length === records.length &&
    records.every((r, i) => r.data.buffer === buffer && r.data.byteOffset === frame.offsets[i])
  );
}

/** The frame without a copy, when `records` are exactly the records of a preallocated frame. */
function encodeInPlace(records: readonly WeightRecord[], meta: FrameMeta): Uint8Array | undefined {
  const buffer = records[0]?.data.buffer;
  const frame = buffer === undefined ? undefined : PREALLOCATED.get(buffer);
  if (frame === undefined || frame.offsets.length !== records.length) return undefined;
  const entries: TensorEntry[] = [];
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as WeightRecord;
    if (r.data.buffer !== buffer || r.data.byteOffset !== frame.offsets[i]) return undefined;
    checkWeightRecord(r, 'encodeWeightsFrame');
    entries.push({
      name: r.name,
      dtype: r.dtype,
      shape: [...r.shape],
      offset: r.data.byteOffset,
      byteLength: r.data.byteLength,
    });
  }
  const header = new TextEncoder().encode(JSON.stringify({ meta, tensors: entries }));
  if (PREFIX_BYTES + header.length > frame.dataStart) return undefined;
  const prefix = new Uint8Array(buffer as ArrayBuffer, 0, frame.dataStart);
  prefix.fill(0);
  prefix.set(WEIGHTS_FRAME_MAGIC, 0);
  prefix[4] = WEIGHTS_FRAME_VERSION;
  new DataView(buffer as ArrayBuffer).setUint32(8, header.length, true);
  prefix.set(header, PREFIX_BYTES);
  return new Uint8Array(buffer as ArrayBuffer, 0, frame.totalBytes);
}

/**
 * Encodes weights (and an optional JSON `meta` object) into one binary frame. Records made by
 * {@link allocateWeightsFrame} are framed in place, without copying their data.
 */
export function encodeWeightsFrame(records: readonly WeightRecord[], meta: FrameMeta = {}): Uint8Array {
  requireLittleEndian();
  const inPlace = encodeInPlace(records, meta);
  if (inPlace !== undefined) return inPlace;
  const { prefix, entries, totalBytes } = planFrame(records, meta);
  const frame = new Uint8Array(totalBytes);
  frame.set(prefix, 0);
  records.forEach((r, i) => {
    frame.set(bytesOf(r.data), (entries[i] as TensorEntry).offset);
  });
  return frame;
}

/**
 * The same frame as {@link encodeWeightsFrame}, as a list of chunks whose concatenation is the
 * frame: tensor data is referenced, not copied (small pieces are merged so a model with many tiny
 * tensors does not become many tiny writes; large tensors are cut into `maxChunkBytes` views).
 * A sender can write the chunks as fragments of one message without building the frame.
 */
export function encodeWeightsFrameChunks(
  records: readonly WeightRecord[],
  meta: FrameMeta = {},
  options: { minChunkBytes?: number; maxChunkBytes?: number } = {},
): Uint8Array[] {
  const minChunk = options.minChunkBytes ?? 64 * 1024;
  const maxChunk = Math.max(ALIGN, options.maxChunkBytes ?? 4 * 1024 * 1024);
  const { prefix, entries } = planFrame(records, meta);
  const chunks: Uint8Array[] = [];
  let pending: Uint8Array[] = [prefix];
  let pendingBytes = prefix.length;
  const flush = (): void => {
    if (pending.length === 1) chunks.push(pending[0] as Uint8Array);
    else if (pending.length > 1) {
      const merged = new Uint8Array(pendingBytes);
      let at = 0;
      for (const p of pending) {
        merged.set(p, at);
        at += p.length;
      }
      chunks.push(merged);
    }
    pending = [];
    pendingBytes = 0;
  };
  let position = prefix.length;
  records.forEach((r, i) => {
    const entry = entries[i] as TensorEntry;
    if (entry.offset > position) {
      pending.push(new Uint8Array(entry.offset - position));
      pendingBytes += entry.offset - position;
    }
    const bytes = bytesOf(r.data);
    if (bytes.length < minChunk) {
      pending.push(bytes);
      pendingBytes += bytes.length;
    } else {
      flush();
      for (let at = 0; at < bytes.length; at += maxChunk) chunks.push(bytes.subarray(at, at + maxChunk));
    }
    position = entry.offset + entry.byteLength;
    if (pendingBytes >= minChunk) flush();
  });
  flush();
  return chunks;
}

function frameError(problem: string): SednaError {
  return new SednaError('SEDNA_ERR_PROTOCOL', `malformed weights frame: ${problem}`, { details: { problem } });
}

/** Whether the bytes start like a weights frame (magic and version). */
export function isWeightsFrame(frame: Uint8Array): boolean {
  return (
    frame.length >= PREFIX_BYTES &&
    WEIGHTS_FRAME_MAGIC.every((b, i) => frame[i] === b) &&
    frame[4] === WEIGHTS_FRAME_VERSION
  );
}

function viewOf(frame: Uint8Array, entry: TensorEntry): WeightData {
  const count = elementCount(entry.shape);
  const at = frame.byteOffset + entry.offset;
  // A view when the address is aligned for the element type. Otherwise a copy into a fresh
  // buffer: never `frame.slice(...)`, which on a Node Buffer (what sockets deliver) is a view,
  // whose `.buffer` starts at the pool's byte 0, not at the tensor.
  if (at % bytesPerElement(entry.dtype) === 0) return typedArrayOf(entry.dtype, frame.buffer as ArrayBuffer, at, count);
  const copy = new Uint8Array(entry.byteLength);
  copy.set(frame.subarray(entry.offset, entry.offset + entry.byteLength));
  return typedArrayOf(entry.dtype, copy.buffer, 0, count);
}

function parseEntry(raw: unknown, index: number, frameBytes: number, minOffset: number): TensorEntry {
  const e = raw as Partial<Record<keyof TensorEntry, unknown>> | null;
  if (typeof e !== 'object' || e === null) throw frameError(`tensor #${index} is not an object`);
  const { name, dtype, shape, offset, byteLength } = e;
  if (typeof name !== 'string') throw frameError(`tensor #${index} has no name`);
  if (!isDtype(dtype)) throw frameError(`tensor #${index} ("${name}") has unknown dtype ${showDtype(dtype)}`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw frameError(`tensor #${index} ("${name}") has an invalid shape`);
  }
  const dims = shape as number[];
  if (!Number.isSafeInteger(offset) || (offset as number) < minOffset || (offset as number) % ALIGN !== 0) {
    throw frameError(`tensor #${index} ("${name}") has an invalid offset`);
  }
  const expected = elementCount(dims) * bytesPerElement(dtype);
  if (byteLength !== expected) {
    throw frameError(`tensor #${index} ("${name}") has ${String(byteLength)} bytes, its shape needs ${expected}`);
  }
  if ((offset as number) + expected > frameBytes) throw frameError(`tensor #${index} ("${name}") ends past the frame`);
  return { name, dtype, shape: dims, offset: offset as number, byteLength: expected };
}

function showDtype(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value.slice(0, 20)) : typeof value;
}

/**
 * Decodes a frame made by {@link encodeWeightsFrame}. Tensors are views on `frame` where its
 * alignment allows (keep `frame` unmodified while they are in use). Throws SEDNA_ERR_PROTOCOL for
 * anything malformed: bad magic or version, a header that is not the expected JSON, offsets or
 * sizes outside the frame, unknown dtypes.
 */
export function decodeWeightsFrame(frame: Uint8Array): { meta: FrameMeta; weights: WeightRecord[] } {
  requireLittleEndian();
  if (!isWeightsFrame(frame)) {
    throw frameError(frame.length < PREFIX_BYTES ? 'too short' : 'bad magic or unsupported version');
  }
  const headerBytes = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(8, true);
  if (headerBytes > MAX_HEADER_BYTES || PREFIX_BYTES + headerBytes > frame.length) {
    throw frameError('header length exceeds the frame');
  }
  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(frame.subarray(PREFIX_BYTES, PREFIX_BYTES + headerBytes)),
    );
  } catch (err) {
    throw frameError(`header is not UTF-8 JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const h = header as { meta?: unknown; tensors?: unknown } | null;
  if (typeof h !== 'object' || h === null || !Array.isArray(h.tensors)) throw frameError('header has no tensors list');
  const meta = h.meta === undefined ? {} : h.meta;
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta))
    throw frameError('header meta is not an object');
  let minOffset = alignUp(PREFIX_BYTES + headerBytes);
  const weights = (h.tensors as unknown[]).map((raw, i) => {
    const entry = parseEntry(raw, i, frame.length, minOffset);
    minOffset = alignUp(entry.offset + entry.byteLength);
    const record: WeightRecord = {
      name: entry.name,
      dtype: entry.dtype,
      shape: entry.shape,
      data: viewOf(frame, entry),
    };
    return record;
  });
  return { meta: meta as FrameMeta, weights };
}

// ---------------------------------------------------------------------------------------------
// Sedna's JSON weights: a list with one entry per tensor, each a nested list of numbers shaped
// like the tensor (a bare number for a 0-d tensor), as Keras' `get_weights()` + `tolist()` makes.

/** A tensor as nested JSON lists. */
export type NestedList = number | NestedList[];

/** The layout weights are expected to have: names, dtypes and shapes (data ignored). */
export type WeightLayout = readonly Pick<WeightRecord, 'name' | 'dtype' | 'shape'>[];

function toNumber(v: number | bigint): number {
  return typeof v === 'bigint' ? Number(v) : v;
}

function nest(data: WeightData, shape: readonly number[], dim: number, start: number, stride: number): NestedList {
  const size = shape[dim] as number;
  const out = new Array<NestedList>(size);
  if (dim === shape.length - 1) {
    for (let i = 0; i < size; i++) out[i] = toNumber(data[start + i] as number | bigint);
    return out;
  }
  const inner = stride / (size === 0 ? 1 : size);
  for (let i = 0; i < size; i++) out[i] = nest(data, shape, dim + 1, start + i * inner, inner);
  return out;
}

/** Weights as Sedna's JSON lists: one nested list per tensor (int64 values become JS numbers). */
export function weightsToNestedLists(records: readonly WeightRecord[]): NestedList[] {
  return records.map((r) => {
    checkWeightRecord(r, 'weightsToNestedLists');
    if (r.shape.length === 0) return toNumber(r.data[0] as number | bigint);
    return nest(r.data, r.shape, 0, 0, r.data.length);
  });
}

/**
 * Weights as Sedna's JSON lists for `toPythonJson` (common/python-json.ts): float tensors are written as Python
 * floats (`1.0`, never `1`), so a Python peer's `np.asarray` gets float64 as from a Python
 * worker; integer tensors as integers (int64 exactly, beyond 2^53 too). `JSON.stringify` writes
 * them as well, in JavaScript's number style.
 */
export function weightsToJsonTensors(records: readonly WeightRecord[]): JsonTensor[] {
  return records.map((r) => {
    checkWeightRecord(r, 'weightsToJsonTensors');
    return new JsonTensor(r.data, r.shape);
  });
}

function listError(
  code: 'SEDNA_ERR_WEIGHTS_MISMATCH' | 'SEDNA_ERR_INVALID_UPDATE',
  where: string,
  problem: string,
): SednaError {
  return new SednaError(code, `${where}: ${problem}`, { details: { problem } });
}

/** The shape of a nested list, following first elements (an empty list ends the walk). */
export function inferNestedShape(value: unknown): number[] {
  const shape: number[] = [];
  let node = value;
  while (Array.isArray(node)) {
    shape.push(node.length);
    if (node.length === 0) break;
    node = node[0] as unknown;
  }
  return shape;
}

function fill(
  node: unknown,
  shape: readonly number[],
  dim: number,
  out: Float64Array,
  at: number,
  where: string,
): number {
  if (dim === shape.length) {
    if (typeof node === 'number') {
      if (!Number.isFinite(node)) throw listError('SEDNA_ERR_INVALID_UPDATE', where, 'a weight is NaN or infinite');
      out[at] = node;
      return at + 1;
    }
    // JSON cannot carry NaN: JavaScript's JSON.stringify writes it as null.
    if (node === null)
      throw listError('SEDNA_ERR_INVALID_UPDATE', where, 'a weight is null (NaN or Infinity before JSON encoding)');
    throw listError(
      'SEDNA_ERR_WEIGHTS_MISMATCH',
      where,
      `a weight is ${Array.isArray(node) ? 'a list where a number belongs (ragged or deeper than the shape)' : typeof node}`,
    );
  }
  const size = shape[dim] as number;
  if (!Array.isArray(node) || node.length !== size) {
    throw listError(
      'SEDNA_ERR_WEIGHTS_MISMATCH',
      where,
      `expected a list of ${size} at depth ${dim} (shape [${shape.join(', ')}]), got ${Array.isArray(node) ? `a list of ${node.length}` : node === null ? 'null' : typeof node}`,
    );
  }
  if (dim === shape.length - 1) {
    for (let i = 0; i < size; i++) {
      const v: unknown = node[i];
      if (typeof v === 'number' && Number.isFinite(v)) out[at + i] = v;
      else fill(v, shape, dim + 1, out, at + i, where); // throws the precise error
    }
    return at + size;
  }
  let next = at;
  for (let i = 0; i < size; i++) next = fill(node[i] as unknown, shape, dim + 1, out, next, where);
  return next;
}

function castFromFloat64(values: Float64Array, dtype: WeightDtype): WeightData {
  switch (dtype) {
    case 'float64':
      return values;
    case 'float32':
      return Float32Array.from(values);
    case 'int32':
      return Int32Array.from(values, (v) => Math.round(v));
    case 'uint8':
      return Uint8Array.from(values, (v) => Math.round(v));
    case 'int64':
      return BigInt64Array.from(values, (v) => BigInt(Math.round(v)));
  }
}

/**
 * Converts Sedna's JSON weights (a list of nested lists) into records. With a `layout`, each list
 * must have that tensor's shape and takes its name and dtype; without one, shapes are inferred
 * (rectangular lists only) and tensors are float64 named `tensor_<i>`. Ragged lists and wrong
 * shapes fail with SEDNA_ERR_WEIGHTS_MISMATCH; NaN, Infinity or null values with
 * SEDNA_ERR_INVALID_UPDATE.
 */
export function weightsFromNestedLists(lists: unknown, layout?: WeightLayout, where = 'weights'): WeightRecord[] {
  if (!Array.isArray(lists)) throw listError('SEDNA_ERR_WEIGHTS_MISMATCH', where, 'weights are not a list of tensors');
  if (layout !== undefined && layout.length !== lists.length) {
    throw listError('SEDNA_ERR_WEIGHTS_MISMATCH', where, `expected ${layout.length} tensors, got ${lists.length}`);
  }
  return lists.map((value: unknown, i): WeightRecord => {
    const want = layout?.[i];
    const shape = want === undefined ? inferNestedShape(value) : [...want.shape];
    const out = new Float64Array(elementCount(shape));
    const label = `${where}: tensor #${i}${want === undefined ? '' : ` ("${want.name}")`}`;
    fill(value, shape, 0, out, 0, label);
    const dtype = want?.dtype ?? 'float64';
    const record: WeightRecord = { name: want?.name ?? `tensor_${i}`, dtype, shape, data: castFromFloat64(out, dtype) };
    return record;
  });
}

/** The layout of some weights (names, dtypes, shapes) without their data. */
export function layoutOf(records: readonly WeightRecord[]): WeightLayout {
  return records.map((r) => ({ name: r.name, dtype: r.dtype, shape: [...r.shape] }));
}

/**
 * Converts weights to another layout's dtypes (same shapes, by position), keeping the layout's
 * names: e.g. a float64 aggregate for a float32 model. Tensors already of the right dtype are
 * passed through. Throws SEDNA_ERR_WEIGHTS_MISMATCH when count or shapes differ.
 */
export function castWeightsLike(
  records: readonly WeightRecord[],
  layout: WeightLayout,
  where = 'weights',
): WeightRecord[] {
  if (records.length !== layout.length) {
    throw listError('SEDNA_ERR_WEIGHTS_MISMATCH', where, `expected ${layout.length} tensors, got ${records.length}`);
  }
  return records.map((r, i) => {
    const want = layout[i] as WeightLayout[number];
    checkWeightRecord(r, where);
    if (r.shape.length !== want.shape.length || r.shape.some((d, j) => d !== want.shape[j])) {
      throw listError(
        'SEDNA_ERR_WEIGHTS_MISMATCH',
        where,
        `tensor #${i} is [${r.shape.join(', ')}], expected [${want.shape.join(', ')}] like "${want.name}"`,
      );
    }
    if (r.dtype === want.dtype) return r.name === want.name ? r : { ...r, name: want.name };
    const values =
      r.data instanceof BigInt64Array ? Float64Array.from(r.data, (v) => Number(v)) : Float64Array.from(r.data);
    const record: WeightRecord = {
      name: want.name,
      dtype: want.dtype,
      shape: [...want.shape],
      data: castFromFloat64(values, want.dtype),
    };
    return record;
  });
}

/** Index of the first tensor holding a NaN or infinite value, with the element index; undefined if none. */
export function findNonFinite(records: readonly WeightRecord[]): { tensor: number; index: number } | undefined {
  for (let t = 0; t < records.length; t++) {
    const data = (records[t] as WeightRecord).data;
    if (!(data instanceof Float32Array || data instanceof Float64Array)) continue; // integers are always finite
    for (let i = 0; i < data.length; i++) {
      const v = data[i] as number;
      if (v - v !== 0) return { tensor: t, index: i };
    }
  }
  return undefined;
}
