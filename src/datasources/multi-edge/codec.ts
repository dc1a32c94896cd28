/**
 * The binary frame multi-edge records travel in, over REST bodies and Kafka messages alike.
 * Sedna pickles its records (any peer can then run code on the receiver, and only Python can read
 * them); we keep the records and send a typed frame:
 *
 *   0  magic "SMER" | 4 version (1) | 5 kind (1 results, 2 targets) | 6 flags (0, u16)
 *   8  header length (u32 LE) | 12 blob section length (u32 LE)
 *   16 header: UTF-8 JSON `{records: [...], blobs: [[offset, length], ...]}`
 *      blob section (starts 8-aligned): JPEG bytes and little-endian float32 feature vectors,
 *      each blob 8-aligned, referenced from the records by index.
 *
 * The decoder checks everything a hostile peer controls (types, ranges, blob bounds, counts) and
 * answers with `SEDNA_ERR_RECORD_FORMAT`; decoded blobs are copies, never views of the input.
 */
import { SednaError } from '../../common/errors.js';
import { DetTrackResult, Target, type BoxCoord } from './records.js';

export const RECORD_FRAME_MAGIC = 'SMER';
export const RECORD_FRAME_VERSION = 1;
/** The content type of a record frame in HTTP bodies. */
export const RECORD_CONTENT_TYPE = 'application/x-sedna-records';

const KIND_RESULTS = 1;
const KIND_TARGETS = 2;
const PREFIX_BYTES = 16;
const ALIGN = 8;
/** Bounds on what one frame may declare, so a small hostile header cannot ask for huge work. */
const MAX_RECORDS = 100_000;
const MAX_ITEMS = 100_000;
const MAX_TEXT = 4096;

export type RecordFrame = { kind: 'results'; records: DetTrackResult[] } | { kind: 'targets'; records: Target[] };

/** Collects blobs and their 8-aligned offsets in the blob section. */
class BlobTable {
  readonly blobs: Uint8Array[] = [];
  readonly layout: [number, number][] = [];
  total = 0;

  add(bytes: Uint8Array): number {
    const offset = alignUp(this.total);
    this.blobs.push(bytes);
    this.layout.push([offset, bytes.byteLength]);
    this.total = offset + bytes.byteLength;
    return this.blobs.length - 1;
  }
}

const alignUp = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;

function featureBytes(feature: Float32Array): Uint8Array {
  return new Uint8Array(feature.buffer, feature.byteOffset, feature.byteLength);
}

/** Encodes detection/tracking results into one frame. */
export function encodeResults(records: readonly DetTrackResult[]): Buffer {
  const blobs = new BlobTable();
  const json = records.map((r) => ({
    userID: r.userID,
    frameIndex: r.frameIndex,
    bbox: r.bbox.map((b) => blobs.add(b)),
    tracklets: r.tracklets,
    bboxCoord: r.bboxCoord,
    scene: r.scene === undefined ? null : blobs.add(r.scene),
    confidence: r.confidence,
    detectionTime: r.detectionTime ?? null,
    camera: r.camera,
    features: r.features.map((f) => blobs.add(featureBytes(f))),
    isTarget: r.isTarget,
    targetID: r.targetID,
  }));
  return writeFrame(KIND_RESULTS, json, blobs);
}

/** Encodes targets (a user's query features) into one frame. */
export function encodeTargets(records: readonly Target[]): Buffer {
  const blobs = new BlobTable();
  const json = records.map((t) => ({
    userid: t.userid,
    features: t.features.map((f) => blobs.add(featureBytes(f))),
    targetid: t.targetid,
    trackingId: t.trackingId ?? null,
    location: t.location ?? null,
    frameIndex: t.frameIndex,
  }));
  return writeFrame(KIND_TARGETS, json, blobs);
}

function writeFrame(kind: number, records: unknown[], blobs: BlobTable): Buffer {
  const header = Buffer.from(JSON.stringify({ records, blobs: blobs.layout }), 'utf8');
  const blobStart = alignUp(PREFIX_BYTES + header.length);
  const out = Buffer.alloc(blobStart + blobs.total);
  out.write(RECORD_FRAME_MAGIC, 0, 'latin1');
  out.writeUInt8(RECORD_FRAME_VERSION, 4);
  out.writeUInt8(kind, 5);
  out.writeUInt16LE(0, 6);
  out.writeUInt32LE(header.length, 8);
  out.writeUInt32LE(blobs.total, 12);
  header.copy(out, PREFIX_BYTES);
  blobs.blobs.forEach((bytes, i) => {
    const [offset] = blobs.layout[i] as [number, number];
    out.set(bytes, blobStart + offset);
  });
  return out;
}

/** Whether `bytes` starts like a record frame (cheap; use before trusting a Kafka message). */
export function isRecordFrame(bytes: Uint8Array): boolean {
  return (
    bytes.byteLength >= PREFIX_BYTES &&
    bytes[0] === 0x53 &&
    bytes[1] === 0x4d &&
    bytes[2] === 0x45 &&
    bytes[3] === 0x52 &&
    bytes[4] === RECORD_FRAME_VERSION
  );
}

/** Decodes a frame; throws `SEDNA_ERR_RECORD_FORMAT` for anything that is not a valid one. */
export function decodeRecords(input: Uint8Array): RecordFrame {
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (buf.length < PREFIX_BYTES || buf.toString('latin1', 0, 4) !== RECORD_FRAME_MAGIC)
    throw bad('not a sedna-sdk record frame (no "SMER" magic)');
  const version = buf.readUInt8(4);
  if (version !== RECORD_FRAME_VERSION)
    throw bad(`record frame version ${version} is not supported (this reader knows ${RECORD_FRAME_VERSION})`);
  const kind = buf.readUInt8(5);
  const headerLength = buf.readUInt32LE(8);
  const blobLength = buf.readUInt32LE(12);
  const blobStart = alignUp(PREFIX_BYTES + headerLength);
  if (blobStart + blobLength !== buf.length)
    throw bad(`frame is ${buf.length} bytes but its prefix declares ${blobStart + blobLength}`);
  let header: unknown;
  try {
    header = JSON.parse(buf.toString('utf8', PREFIX_BYTES, PREFIX_BYTES + headerLength));
  } catch (err) {
    throw bad('the frame header is not JSON', err);
  }
  const reader = new FrameReader(buf, blobStart, blobLength, header);
  if (kind === KIND_RESULTS) return { kind: 'results', records: reader.records(readResult) };
  if (kind === KIND_TARGETS) return { kind: 'targets', records: reader.records(readTarget) };
  throw bad(`unknown record kind ${kind}`);
}

/** Decodes a frame that must hold detection/tracking results. */
export function decodeResults(input: Uint8Array): DetTrackResult[] {
  const frame = decodeRecords(input);
  if (frame.kind !== 'results') throw bad(`expected detection results, got ${frame.kind}`);
  return frame.records;
}

/** Decodes a frame that must hold targets. */
export function decodeTargets(input: Uint8Array): Target[] {
  const frame = decodeRecords(input);
  if (frame.kind !== 'targets') throw bad(`expected targets, got ${frame.kind}`);
  return frame.records;
}

function bad(message: string, cause?: unknown): SednaError {
  return new SednaError('SEDNA_ERR_RECORD_FORMAT', message, { cause });
}

type Json = Record<string, unknown>;

class FrameReader {
  private readonly blobs: [number, number][];
  private readonly recordList: unknown[];

  constructor(
    private readonly buf: Buffer,
    private readonly blobStart: number,
    private readonly blobLength: number,
    header: unknown,
  ) {
    if (typeof header !== 'object' || header === null || Array.isArray(header))
      throw bad('the header is not an object');
    const { records, blobs } = header as Json;
    if (!Array.isArray(records) || records.length > MAX_RECORDS)
      throw bad(`header.records must be a list of at most ${MAX_RECORDS}`);
    if (!Array.isArray(blobs) || blobs.length > MAX_ITEMS * 4) throw bad('header.blobs must be a list');
    this.blobs = blobs.map((entry, i) => {
      if (!Array.isArray(entry) || entry.length !== 2) throw bad(`blobs[${i}] is not [offset, length]`);
      const [offset, length] = entry as unknown[];
      if (!isCount(offset) || !isCount(length) || offset + length > blobLength)
        throw bad(`blobs[${i}] = ${JSON.stringify(entry)} lies outside the ${blobLength}-byte blob section`);
      return [offset, length];
    });
    this.recordList = records;
  }

  records<T>(read: (r: RecordReader) => T): T[] {
    return this.recordList.map((value, i) => {
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        throw bad(`records[${i}] is not an object`);
      return read(new RecordReader(this, value as Json, `records[${i}]`));
    });
  }

  blob(index: unknown, where: string): Uint8Array {
    if (!isCount(index) || index >= this.blobs.length)
      throw bad(`${where} names blob ${String(index)}, which does not exist`);
    const [offset, length] = this.blobs[index] as [number, number];
    const start = this.blobStart + offset;
    return Uint8Array.prototype.slice.call(this.buf, start, start + length);
  }

  feature(index: unknown, where: string): Float32Array {
    const bytes = this.blob(index, where);
    if (bytes.byteLength % 4 !== 0) throw bad(`${where}: a float32 feature cannot be ${bytes.byteLength} bytes long`);
    const values = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    for (const v of values) if (!Number.isFinite(v)) throw bad(`${where}: the feature holds NaN or Infinity`);
    return values;
  }
}

class RecordReader {
  constructor(
    private readonly frame: FrameReader,
    private readonly json: Json,
    private readonly where: string,
  ) {}

  string(key: string): string {
    const v = this.json[key];
    if (typeof v !== 'string' || v.length > MAX_TEXT) throw bad(`${this.where}.${key} must be a string`);
    return v;
  }
  optionalString(key: string): string | undefined {
    return this.json[key] === null || this.json[key] === undefined ? undefined : this.string(key);
  }
  integer(key: string): number {
    const v = this.json[key];
    if (!Number.isSafeInteger(v)) throw bad(`${this.where}.${key} must be an integer`);
    return v as number;
  }
  list(key: string): unknown[] {
    const v = this.json[key];
    if (!Array.isArray(v) || v.length > MAX_ITEMS) throw bad(`${this.where}.${key} must be a list`);
    return v;
  }
  numbers(key: string): number[] {
    return this.list(key).map((v, i) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(`${this.where}.${key}[${i}] must be a finite number`);
      return v;
    });
  }
  ids(key: string): (number | string)[] {
    return this.list(key).map((v, i) => {
      if (typeof v === 'string' && v.length <= MAX_TEXT) return v;
      if (typeof v === 'number' && Number.isFinite(v)) return v;
      throw bad(`${this.where}.${key}[${i}] must be a number or a string`);
    });
  }
  strings(key: string): string[] {
    return this.list(key).map((v, i) => {
      if (typeof v !== 'string' || v.length > MAX_TEXT) throw bad(`${this.where}.${key}[${i}] must be a string`);
      return v;
    });
  }
  boxes(key: string): BoxCoord[] {
    return this.list(key).map((v, i) => {
      if (!Array.isArray(v) || v.length !== 4 || !v.every((n) => typeof n === 'number' && Number.isFinite(n)))
        throw bad(`${this.where}.${key}[${i}] must be [x1, y1, x2, y2]`);
      return v as unknown as BoxCoord;
    });
  }
  blobs(key: string): Uint8Array[] {
    return this.list(key).map((index, i) => this.frame.blob(index, `${this.where}.${key}[${i}]`));
  }
  optionalBlob(key: string): Uint8Array | undefined {
    const v = this.json[key];
    return v === null || v === undefined ? undefined : this.frame.blob(v, `${this.where}.${key}`);
  }
  features(key: string): Float32Array[] {
    return this.list(key).map((index, i) => this.frame.feature(index, `${this.where}.${key}[${i}]`));
  }
  camera(): number | string {
    const v = this.json.camera;
    if (typeof v === 'string' && v.length <= MAX_TEXT) return v;
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    throw bad(`${this.where}.camera must be a number or a string`);
  }
  isTarget(): boolean | number {
    const v = this.json.isTarget;
    if (typeof v === 'boolean' || Number.isSafeInteger(v)) return v as boolean | number;
    throw bad(`${this.where}.isTarget must be a boolean or an index`);
  }
}

function readResult(r: RecordReader): DetTrackResult {
  const result = new DetTrackResult({
    userID: r.string('userID'),
    frameIndex: r.integer('frameIndex'),
    bbox: r.blobs('bbox'),
    tracklets: r.ids('tracklets'),
    bboxCoord: r.boxes('bboxCoord'),
    scene: r.optionalBlob('scene'),
    confidence: r.numbers('confidence'),
    detectionTime: r.optionalString('detectionTime'),
    camera: r.camera(),
    features: r.features('features'),
    isTarget: r.isTarget(),
    targetID: r.strings('targetID'),
  });
  return result;
}

function readTarget(r: RecordReader): Target {
  return new Target({
    userid: r.string('userid'),
    features: r.features('features'),
    targetid: r.string('targetid'),
    trackingId: r.optionalString('trackingId'),
    location: r.optionalString('location'),
    frameIndex: r.integer('frameIndex'),
  });
}

function isCount(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}
