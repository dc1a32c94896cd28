/**
 * Sedna's federated-learning v1 protocol over WebSocket (spec §6.4), shared by
 * `AggregationServer` and `AggregationClient`, plus our negotiated binary mode.
 *
 * JSON mode (what Python Sedna speaks; every frame a JSON text frame):
 *   → {"type":"subscribe","client_id":ID}                        (first frame)
 *   ← the same frame back (the handshake reply), and to every other client
 *   ← {"type":"CLIENT_JOIN","data":ID}                            (to the clients already there)
 *   → {"type":"update_weight","client":ID,"data":{"num_samples":N,"weights":[nested lists]},"job_name":J}
 *   ← {"type":"recv_weight","client":SENDER,"data":{"total_sample":ΣN,"round_number":R,
 *      "weights":[nested lists],"exit_flag":"ok"|"continue"},"job_name":J,"round_number":R}
 *   → any other frame: Sedna re-broadcasts it unchanged to every client; a sedna-sdk server ignores it
 *
 * Binary mode: the subscribe frame carries `"encoding":"binary"`; a sedna-sdk server adds a
 * `"server"` object to the reply it sends that client (a Python server just echoes the frame, so
 * the client stays in JSON mode). Control frames stay JSON text; `update_weight` and `recv_weight`
 * travel as one binary frame each: the weights codec of `backend/weights.ts`, whose header `meta`
 * is the JSON envelope above without `data.weights`.
 *
 * A sedna-sdk client also puts `"session_secret"` (random, its own) in every subscribe: a sedna-sdk
 * server gives a disconnected client's kept place back only to a subscribe with the same secret.
 * With a shared token configured (AGG_TOKEN), the subscribe frame carries it as `"token"`.
 * Neither is passed on to other clients.
 *
 * Rounds (negotiated clients only; the hello says `round_config: true`): each round opens with
 *   ← {"type":"round_config","round_number":R,"data":{...configure()...},"selected":true|false}
 * (`selected` only with client selection, once the round's clients are chosen); a client trains
 * for round R only after it, and only when it is selected.
 *
 * S3 transmitter (both sides configured for it; the subscribe says `"transmitter":"s3"` and the
 * hello answers the same): `update_weight` and `recv_weight` are text frames whose `data` holds
 * `"s3_object":{"url","bytes","sha256"}` instead of weights; the object is a weights frame whose
 * meta is the message's envelope (see `transmitter.ts`).
 *
 * Errors: the server sends `{"type":"error","code":"SEDNA_ERR_…","message":"…"}` and closes with
 * the code's WebSocket close code (4000-range, {@link CLOSE_CODES}). See docs/federated-learning.md.
 */
import { SednaError, type SednaErrorCode } from '../common/errors.js';
import {
  decodeWeightsFrame,
  encodeWeightsFrame,
  encodeWeightsFrameChunks,
  type FrameMeta,
  type WeightRecord,
} from '../backend/weights.js';

export type WireEncoding = 'json' | 'binary';
export type ExitFlag = 'ok' | 'continue';

/** WebSocket close codes (4000–4999 are for applications, RFC 6455 §7.4.2). */
export const CLOSE_CODES = Object.freeze({
  /** The job finished (after the exit round), or the client closed normally. */
  NORMAL: 1000,
  /** The server is shutting down before the job finished. */
  GOING_AWAY: 1001,
  SEDNA_ERR_PROTOCOL: 4000,
  SEDNA_ERR_DUPLICATE_CLIENT: 4001,
  SEDNA_ERR_PAYLOAD_TOO_LARGE: 4002,
  SEDNA_ERR_WEIGHTS_MISMATCH: 4003,
  SEDNA_ERR_INVALID_UPDATE: 4004,
  /** No pong or frame within the liveness timeout. */
  SEDNA_ERR_TIMEOUT: 4008,
  /** The server gave up on the job: a round could not complete within its bounds. */
  SEDNA_ERR_ROUND_STALLED: 4009,
  /** The subscribe frame lacked the server's shared token. */
  SEDNA_ERR_UNAUTHORIZED: 4010,
} as const);

/**
 * Default longest time a round may stay open (the server's `roundDeadlineMs`); a client bounds its
 * wait for an aggregate by it when the server does not announce its own.
 */
export const DEFAULT_ROUND_DEADLINE_MS = 3_600_000;

/** The error codes the server drops a client for, each with its close code. */
export type DropCode =
  | 'SEDNA_ERR_PROTOCOL'
  | 'SEDNA_ERR_DUPLICATE_CLIENT'
  | 'SEDNA_ERR_PAYLOAD_TOO_LARGE'
  | 'SEDNA_ERR_WEIGHTS_MISMATCH'
  | 'SEDNA_ERR_INVALID_UPDATE'
  | 'SEDNA_ERR_TIMEOUT'
  | 'SEDNA_ERR_ROUND_STALLED'
  | 'SEDNA_ERR_UNAUTHORIZED';

export function closeCodeOf(code: DropCode): number {
  return CLOSE_CODES[code];
}

const DROP_CODES = new Set<string>([
  'SEDNA_ERR_PROTOCOL',
  'SEDNA_ERR_DUPLICATE_CLIENT',
  'SEDNA_ERR_PAYLOAD_TOO_LARGE',
  'SEDNA_ERR_WEIGHTS_MISMATCH',
  'SEDNA_ERR_INVALID_UPDATE',
  'SEDNA_ERR_TIMEOUT',
  'SEDNA_ERR_ROUND_STALLED',
  'SEDNA_ERR_UNAUTHORIZED',
]);

export function isDropCode(code: unknown): code is DropCode {
  return typeof code === 'string' && DROP_CODES.has(code);
}

/** What a sedna-sdk server adds to the subscribe reply of a client that asked for more. */
export interface ServerHello {
  readonly name: 'sedna-sdk';
  /** The encoding granted for weights frames. */
  readonly encoding: WireEncoding;
  /** The round in progress (1-based; Sedna's `round_number` of its next `recv_weight`). */
  readonly round_number: number;
  /** Whether the server already holds this client's update for that round (after a reconnect). */
  readonly update_received: boolean;
  /** Largest frame the server accepts. */
  readonly max_message_bytes: number;
  readonly exit_round: number;
  readonly participants_count: number;
  /**
   * The longest a round may stay open before the server gives up on the job (it then says so with
   * a SEDNA_ERR_ROUND_STALLED error frame); clients bound their own wait for an aggregate by it.
   * Absent from servers older than this field.
   */
  readonly round_deadline_ms?: number;
  /**
   * Every round opens with a `round_config` frame to this client (`round_number`, `data`: the
   * algorithm's round configuration, and `selected` with client selection) that comes before the
   * client should train. Absent from servers older than this field.
   */
  readonly round_config?: boolean;
  /** Only the clients a round's `round_config` says `selected: true` train in it. */
  readonly client_selection?: boolean;
  /**
   * `s3` when the client asked for it (`"transmitter": "s3"` in its subscribe) and the server has
   * an S3 transmitter: updates and aggregates then travel as `data.s3_object` references. Absent
   * or `ws`: the weights stay on this socket.
   */
  readonly transmitter?: 'ws' | 's3';
}

/** A parsed frame of the protocol (text or the envelope of a binary one). */
export interface Frame {
  readonly type: string;
  readonly [key: string]: unknown;
}

export function protocolError(message: string, details: Record<string, unknown> = {}): SednaError {
  return new SednaError('SEDNA_ERR_PROTOCOL', message, { details });
}

// JSON cannot carry NaN/Infinity, but Python's json.dumps writes them as bare words.
const NON_FINITE_WORD = /(?:^|[\s,:[])-?(?:NaN|Infinity)(?=[\s,\]}])/;

/**
 * Parses a text frame into an object with a string `type`. Python's `NaN`/`Infinity` words are an
 * invalid update (SEDNA_ERR_INVALID_UPDATE); anything else that is not such an object is
 * SEDNA_ERR_PROTOCOL.
 */
export function parseTextFrame(text: string): Frame {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    if (NON_FINITE_WORD.test(text)) {
      throw new SednaError('SEDNA_ERR_INVALID_UPDATE', 'the frame holds NaN or Infinity, which are not valid weights', {
        cause: err,
      });
    }
    throw protocolError(`the frame is not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw protocolError('the frame is not a JSON object');
  }
  const type = (value as { type?: unknown }).type;
  if (typeof type !== 'string' || type === '') throw protocolError('the frame has no string "type"');
  return value as Frame;
}

/** `{"type":"error","code","message"}`: what the server says before dropping a client. */
export function errorFrame(code: SednaErrorCode, message: string): string {
  return JSON.stringify({ type: 'error', code, message });
}

/** The SednaError an error frame stands for (clients rethrow it). */
export function errorFromFrame(frame: Frame): SednaError {
  const code = typeof frame.code === 'string' && isDropCode(frame.code) ? frame.code : 'SEDNA_ERR_PROTOCOL';
  const message = typeof frame.message === 'string' ? frame.message : 'the server reported an error';
  return new SednaError(code, `aggregation server: ${message}`, { details: { frame } });
}

// ---------------------------------------------------------------------------------------------
// Binary messages: one weights frame whose meta is the envelope.

/** Encodes a message with weights as one binary frame (the weights go in the frame, not `meta.data`). */
export function encodeBinaryMessage(envelope: FrameMeta, weights: readonly WeightRecord[]): Uint8Array {
  return encodeWeightsFrame(weights, envelope);
}

/** The same frame as chunks that reference the tensors (for writing as fragments of one message). */
export function encodeBinaryMessageChunks(envelope: FrameMeta, weights: readonly WeightRecord[]): Uint8Array[] {
  return encodeWeightsFrameChunks(weights, envelope);
}

/** Decodes a binary message: its envelope (with a string `type`) and its weights (views on `bytes`). */
export function decodeBinaryMessage(bytes: Uint8Array): { frame: Frame; weights: WeightRecord[] } {
  const { meta, weights } = decodeWeightsFrame(bytes);
  const type = (meta as { type?: unknown }).type;
  if (typeof type !== 'string' || type === '')
    throw protocolError('the binary frame has no string "type" in its header');
  return { frame: meta as Frame, weights };
}

/**
 * `data` of an update, checked for shape (values are checked by the caller). A `num_samples`
 * string that Python's `int()` accepts (`"3"`, `" +3 "`, `"1_000"`; Sedna's server calls
 * `int(data["num_samples"])`) comes back as its number, as it would be read there.
 */
export function updateData(frame: Frame): { numSamples: unknown; weights: unknown } {
  const data = frame.data as { num_samples?: unknown; weights?: unknown } | null | undefined;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw protocolError('update_weight has no "data" object');
  }
  const raw = data.num_samples;
  return { numSamples: typeof raw === 'string' ? (pythonIntOf(raw) ?? raw) : raw, weights: data.weights };
}

// Python's int(str): surrounding whitespace, a sign, decimal digits with single underscores between.
const PYTHON_INT = /^[ \t\n\r\f\v]*([+-]?)(\d+(?:_\d+)*)[ \t\n\r\f\v]*$/;

/** The number Python's `int(text)` gives (undefined when it would raise, or beyond 2^53). */
export function pythonIntOf(text: string): number | undefined {
  if (text.length > 64) return undefined;
  const match = PYTHON_INT.exec(text);
  if (match === null) return undefined;
  const value = Number(`${match[1] ?? ''}${(match[2] as string).replace(/_/g, '')}`);
  return Number.isSafeInteger(value) ? value : undefined;
}
