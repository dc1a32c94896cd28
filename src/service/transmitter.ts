/**
 * Sedna's federated-learning transmitters (spec §3.4): how updates and aggregates travel between
 * trainers and the aggregator. `WSTransmitter` is the aggregator's WebSocket itself (binary
 * frames with sedna-sdk peers, JSON lists with Python ones). `S3Transmitter` moves the weights
 * through an S3 bucket: a trainer uploads its update there (a weights frame, multipart above
 * 5 MiB) and sends only a reference over the socket; the aggregator reads it, aggregates, and
 * publishes the aggregate there the same way. Control frames stay on the WebSocket.
 *
 * A reference is `{url, bytes, sha256}`; the reader checks all three (and that the frame inside
 * is the message the reference came with), so an object that was cut short, overwritten or is
 * not a weights frame is refused instead of being read as a model. S3 itself makes an object
 * visible only once its upload completed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { SednaError, invalidArgument, messageOf } from '../common/errors.js';
import { MIN_PART_BYTES, S3Storage, formatS3Url, parseS3Url, type S3Options } from '../datasources/s3.js';
import { decodeWeightsFrame, encodeWeightsFrameChunks, type FrameMeta, type WeightRecord } from '../backend/weights.js';

/** Sedna's `WSTransmitter()`: updates and aggregates travel over the aggregator's WebSocket. */
export class WSTransmitter {
  readonly kind = 'ws' as const;
  /** Sedna's (Plato's) parameters: none. */
  readonly parameters: Readonly<Record<string, never>> = Object.freeze({});
}

/** Where a message's weights were put: the object, its size and its SHA-256 (hex). */
export interface S3WeightsRef {
  readonly url: string;
  readonly bytes: number;
  readonly sha256: string;
}

/** The frame field that carries an {@link S3WeightsRef} in `data`. */
export const S3_REF_FIELD = 's3_object';

/** Options beyond Sedna's four constructor arguments. */
export interface S3TransmitterOptions {
  /** Other S3 client settings (timeouts, region, part size...). */
  readonly s3?: Omit<S3Options, 'endpoint' | 'accessKeyId' | 'secretAccessKey'>;
}

/** Reads `transmitter_url` (AGG_DATA_PATH): `s3://bucket[/prefix]`, or Sedna's bare bucket name. */
function parseBase(transmitterUrl: string): { bucket: string; prefix: string } {
  const text = transmitterUrl.trim();
  const url = /^s3:\/\//i.test(text) ? text : /^[a-z0-9][a-z0-9.-]*(\/.*)?$/.test(text) ? `s3://${text}` : '';
  if (url === '') {
    throw invalidArgument(
      'transmitter_url (AGG_DATA_PATH)',
      transmitterUrl,
      'an s3://bucket/prefix URL (or a bucket name) for TRANSMITTER=s3',
    );
  }
  const { bucket, key } = parseS3Url(url);
  return { bucket, prefix: key.replace(/^\/+|\/+$/g, '') };
}

/**
 * Sedna's `S3Transmitter(s3_endpoint_url, access_key, secret_key, transmitter_url)`, and the data
 * mover behind it. Creating one does no I/O. The secret key is kept out of `parameters`, messages
 * and logs.
 */
export class S3Transmitter {
  readonly kind = 's3' as const;
  /** Sedna's parameters (`s3_bucket` is `transmitter_url`), without the secret key. */
  readonly parameters: Readonly<{ s3_endpoint_url: string; s3_bucket: string; access_key: string }>;
  readonly bucket: string;
  /** Key prefix of this job's objects ('' for the bucket root). */
  readonly prefix: string;
  // A private field: the S3 options hold the secret key, and JSON.stringify or a logger never see it.
  readonly #storage: S3Storage;

  constructor(
    s3EndpointUrl: string,
    accessKey: string,
    secretKey: string,
    transmitterUrl: string,
    options: S3TransmitterOptions = {},
  ) {
    const { bucket, prefix } = parseBase(transmitterUrl);
    this.bucket = bucket;
    this.prefix = prefix;
    this.parameters = Object.freeze({
      s3_endpoint_url: s3EndpointUrl,
      s3_bucket: transmitterUrl,
      access_key: accessKey,
    });
    // Updates stream up in 8 MiB parts, two at a time: memory holds the update once, not twice.
    this.#storage = new S3Storage({
      multipartThresholdBytes: MIN_PART_BYTES,
      partSizeBytes: 8 * 1024 * 1024,
      concurrency: 2,
      ...options.s3,
      endpoint: s3EndpointUrl,
      accessKeyId: accessKey,
      secretAccessKey: secretKey,
    });
  }

  /** `s3://bucket/prefix/`: where this job's objects go. */
  get baseUrl(): string {
    return formatS3Url(this.bucket, this.prefix === '' ? '' : `${this.prefix}/`);
  }

  private key(rest: string): string {
    return this.prefix === '' ? rest : `${this.prefix}/${rest}`;
  }

  /** The prefix under which `client`'s updates must lie (the aggregator reads nothing else from it). */
  updatePrefix(client: string): string {
    return formatS3Url(this.bucket, this.key(`updates/${encodeURIComponent(client)}/`));
  }

  /** Uploads a client's update (`envelope` is its update_weight frame without weights). */
  putUpdate(client: string, round: number | undefined, envelope: FrameMeta, weights: readonly WeightRecord[]) {
    const name = `round-${round ?? 'x'}-${randomBytes(6).toString('hex')}.sdnw`;
    return this.put(`${this.updatePrefix(client)}${name}`, envelope, weights);
  }

  /** Uploads a round's aggregate (`envelope` is its recv_weight frame without weights). */
  putAggregate(round: number, envelope: FrameMeta, weights: readonly WeightRecord[]): Promise<S3WeightsRef> {
    const name = `aggregates/round-${round}-${randomBytes(6).toString('hex')}.sdnw`;
    return this.put(formatS3Url(this.bucket, this.key(name)), envelope, weights);
  }

  private async put(url: string, envelope: FrameMeta, weights: readonly WeightRecord[]): Promise<S3WeightsRef> {
    const chunks = encodeWeightsFrameChunks(weights, envelope);
    const hash = createHash('sha256');
    for (const chunk of chunks) hash.update(chunk);
    const bytes = await this.#storage.writeChunks(url, chunks);
    return { url, bytes, sha256: hash.digest('hex') };
  }

  /**
   * Reads the weights a reference names and checks them: the object's size and SHA-256, a valid
   * weights frame whose header says `type` (and the client, when given), at most `maxBytes`.
   * Every failure is SEDNA_ERR_INVALID_UPDATE (for an update) or SEDNA_ERR_ROUND_FAILED (for an
   * aggregate), with the cause's code in `details.cause`.
   */
  async get(
    ref: S3WeightsRef,
    expect: { type: 'update_weight' | 'recv_weight'; client?: string; maxBytes: number },
  ): Promise<{ meta: FrameMeta; weights: WeightRecord[] }> {
    const code = expect.type === 'update_weight' ? 'SEDNA_ERR_INVALID_UPDATE' : 'SEDNA_ERR_ROUND_FAILED';
    const fail = (problem: string, cause?: unknown): SednaError =>
      new SednaError(code, `the weights at ${ref.url} ${problem}`, {
        details: {
          location: ref.url,
          ...(cause instanceof SednaError ? { cause: cause.code } : {}),
        },
        ...(cause === undefined ? {} : { cause }),
      });
    if (ref.bytes > expect.maxBytes) throw fail(`are ${ref.bytes} bytes, over the limit of ${expect.maxBytes}`);
    const hash = createHash('sha256');
    let bytes: Uint8Array;
    try {
      bytes = await this.#storage.readObject(ref.url, {
        maxBytes: expect.maxBytes,
        onChunk: (chunk) => hash.update(chunk),
      });
    } catch (err) {
      throw fail(`cannot be read: ${messageOf(err)}`, err);
    }
    if (bytes.byteLength !== ref.bytes) {
      throw fail(`are ${bytes.byteLength} bytes, not the ${ref.bytes} announced (changed or cut short)`);
    }
    if (hash.digest('hex') !== ref.sha256) throw fail('do not match the announced SHA-256 (changed or cut short)');
    let decoded: { meta: FrameMeta; weights: WeightRecord[] };
    try {
      decoded = decodeWeightsFrame(bytes);
    } catch (err) {
      throw fail(`are not a weights object: ${messageOf(err)}`, err);
    }
    if (decoded.meta.type !== expect.type) {
      throw fail(`hold a ${JSON.stringify(decoded.meta.type)} message, not ${expect.type}`);
    }
    if (expect.client !== undefined && decoded.meta.client !== expect.client) {
      throw fail(`were written by ${JSON.stringify(decoded.meta.client)}, not by ${expect.client}`);
    }
    return decoded;
  }

  /** Deletes the object a reference names (an update read, an aggregate replaced); gone already is fine. */
  discard(url: string): Promise<void> {
    return this.#storage.removeObject(url);
  }

  /** Releases the S3 client's sockets. */
  close(): Promise<void> {
    return this.#storage.close();
  }
}

/** A frame's `data.s3_object` as a reference, or undefined when there is none; malformed ones throw `code`. */
export function s3RefOf(
  data: unknown,
  code: 'SEDNA_ERR_INVALID_UPDATE' | 'SEDNA_ERR_ROUND_FAILED',
): S3WeightsRef | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const raw: unknown = (data as Record<string, unknown>)[S3_REF_FIELD];
  if (raw === undefined) return undefined;
  const r: Partial<Record<keyof S3WeightsRef, unknown>> = typeof raw === 'object' && raw !== null ? raw : {};
  const { url, bytes, sha256 } = r;
  if (
    typeof url !== 'string' ||
    !/^s3:\/\//i.test(url) ||
    typeof bytes !== 'number' ||
    !Number.isSafeInteger(bytes) ||
    bytes <= 0 ||
    typeof sha256 !== 'string' ||
    !/^[0-9a-f]{64}$/.test(sha256)
  ) {
    throw new SednaError(code, `"${S3_REF_FIELD}" must be {url: "s3://...", bytes: n > 0, sha256: 64 hex digits}`);
  }
  return { url, bytes, sha256 };
}

export type Transmitter = WSTransmitter | S3Transmitter;
