/**
 * Multi-edge records (src/datasources/multi-edge/records.ts) and their binary frame (codec.ts):
 * Sedna's fields and defaults, the detection-time format and image key, round trips of random
 * records at odd offsets inside larger buffers (fast-check), and hostile frames.
 */
import fc from 'fast-check';
import {
  decodeRecords,
  decodeResults,
  decodeTargets,
  encodeResults,
  encodeTargets,
  isRecordFrame,
} from '../../src/datasources/multi-edge/codec.js';
import {
  DetTrackResult,
  OP_MODE,
  Target,
  TargetImages,
  formatDetectionTime,
  parseDetectionTime,
} from '../../src/datasources/multi-edge/records.js';
import { errorOf } from '../helpers/errors.js';

describe('records', () => {
  it('DetTrackResult has Sedna defaults and never shares lists between instances', () => {
    const a = new DetTrackResult();
    const b = new DetTrackResult();
    expect(a).toMatchObject({ userID: 'DEFAULT', frameIndex: 0, camera: 0, isTarget: false, scene: undefined });
    a.bboxCoord.push([1, 2, 3, 4]);
    a.features.push(new Float32Array(2));
    expect(b.bboxCoord).toEqual([]); // Sedna's mutable default lists are shared: ours are not
    expect(b.features).toEqual([]);
    expect(new Target({ userid: 'u', features: [] })).toMatchObject({ targetid: '0000', frameIndex: 0 });
    expect(new TargetImages('u').targets).toEqual([]);
    expect(Object.values(OP_MODE)).toEqual(['detection', 'tracking', 'covid19', 'noop']);
  });

  it('formats and parses the detection time as Python does, and builds the image key', () => {
    const date = new Date(2023, 5, 5, 14, 3, 2, 123);
    const text = formatDetectionTime(date, 456);
    expect(text).toBe('Mon, 05 June 2023 14:03:02.123456');
    expect(parseDetectionTime(text)).toBeCloseTo(date.getTime() / 1000 + 0.000456, 6);
    const r = new DetTrackResult({ detectionTime: formatDetectionTime(new Date(2023, 0, 1, 0, 0, 0, 0)), camera: 3 });
    expect(r.imageKey).toBe(`${new Date(2023, 0, 1).getTime() / 1000}.0_3`);
    expect(new DetTrackResult({ detectionTime: 'yesterday' }).imageKey).toBe('0');
    expect(parseDetectionTime('Mon, 31 February 2023 10:00:00.000000')).toBeUndefined();
    expect(parseDetectionTime('Mon, 05 Juno 2023 10:00:00.000000')).toBeUndefined();
  });
});

// Numbers travel in the JSON header, which has no negative zero (harmless for coordinates and scores).
const finite = fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }).map((v) => v + 0);
const bytes = fc.uint8Array({ maxLength: 300 });
const feature = fc
  .integer({ min: 0, max: 40 })
  .chain((n) => fc.float32Array({ minLength: n, maxLength: n, noNaN: true, noDefaultInfinity: true }));
const result = fc.record({
  userID: fc.string({ maxLength: 20 }),
  frameIndex: fc.nat(),
  bbox: fc.array(bytes, { maxLength: 4 }),
  tracklets: fc.array(fc.oneof(fc.integer(), fc.string({ maxLength: 8 })), { maxLength: 4 }),
  bboxCoord: fc.array(fc.tuple(finite, finite, finite, finite), { maxLength: 4 }),
  scene: fc.option(bytes, { nil: undefined }),
  confidence: fc.array(finite, { maxLength: 4 }),
  detectionTime: fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
  camera: fc.oneof(fc.integer(), fc.string({ maxLength: 8 })),
  features: fc.array(feature, { maxLength: 4 }),
  isTarget: fc.oneof(fc.boolean(), fc.nat()),
  targetID: fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }),
});

/** Places `frame` at `offset` inside a larger buffer, as a socket or a Kafka batch delivers it. */
function embedded(frame: Buffer, offset: number): Buffer {
  const big = Buffer.alloc(offset + frame.length + 7, 0xee);
  frame.copy(big, offset);
  return big.subarray(offset, offset + frame.length);
}

describe('record frames', () => {
  it('round-trips random results at odd offsets, copying blobs out of the input', () => {
    fc.assert(
      fc.property(fc.array(result, { maxLength: 5 }), fc.integer({ min: 0, max: 13 }), (inits, offset) => {
        const records = inits.map((init) => new DetTrackResult(init));
        const view = embedded(encodeResults(records), offset);
        expect(isRecordFrame(view)).toBe(true);
        const back = decodeResults(view);
        expect(back).toEqual(records);
        for (const r of back) for (const f of r.features) expect(f.byteOffset % 4).toBe(0);
        view.fill(0); // decoded data must not alias the input buffer
        expect(back).toEqual(records);
      }),
      { numRuns: 200 },
    );
  });

  it('round-trips targets, and keeps the kind apart', () => {
    const targets = [
      new Target({ userid: 'alice', features: [Float32Array.of(0.5, -1, 2)], targetid: '0001', location: 'cam-0' }),
    ];
    const frame = encodeTargets(targets);
    expect(decodeTargets(frame)).toEqual(targets);
    expect(decodeRecords(frame).kind).toBe('targets');
    expect(errorOf(() => decodeResults(frame)).code).toBe('SEDNA_ERR_RECORD_FORMAT');
  });

  it('rejects anything that is not a valid frame with a coded error, never a crash', () => {
    const good = encodeResults([
      new DetTrackResult({ features: [Float32Array.of(1, 2)], scene: Uint8Array.of(1, 2, 3) }),
    ]);
    const cases: [string, Buffer][] = [
      ['empty', Buffer.alloc(0)],
      ['a pickle', Buffer.from([0x80, 0x04, 0x95, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x2e])],
      ['truncated', good.subarray(0, good.length - 1)],
      ['one byte longer', Buffer.concat([good, Buffer.of(0)])],
      ['another version', Buffer.concat([good.subarray(0, 4), Buffer.of(9), good.subarray(5)])],
      ['an unknown kind', Buffer.concat([good.subarray(0, 5), Buffer.of(7), good.subarray(6)])],
    ];
    for (const [name, frame] of cases) {
      expect([name, errorOf(() => decodeRecords(frame)).code]).toEqual([name, 'SEDNA_ERR_RECORD_FORMAT']);
    }
  });

  it('rejects hostile headers: blobs out of range, bad types, NaN features, odd feature lengths', () => {
    const frameWith = (header: unknown, blobs: Buffer = Buffer.alloc(8)): Buffer => {
      const json = Buffer.from(JSON.stringify(header));
      const start = Math.ceil((16 + json.length) / 8) * 8;
      const out = Buffer.alloc(start + blobs.length);
      out.write('SMER', 0, 'latin1');
      out.writeUInt8(1, 4);
      out.writeUInt8(1, 5);
      out.writeUInt32LE(json.length, 8);
      out.writeUInt32LE(blobs.length, 12);
      json.copy(out, 16);
      blobs.copy(out, start);
      return out;
    };
    const base = {
      userID: 'u',
      frameIndex: 1,
      bbox: [],
      tracklets: [],
      bboxCoord: [],
      scene: null,
      confidence: [],
      detectionTime: null,
      camera: 0,
      features: [],
      isTarget: false,
      targetID: [],
    };
    const nan = Buffer.alloc(8);
    nan.writeFloatLE(Number.NaN, 0);
    const cases: [string, unknown, Buffer?][] = [
      ['a blob past the end', { records: [{ ...base, scene: 0 }], blobs: [[0, 9]] }],
      ['a missing blob', { records: [{ ...base, scene: 3 }], blobs: [] }],
      ['a negative offset', { records: [], blobs: [[-1, 2]] }],
      ['frameIndex as text', { records: [{ ...base, frameIndex: '1' }], blobs: [] }],
      ['a 3-number box', { records: [{ ...base, bboxCoord: [[1, 2, 3]] }], blobs: [] }],
      ['a 5-byte feature', { records: [{ ...base, features: [0] }], blobs: [[0, 5]] }],
      ['a NaN feature', { records: [{ ...base, features: [0] }], blobs: [[0, 8]] }, nan],
      ['records not a list', { records: {}, blobs: [] }],
      ['a header that is a list', []],
      ['a record that is null', { records: [null], blobs: [] }],
    ];
    for (const [name, header, blobs] of cases) {
      expect([name, errorOf(() => decodeRecords(frameWith(header, blobs))).code]).toEqual([
        name,
        'SEDNA_ERR_RECORD_FORMAT',
      ]);
    }
    expect(decodeResults(frameWith({ records: [base], blobs: [] }))).toHaveLength(1);
  });

  it('never throws anything but a coded error on random bytes or corrupted frames', () => {
    const good = encodeResults([
      new DetTrackResult({ features: [Float32Array.of(1, 2, 3)], bbox: [Uint8Array.of(9)] }),
    ]);
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.nat({ max: good.length - 1 }),
        fc.integer({ min: 0, max: 255 }),
        (noise, at, value) => {
          for (const input of [Buffer.from(noise), Buffer.concat([Buffer.from('SMER\x01\x01'), Buffer.from(noise)])]) {
            try {
              decodeRecords(input);
            } catch (err) {
              expect(err).toMatchObject({ code: 'SEDNA_ERR_RECORD_FORMAT' });
            }
          }
          const corrupted = Buffer.from(good);
          corrupted[at] = value;
          try {
            decodeRecords(corrupted);
          } catch (err) {
            expect(err).toMatchObject({ code: 'SEDNA_ERR_RECORD_FORMAT' });
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
