/**
 * The messages of the federated-learning protocol, read off the wire and written to it, on top of
 * the frame codecs of `aggregation-protocol.ts`: a received WebSocket message as a frame (text or
 * binary), a client's `update_weight` as the server reads it, an aggregate (`recv_weight`) as the
 * server writes it once per encoding and as a client reads it.
 */
/**
 * A received WebSocket message as `ws` delivers it (its `RawData`), spelt out so that the public
 * declarations do not import `ws`'s types.
 */
type RawData = Buffer | ArrayBuffer | Buffer[];
import { SednaError, messageOf } from '../common/errors.js';
import {
  findNonFinite,
  isFramedInPlace,
  weightsFromNestedLists,
  weightsToJsonTensors,
  type WeightRecord,
} from '../backend/weights.js';
import { checkNumSamples, type AggregateResult } from '../algorithms/aggregation/base.js';
import { toPythonJson } from '../common/python-json.js';
import {
  decodeBinaryMessage,
  encodeBinaryMessage,
  encodeBinaryMessageChunks,
  parseTextFrame,
  updateData,
  type ExitFlag,
  type Frame,
  type WireEncoding,
} from './aggregation-protocol.js';
import type { ClosedRound } from './server/aggregation-round.js';
import { S3_REF_FIELD, type S3WeightsRef } from './transmitter.js';

/** The bytes of a ws message, whatever form ws delivered it in. */
export function messageBytes(data: RawData): Buffer {
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
}

/** A received message: its frame, the weights of a binary one, the text of a text one. */
export interface ReceivedMessage {
  readonly frame: Frame;
  /** Weights carried by a binary frame (views on its bytes). */
  readonly weights: WeightRecord[] | undefined;
  /** A text frame as received. */
  readonly text: string | undefined;
}

/** Reads a WebSocket message; throws the protocol's coded errors (see `parseTextFrame`). */
export function readMessage(data: RawData, isBinary: boolean): ReceivedMessage {
  const bytes = messageBytes(data);
  if (isBinary) {
    const { frame, weights } = decodeBinaryMessage(bytes);
    return { frame, weights, text: undefined };
  }
  const text = bytes.toString('utf8');
  return { frame: parseTextFrame(text), weights: undefined, text };
}

/** An `update_weight` as the server takes it. */
export interface ReadUpdate {
  readonly numSamples: number;
  readonly weights: WeightRecord[];
  readonly encoding: WireEncoding;
  /** The round the client says it trained for (binary clients say; Sedna's JSON clients do not). */
  readonly round: number | undefined;
  readonly jobName: string;
}

/**
 * Reads an `update_weight` frame from `client`: the weights of the binary frame, or Sedna's
 * nested lists in `data.weights`; then the sample count, at most `maxNumSamples`
 * (SEDNA_ERR_INVALID_UPDATE above it: one client must not set a weighted mean alone).
 */
export function readUpdate(
  frame: Frame,
  binaryWeights: WeightRecord[] | undefined,
  client: string,
  maxNumSamples: number = Number.MAX_SAFE_INTEGER,
): ReadUpdate {
  const data = updateData(frame);
  const numSamples = checkNumSamples(data.numSamples, `num_samples of "${client}"`);
  if (numSamples > maxNumSamples) {
    throw new SednaError(
      'SEDNA_ERR_INVALID_UPDATE',
      `num_samples of "${client}" is ${numSamples}, more than the server accepts (${maxNumSamples}, option maxNumSamples / AGG_MAX_NUM_SAMPLES)`,
      { details: { value: numSamples, limit: maxNumSamples } },
    );
  }
  const weights = binaryWeights ?? weightsFromNestedLists(data.weights, undefined, `update from "${client}"`);
  const encoding: WireEncoding = binaryWeights === undefined ? 'json' : 'binary';
  const roundField = frame.round_number;
  return {
    numSamples,
    weights,
    encoding,
    round: encoding === 'binary' && typeof roundField === 'number' ? roundField : undefined,
    jobName: typeof frame.job_name === 'string' ? frame.job_name : '',
  };
}

/**
 * The aggregate's tensors for a binary client of float width `width`: float tensors in that width
 * (from the float64 form when the result has one, else widened or rounded once), others as they
 * are. The result's own records when nothing changes (so a preallocated frame stays one).
 */
function inWidth(result: AggregateResult, width: 'float32' | 'float64'): readonly WeightRecord[] {
  const { weights, float64Weights } = result;
  const picked = weights.map((w, t): WeightRecord => {
    if (w.dtype !== 'float32' && w.dtype !== 'float64') return w;
    if (width === 'float64') {
      const wide = float64Weights?.[t];
      if (wide !== undefined) return wide;
      return w.dtype === 'float64' ? w : { ...w, dtype: 'float64', data: Float64Array.from(w.data as Float32Array) };
    }
    return w.dtype === 'float32' ? w : { ...w, dtype: 'float32', data: Float32Array.from(w.data as Float64Array) };
  });
  if (picked.every((r, t) => r === weights[t])) return weights;
  if (float64Weights !== undefined && picked.every((r, t) => r === float64Weights[t])) return float64Weights;
  return picked;
}

/**
 * Frames of one aggregate, encoded once per encoding (and float width) and sent to every client
 * that wants it: JSON clients get the float64 form when there is one (what Sedna's numpy server
 * sends), binary clients their own float width. A binary frame is a list of chunks referencing
 * the aggregate's arrays, written as fragments of one message: no copy of the weights, whatever
 * the number of clients.
 */
export class AggregateFrames {
  private json: string | undefined;
  private readonly binary = new Map<'float32' | 'float64', Uint8Array[]>();
  private readonly viaS3 = new Map<'float32' | 'float64', string>();

  /** `s3`: where the aggregate was put (per float width) for clients that take it from S3. */
  constructor(
    readonly closed: ClosedRound,
    readonly s3?: ReadonlyMap<'float32' | 'float64', S3WeightsRef>,
  ) {}

  /** The aggregate's weights in one float width (see `inWidth`). */
  weights(width: 'float32' | 'float64'): readonly WeightRecord[] {
    return inWidth(this.closed.result, width);
  }

  /** The recv_weight frame without its weights. */
  envelope(): {
    type: string;
    client: string;
    data: Record<string, unknown>;
    job_name: string;
    round_number: number;
  } {
    const { round, result, exitFlag, sender, jobName } = this.closed;
    // Key order as Sedna's server writes it (it rewrites the completing update_weight frame).
    return {
      type: 'recv_weight',
      client: sender,
      data: { total_sample: result.totalSamples, round_number: round, exit_flag: exitFlag },
      job_name: jobName,
      round_number: round,
    };
  }

  /**
   * The aggregate for one client: `float64` for a binary client that sends float64 tensors; for
   * an S3 client, a reference to the aggregate of its width when that was put in S3.
   */
  frame(encoding: WireEncoding, float64 = false, viaS3 = false): string | Uint8Array[] {
    const width = float64 ? 'float64' : 'float32';
    const ref = viaS3 ? this.s3?.get(width) : undefined;
    if (ref !== undefined) {
      let text = this.viaS3.get(width);
      if (text === undefined) {
        const env = this.envelope();
        text = JSON.stringify({ ...env, data: { ...env.data, [S3_REF_FIELD]: ref } });
        this.viaS3.set(width, text);
      }
      return text;
    }
    if (encoding === 'binary') {
      let chunks = this.binary.get(width);
      if (chunks === undefined) {
        // FedAvg's output is laid out as a frame already: one message, framed without a copy.
        // Other outputs go as fragments that reference their arrays (no copy either).
        const weights = inWidth(this.closed.result, width);
        chunks = isFramedInPlace(weights)
          ? [encodeBinaryMessage(this.envelope(), weights)]
          : encodeBinaryMessageChunks(this.envelope(), weights);
        this.binary.set(width, chunks);
      }
      return chunks;
    }
    if (this.json === undefined) {
      const { round, result, exitFlag } = this.closed;
      const env = this.envelope();
      // Floats as Python writes them (`4.0`, not `4`): a Python trainer's np.asarray gets float64.
      this.json = toPythonJson({
        ...env,
        data: {
          total_sample: result.totalSamples,
          round_number: round,
          weights: weightsToJsonTensors(result.float64Weights ?? result.weights),
          exit_flag: exitFlag,
        },
      });
    }
    return this.json;
  }
}

/** An aggregate from the server (`recv_weight`). */
export interface AggregateMessage {
  readonly round: number;
  readonly totalSamples: number;
  readonly exitFlag: ExitFlag;
  /** Typed-array weights: as sent in binary mode; float64 with inferred shapes from JSON lists. */
  readonly weights: readonly WeightRecord[];
  /** The client whose update completed the round. */
  readonly client: string;
  readonly jobName: string;
  readonly encoding: WireEncoding;
}

function roundFailed(problem: string, cause?: unknown): SednaError {
  return new SednaError('SEDNA_ERR_ROUND_FAILED', `malformed recv_weight: ${problem}`, { cause });
}

/**
 * Reads a `recv_weight` frame as a client; weights come from the binary frame or from
 * `data.weights` lists. Anything malformed is SEDNA_ERR_ROUND_FAILED.
 */
export function readAggregate(frame: Frame, binaryWeights: WeightRecord[] | undefined): AggregateMessage {
  const data = frame.data as Record<string, unknown> | null | undefined;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw roundFailed('no "data" object');
  const { total_sample: total, round_number: round, exit_flag: exitFlag } = data;
  if (typeof total !== 'number' || !Number.isSafeInteger(total) || total < 0) {
    throw roundFailed(`total_sample is ${JSON.stringify(total)}`);
  }
  if (typeof round !== 'number' || !Number.isSafeInteger(round) || round < 1) {
    throw roundFailed(`round_number is ${JSON.stringify(round)}`);
  }
  if (exitFlag !== 'ok' && exitFlag !== 'continue') throw roundFailed(`exit_flag is ${JSON.stringify(exitFlag)}`);
  let weights: WeightRecord[];
  try {
    weights = binaryWeights ?? weightsFromNestedLists(data.weights, undefined, 'recv_weight');
  } catch (err) {
    throw roundFailed(`weights: ${messageOf(err)}`, err);
  }
  if (weights.length === 0) throw roundFailed('no weights');
  // Binary frames can carry NaN/Infinity (JSON cannot): such an aggregate must never reach a model.
  const bad = findNonFinite(weights);
  if (bad !== undefined) {
    throw roundFailed(
      `weights: tensor #${bad.tensor} ("${(weights[bad.tensor] as WeightRecord).name}") holds a NaN or infinite value at index ${bad.index}`,
    );
  }
  return {
    round,
    totalSamples: total,
    exitFlag,
    weights,
    client: typeof frame.client === 'string' ? frame.client : '',
    jobName: typeof frame.job_name === 'string' ? frame.job_name : '',
    encoding: binaryWeights === undefined ? 'json' : 'binary',
  };
}
