/**
 * The `s3://` backend of FileOps, on the optional peer `@aws-sdk/client-s3` (house rule 8: loaded
 * with a dynamic `import()` the first time an s3:// URL is used; SEDNA_ERR_MISSING_DEPENDENCY when
 * it is not installed).
 *
 * Written against S3-compatible stores as much as AWS (MinIO, Ceph, OpenStack Swift's s3api, which
 * the tests run): path-style addressing, and checksums only where an operation requires them (the
 * SDK's default CRC32 trailers in aws-chunked bodies are refused by many of those stores). Large
 * files go up as multipart uploads with bounded concurrency and are aborted on failure; downloads
 * stream to a temp file that is renamed into place.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import type * as S3Sdk from '@aws-sdk/client-s3';
import { SednaError, closedError, invalidArgument, messageOf, missingDependency, showValue } from '../common/errors.js';
import { getLogger } from '../common/logger.js';
import { Semaphore, mapLimit } from './limit.js';
import {
  fileTarget,
  listFiles,
  localError,
  makeTempDir,
  readAll,
  removeQuietly,
  safeJoin,
  writeIntoDir,
  writeStreamAtomic,
} from './local-fs.js';

type Sdk = typeof S3Sdk;

const MIB = 1024 * 1024;
/** S3's smallest part (all parts but the last). */
export const MIN_PART_BYTES = 5 * MIB;
const MAX_PARTS = 10_000;

export interface S3Options {
  /** S3_ENDPOINT_URL; empty or undefined = AWS's own endpoint. A bare `host:port` gets https://, as in Sedna. */
  endpoint?: string;
  /** ACCESS_KEY_ID; with `secretAccessKey`. Both empty = the SDK's default credential chain. */
  accessKeyId?: string;
  /** SECRET_ACCESS_KEY. Never appears in messages or logs. */
  secretAccessKey?: string;
  /** Signing region (default us-east-1). */
  region?: string;
  /** Path-style URLs (`endpoint/bucket/key`), which S3-compatible stores need (default true). */
  forcePathStyle?: boolean;
  /** Deadline to open a connection (default 10 s). */
  connectTimeoutMs?: number;
  /** Deadline from sending a request (body included) to the answer's headers (default 5 min). */
  requestTimeoutMs?: number;
  /** A connection with no traffic for this long fails, also mid-download (default 60 s). */
  idleTimeoutMs?: number;
  /** Attempts per request, the first included (default 3). */
  maxAttempts?: number;
  /** Files of at least this size go up as multipart uploads (default 64 MiB). */
  multipartThresholdBytes?: number;
  /** Part size of multipart uploads (default 16 MiB; at least 5 MiB, grown to stay under 10,000 parts). */
  partSizeBytes?: number;
  /** Transfers (objects or parts) in flight at once (default 4). */
  concurrency?: number;
  /** Most objects a folder download or removal handles (default 100,000). */
  maxObjects?: number;
}

export const DEFAULT_S3_OPTIONS = Object.freeze({
  endpoint: '',
  region: 'us-east-1',
  forcePathStyle: true,
  connectTimeoutMs: 10_000,
  requestTimeoutMs: 300_000,
  idleTimeoutMs: 60_000,
  maxAttempts: 3,
  multipartThresholdBytes: 64 * MIB,
  partSizeBytes: 16 * MIB,
  concurrency: 4,
  maxObjects: 100_000,
});

type ResolvedOptions = Required<S3Options> & { maxReadBytes: number };

export interface S3Location {
  readonly bucket: string;
  /** The object key or key prefix, without the leading `/`; empty for the bucket root. */
  readonly key: string;
}

/** Splits `s3://bucket/key`; throws SEDNA_ERR_INVALID_ARGUMENT without a bucket. */
export function parseS3Url(url: string): S3Location {
  const match = /^s3:\/\/([^/?#]+)(?:\/(.*))?$/i.exec(url);
  if (match === null) throw invalidArgument('location', url, 'an s3://bucket/key URL');
  return { bucket: match[1] as string, key: match[2] ?? '' };
}

export function formatS3Url(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

/** Where an s3:// URL points: one object, a "folder" (objects under `key/`), or nothing. */
export type S3Entry = { kind: 'file'; size: number } | { kind: 'folder' } | undefined;

const ACCESS_DENIED = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'Forbidden',
  'InvalidToken',
  'ExpiredToken',
  'AuthorizationHeaderMalformed',
]);
const NOT_FOUND = new Set(['NoSuchKey', 'NoSuchBucket', 'NotFound', 'NoSuchUpload']);
const NETWORK = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/** Maps an SDK or transport failure to a SednaError naming the operation and the URL (never a key). */
export function s3Error(action: string, url: string, err: unknown): SednaError {
  if (err instanceof SednaError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as SdkErrorShape;
  const name = e.name ?? '';
  const status = e.$metadata?.httpStatusCode;
  // The SDK re-wraps errors that are not `instanceof Error` in its realm (e.g. under a vm
  // context) as "AWS SDK error wrapper for Error: connect ECONNREFUSED ..."; recover the code.
  const code = e.code ?? /\b(E[A-Z]{3,})\b/.exec(e.message ?? '')?.[1];
  const details = { location: url, action, s3Error: name, status };
  if (ACCESS_DENIED.has(name) || status === 401 || status === 403) {
    return new SednaError(
      'SEDNA_ERR_ACCESS_DENIED',
      `cannot ${action} ${url}: the object store denied access (${name === '' ? String(status) : name}); check ACCESS_KEY_ID / SECRET_ACCESS_KEY and the bucket's permissions`,
      { cause: err, details },
    );
  }
  if (NOT_FOUND.has(name) || status === 404) {
    const what = name === 'NoSuchBucket' ? 'no such bucket' : 'no such object';
    return new SednaError('SEDNA_ERR_FILE_NOT_FOUND', `cannot ${action} ${url}: ${what}`, { cause: err, details });
  }
  if (name === 'TimeoutError' || code === 'ETIMEDOUT' || name === 'AbortError') {
    return new SednaError('SEDNA_ERR_TIMEOUT', `cannot ${action} ${url}: the object store did not answer in time`, {
      cause: err,
      details,
    });
  }
  if (code !== undefined && NETWORK.has(code)) {
    return new SednaError('SEDNA_ERR_NETWORK', `cannot ${action} ${url}: the object store is unreachable (${code})`, {
      cause: err,
      details,
    });
  }
  return new SednaError(
    'SEDNA_ERR_STORAGE',
    `cannot ${action} ${url}: ${name === '' ? '' : `${name}: `}${messageOf(err)}${status === undefined ? '' : ` (HTTP ${status})`}`,
    { cause: err, details },
  );
}

/** Failures worth another attempt with a fresh body stream: the store or the path hiccuped. */
function retryable(err: SednaError): boolean {
  if (err.code === 'SEDNA_ERR_NETWORK' || err.code === 'SEDNA_ERR_TIMEOUT') return true;
  const status = err.details.status;
  return err.code === 'SEDNA_ERR_STORAGE' && typeof status === 'number' && status >= 500;
}

function positive(name: string, value: number | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < min) throw invalidArgument(`s3.${name}`, value, `a number ≥ ${min}`);
  return value;
}

/** Normalises S3_ENDPOINT_URL: empty → AWS; `host:port` → https://host:port (Sedna's rule). */
export function normaliseEndpoint(endpoint: string | undefined): string {
  const text = (endpoint ?? '').trim();
  if (text === '') return '';
  const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`;
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(parsed.protocol);
  } catch {
    throw invalidArgument('s3.endpoint', endpoint, 'an http(s) URL such as http://minio:9000');
  }
  return url.replace(/\/+$/, '');
}

let sdkLoading: Promise<Sdk> | undefined;

/** Loads the optional SDK once per process. */
function loadSdk(): Promise<Sdk> {
  sdkLoading ??= import('@aws-sdk/client-s3').catch((err: unknown) => {
    sdkLoading = undefined; // a later install can still succeed
    throw missingDependency('@aws-sdk/client-s3', 'S3 storage (s3:// URLs)', err);
  });
  return sdkLoading;
}

/**
 * The SDK's logger interface, sent to ours at debug level: we throw a coded error for every
 * failure ourselves, and the SDK's own lines carry whole requests (its warning about streaming
 * bodies not being retried is moot: uploads retry with a fresh stream here).
 */
function sdkLogger(): Record<'trace' | 'debug' | 'info' | 'warn' | 'error', (...parts: unknown[]) => void> {
  const log = getLogger('file-ops');
  const ignore = (): void => undefined;
  const debug = (...parts: unknown[]): void => {
    if (!log.isLevelEnabled('debug')) return;
    const text = parts.map((p) => (typeof p === 'string' ? p : showValue(p, 300))).join(' ');
    log.debug(`s3 client: ${text}`);
  };
  return { trace: ignore, debug: ignore, info: ignore, warn: debug, error: debug };
}

/** S3 operations FileOps routes `s3://` locations to. Creating one does no I/O. */
export class S3Storage {
  private readonly options: ResolvedOptions;
  private readonly slots: Semaphore;
  private client: Promise<{ sdk: Sdk; client: S3Sdk.S3Client }> | undefined;
  private closed = false;

  /** `maxReadBytes` bounds `readFile` (FileOps passes its own limit). */
  constructor(options: S3Options = {}, limits: { maxReadBytes?: number } = {}) {
    const d = DEFAULT_S3_OPTIONS;
    const partSize = positive('partSizeBytes', options.partSizeBytes, d.partSizeBytes, MIN_PART_BYTES);
    this.options = {
      endpoint: normaliseEndpoint(options.endpoint),
      region: options.region === undefined || options.region === '' ? d.region : options.region,
      forcePathStyle: options.forcePathStyle ?? d.forcePathStyle,
      accessKeyId: options.accessKeyId ?? '',
      secretAccessKey: options.secretAccessKey ?? '',
      connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs, d.connectTimeoutMs),
      requestTimeoutMs: positive('requestTimeoutMs', options.requestTimeoutMs, d.requestTimeoutMs),
      idleTimeoutMs: positive('idleTimeoutMs', options.idleTimeoutMs, d.idleTimeoutMs),
      maxAttempts: Math.floor(positive('maxAttempts', options.maxAttempts, d.maxAttempts)),
      multipartThresholdBytes: positive(
        'multipartThresholdBytes',
        options.multipartThresholdBytes,
        d.multipartThresholdBytes,
        MIN_PART_BYTES,
      ),
      partSizeBytes: partSize,
      concurrency: Math.floor(positive('concurrency', options.concurrency, d.concurrency)),
      maxReadBytes: positive('maxReadBytes', limits.maxReadBytes, 256 * MIB),
      maxObjects: Math.floor(positive('maxObjects', options.maxObjects, d.maxObjects)),
    };
    if ((this.options.accessKeyId === '') !== (this.options.secretAccessKey === '')) {
      throw invalidArgument(
        's3.accessKeyId/secretAccessKey',
        '(redacted)',
        'both set (ACCESS_KEY_ID and SECRET_ACCESS_KEY) or both empty',
      );
    }
    this.slots = new Semaphore(this.options.concurrency);
  }

  /** The endpoint requests go to ('' = AWS). */
  get endpoint(): string {
    return this.options.endpoint;
  }

  /** Downloads one object, or every object under `key/`, to `dst` (default: a fresh temp folder). */
  async download(url: string, dst: string | undefined, tempParent: string): Promise<string> {
    const loc = parseS3Url(url);
    if (loc.key !== '' && !loc.key.endsWith('/') && (await this.head(url, loc)) !== undefined) {
      const name = path.posix.basename(loc.key);
      return this.intoTarget(dst, name, tempParent, (file) => this.getToFile(url, loc, file), true);
    }
    const prefix = folderPrefix(loc.key);
    const keys = await this.listKeys(url, loc.bucket, prefix);
    if (keys.length === 0) {
      throw new SednaError(
        'SEDNA_ERR_FILE_NOT_FOUND',
        `cannot download ${url}: no such object${loc.key === '' ? '' : ` and no objects under ${formatS3Url(loc.bucket, prefix)}`}`,
        { details: { location: url } },
      );
    }
    const name = path.posix.basename(prefix) || loc.bucket;
    return this.intoTarget(
      dst,
      name,
      tempParent,
      (folder) =>
        writeIntoDir(folder, async (staging) => {
          await mapLimit(keys, this.options.concurrency, async (key) => {
            const file = safeJoin(staging, key.slice(prefix.length), `s3 object ${formatS3Url(loc.bucket, key)}`);
            await this.getToFile(formatS3Url(loc.bucket, key), { bucket: loc.bucket, key }, file);
          });
        }),
      false,
    );
  }

  /**
   * Runs `write` on the download target: `dst` (or `dst/<name>` for a file into a folder), or
   * `<fresh temp folder>/<name>`, which is removed again when the download fails.
   */
  private async intoTarget(
    dst: string | undefined,
    name: string,
    tempParent: string,
    write: (target: string) => Promise<void>,
    isFile: boolean,
  ): Promise<string> {
    if (dst !== undefined) {
      const target = isFile ? await fileTarget(dst, name) : dst;
      await write(target);
      return target;
    }
    const temp = await makeTempDir('sedna-dl-', tempParent);
    try {
      const target = path.join(temp, name);
      await write(target);
      return target;
    } catch (err) {
      await removeQuietly(temp);
      throw err;
    }
  }

  /**
   * Uploads a local file or folder. A file goes to the URL's key (or `key/<name>` when the URL ends
   * with `/`); a folder's files go to `<key>/<relative path>` (Sedna dropped the key prefix).
   * Returns the URL written.
   */
  async upload(src: string, url: string): Promise<string> {
    const loc = parseS3Url(url);
    const stat = await fsp.stat(src).catch((err: unknown) => {
      throw localError('upload', src, err);
    });
    if (stat.isDirectory()) {
      const prefix = folderPrefix(loc.key);
      const files = await listFiles(src);
      await mapLimit(files, this.options.concurrency, async (rel) => {
        await this.uploadFile(path.join(src, ...rel.split('/')), { bucket: loc.bucket, key: prefix + rel });
      });
      return formatS3Url(loc.bucket, prefix.replace(/\/$/, ''));
    }
    const key = loc.key === '' || loc.key.endsWith('/') ? loc.key + path.basename(src) : loc.key;
    await this.uploadFile(src, { bucket: loc.bucket, key }, stat.size);
    return formatS3Url(loc.bucket, key);
  }

  async stat(url: string): Promise<S3Entry> {
    const loc = parseS3Url(url);
    if (loc.key === '') {
      const { sdk, client } = await this.sdk();
      try {
        await client.send(new sdk.HeadBucketCommand({ Bucket: loc.bucket }));
        return { kind: 'folder' };
      } catch (err) {
        const mapped = s3Error('check', url, err);
        if (mapped.code === 'SEDNA_ERR_FILE_NOT_FOUND') return undefined;
        throw mapped;
      }
    }
    if (!loc.key.endsWith('/')) {
      const head = await this.head(url, loc);
      if (head !== undefined) return { kind: 'file', size: head.size };
    }
    const keys = await this.listKeys(url, loc.bucket, folderPrefix(loc.key), 1);
    return keys.length > 0 ? { kind: 'folder' } : undefined;
  }

  async readFile(url: string): Promise<Buffer> {
    const loc = parseS3Url(url);
    const { sdk, client } = await this.sdk();
    try {
      const out = await this.slots.run(() =>
        client.send(new sdk.GetObjectCommand({ Bucket: loc.bucket, Key: loc.key })),
      );
      return await readAll(bodyStream(out.Body, url), url, this.options.maxReadBytes, out.ContentLength);
    } catch (err) {
      throw s3Error('read', url, err);
    }
  }

  async writeFile(url: string, data: string | Uint8Array): Promise<void> {
    const loc = parseS3Url(url);
    if (loc.key === '' || loc.key.endsWith('/'))
      throw invalidArgument('location', url, 'an s3:// URL naming an object, not a folder');
    const body = typeof data === 'string' ? Buffer.from(data) : data;
    const { sdk, client } = await this.sdk();
    try {
      // A buffer body: the SDK can sign it and retry it by itself.
      await this.slots.run(() =>
        client.send(
          new sdk.PutObjectCommand({ Bucket: loc.bucket, Key: loc.key, Body: body, ContentLength: body.byteLength }),
        ),
      );
    } catch (err) {
      throw s3Error('write', url, err);
    }
  }

  /**
   * Writes an object from bytes held in memory as `chunks` (e.g. a weights frame that references
   * its tensors), without joining them: up to the multipart threshold one PutObject, above it a
   * multipart upload whose parts are copied from the chunks one part at a time (at most
   * `concurrency` parts in memory). S3 makes the object visible only once complete.
   */
  async writeChunks(url: string, chunks: readonly Uint8Array[]): Promise<number> {
    const loc = parseS3Url(url);
    if (loc.key === '' || loc.key.endsWith('/'))
      throw invalidArgument('location', url, 'an s3:// URL naming an object, not a folder');
    const size = chunks.reduce((n, c) => n + c.byteLength, 0);
    if (size < this.options.multipartThresholdBytes) {
      await this.writeFile(url, chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks, size));
      return size;
    }
    const partSize = Math.max(this.options.partSizeBytes, Math.ceil(size / MAX_PARTS));
    const reader = new ChunkReader(chunks);
    await this.multipart(url, loc, size, partSize, (start, end) => () => reader.copy(start, end));
    return size;
  }

  /**
   * Reads one object into a single buffer of its announced size (no second copy: the chunks are
   * written into place as they arrive), at most `maxBytes`. `onChunk` sees every chunk (a
   * checksum, say). A body shorter or longer than announced is SEDNA_ERR_STORAGE.
   */
  async readObject(
    url: string,
    options: { maxBytes: number; onChunk?: (chunk: Uint8Array) => void },
  ): Promise<Uint8Array> {
    const loc = parseS3Url(url);
    const { sdk, client } = await this.sdk();
    return this.slots.run(async () => {
      let out: S3Sdk.GetObjectCommandOutput;
      try {
        out = await client.send(new sdk.GetObjectCommand({ Bucket: loc.bucket, Key: loc.key }));
      } catch (err) {
        throw s3Error('read', url, err);
      }
      const body = bodyStream(out.Body, url);
      const size = out.ContentLength;
      const fail = (problem: string, details: Record<string, unknown> = {}): SednaError => {
        body.destroy();
        return new SednaError('SEDNA_ERR_STORAGE', `cannot read ${url}: ${problem}`, {
          details: { location: url, ...details },
        });
      };
      if (size === undefined) throw fail('the object store did not say its size');
      if (size > options.maxBytes) {
        throw fail(`${size} bytes is over the limit of ${options.maxBytes}`, { size, maxBytes: options.maxBytes });
      }
      // A fresh ArrayBuffer (offset 0): typed-array views on it are aligned.
      const bytes = new Uint8Array(size);
      let at = 0;
      try {
        for await (const raw of body) {
          const chunk = raw as Uint8Array;
          if (at + chunk.byteLength > size) throw fail(`the body is longer than the announced ${size} bytes`);
          bytes.set(chunk, at);
          at += chunk.byteLength;
          options.onChunk?.(chunk);
        }
      } catch (err) {
        throw s3Error('read', url, err);
      }
      if (at !== size) throw fail(`the body ended after ${at} of ${size} bytes`, { size, received: at });
      return bytes;
    });
  }

  /** Deletes exactly one object (no listing of `key/`); a missing object is not an error. */
  async removeObject(url: string): Promise<void> {
    const loc = parseS3Url(url);
    if (loc.key === '' || loc.key.endsWith('/'))
      throw invalidArgument('location', url, 'an s3:// URL naming an object, not a folder');
    const { sdk, client } = await this.sdk();
    try {
      await this.slots.run(() => client.send(new sdk.DeleteObjectCommand({ Bucket: loc.bucket, Key: loc.key })));
    } catch (err) {
      const mapped = s3Error('remove', url, err);
      if (mapped.code !== 'SEDNA_ERR_FILE_NOT_FOUND') throw mapped;
    }
  }

  /** Deletes the object and everything under `key/`; a missing object is not an error. */
  async remove(url: string): Promise<void> {
    const loc = parseS3Url(url);
    if (loc.key === '')
      throw invalidArgument('location', url, 'an object or folder inside a bucket (not a whole bucket)');
    const keys = loc.key.endsWith('/') ? [] : [loc.key];
    keys.push(
      ...(await this.listKeys(url, loc.bucket, folderPrefix(loc.key)).catch((err: unknown) => {
        if (err instanceof SednaError && err.code === 'SEDNA_ERR_FILE_NOT_FOUND') return [];
        throw err;
      })),
    );
    const { sdk, client } = await this.sdk();
    // One DeleteObject per key: multi-object delete needs a checksum header that stores disagree on.
    await mapLimit(keys, this.options.concurrency, async (key) => {
      try {
        await client.send(new sdk.DeleteObjectCommand({ Bucket: loc.bucket, Key: key }));
      } catch (err) {
        const mapped = s3Error('remove', formatS3Url(loc.bucket, key), err);
        if (mapped.code !== 'SEDNA_ERR_FILE_NOT_FOUND') throw mapped;
      }
    });
  }

  /** Releases the SDK client's sockets. */
  async close(): Promise<void> {
    this.closed = true;
    const pending = this.client;
    this.client = undefined;
    if (pending !== undefined) {
      const { client } = await pending.catch(() => ({ client: undefined }));
      client?.destroy();
    }
  }

  // -------------------------------------------------------------------------------------------

  private sdk(): Promise<{ sdk: Sdk; client: S3Sdk.S3Client }> {
    if (this.closed) throw closedError('FileOps');
    this.client ??= loadSdk().then((sdk) => ({ sdk, client: this.createClient(sdk) }));
    this.client.catch(() => (this.client = undefined));
    return this.client;
  }

  private createClient(sdk: Sdk): S3Sdk.S3Client {
    const o = this.options;
    const agent = { keepAlive: true, maxSockets: Math.max(8, o.concurrency * 2) };
    return new sdk.S3Client({
      region: o.region,
      ...(o.endpoint === '' ? {} : { endpoint: o.endpoint }),
      forcePathStyle: o.forcePathStyle,
      ...(o.accessKeyId === ''
        ? {}
        : { credentials: { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey } }),
      maxAttempts: o.maxAttempts,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        connectionTimeout: o.connectTimeoutMs,
        requestTimeout: o.requestTimeoutMs,
        throwOnRequestTimeout: true,
        socketTimeout: o.idleTimeoutMs,
        httpAgent: agent,
        httpsAgent: agent,
      },
      logger: sdkLogger(),
    });
  }

  private async head(url: string, loc: S3Location): Promise<{ size: number } | undefined> {
    const { sdk, client } = await this.sdk();
    try {
      const out = await client.send(new sdk.HeadObjectCommand({ Bucket: loc.bucket, Key: loc.key }));
      return { size: out.ContentLength ?? 0 };
    } catch (err) {
      const mapped = s3Error('read', url, err);
      if (mapped.code === 'SEDNA_ERR_FILE_NOT_FOUND' && mapped.details.s3Error !== 'NoSuchBucket') return undefined;
      throw mapped;
    }
  }

  /** Every key under `prefix` (paginated), without folder markers; bounded by maxObjects. */
  private async listKeys(
    url: string,
    bucket: string,
    prefix: string,
    limit = this.options.maxObjects,
  ): Promise<string[]> {
    const { sdk, client } = await this.sdk();
    const keys: string[] = [];
    let token: string | undefined;
    do {
      let page: S3Sdk.ListObjectsV2CommandOutput;
      try {
        page = await client.send(
          new sdk.ListObjectsV2Command({
            Bucket: bucket,
            Prefix: prefix,
            ContinuationToken: token,
            MaxKeys: Math.min(1000, limit),
          }),
        );
      } catch (err) {
        throw s3Error('list', url, err);
      }
      for (const item of page.Contents ?? []) {
        if (item.Key !== undefined && !item.Key.endsWith('/')) keys.push(item.Key);
      }
      if (keys.length >= limit) {
        if (limit < this.options.maxObjects) return keys.slice(0, limit);
        throw new SednaError(
          'SEDNA_ERR_STORAGE',
          `${url} holds more than ${this.options.maxObjects} objects (s3.maxObjects); refusing to transfer them all`,
          { details: { location: url, maxObjects: this.options.maxObjects } },
        );
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return keys;
  }

  private async getToFile(url: string, loc: S3Location, target: string): Promise<void> {
    const { sdk, client } = await this.sdk();
    await this.slots.run(async () => {
      try {
        const out = await client.send(new sdk.GetObjectCommand({ Bucket: loc.bucket, Key: loc.key }));
        await writeStreamAtomic(target, bodyStream(out.Body, url), {
          source: url,
          idleTimeoutMs: this.options.idleTimeoutMs,
        });
      } catch (err) {
        throw s3Error('download', url, err);
      }
    });
  }

  private async uploadFile(file: string, loc: S3Location, knownSize?: number): Promise<void> {
    const url = formatS3Url(loc.bucket, loc.key);
    const size = knownSize ?? (await fsp.stat(file)).size;
    if (size >= this.options.multipartThresholdBytes) {
      await this.multipartUpload(file, loc, size);
      return;
    }
    const { sdk, client } = await this.sdk();
    await this.withRetry('upload', url, () =>
      client.send(
        new sdk.PutObjectCommand({
          Bucket: loc.bucket,
          Key: loc.key,
          Body: size === 0 ? Buffer.alloc(0) : fs.createReadStream(file),
          ContentLength: size,
        }),
      ),
    );
    getLogger('file-ops').debug({ file, url, bytes: size }, 'uploaded');
  }

  private async multipartUpload(file: string, loc: S3Location, size: number): Promise<void> {
    const partSize = Math.max(this.options.partSizeBytes, Math.ceil(size / MAX_PARTS));
    // A fresh stream per attempt: the SDK cannot rewind a stream to retry it.
    await this.multipart(
      formatS3Url(loc.bucket, loc.key),
      loc,
      size,
      partSize,
      (start, end) => () => fs.createReadStream(file, { start, end: end - 1, highWaterMark: MIB }),
    );
    getLogger('file-ops').debug({ file, url: formatS3Url(loc.bucket, loc.key), bytes: size }, 'uploaded (multipart)');
  }

  /**
   * A multipart upload of `size` bytes in parts of `partSize`; `bodyOf(start, end)` gives, for
   * each attempt, the body of bytes [start, end). Aborted on failure.
   */
  private async multipart(
    url: string,
    loc: S3Location,
    size: number,
    partSize: number,
    bodyOf: (start: number, end: number) => () => Readable | Uint8Array,
  ): Promise<void> {
    const { sdk, client } = await this.sdk();
    const count = Math.ceil(size / partSize);
    let uploadId: string | undefined;
    try {
      const created = await client.send(new sdk.CreateMultipartUploadCommand({ Bucket: loc.bucket, Key: loc.key }));
      uploadId = created.UploadId;
      if (uploadId === undefined) throw new Error('CreateMultipartUpload returned no UploadId');
      const id = uploadId;
      const parts = await mapLimit(
        Array.from({ length: count }, (_, i) => i),
        this.options.concurrency,
        async (i) => {
          const start = i * partSize;
          const end = Math.min(size, start + partSize); // exclusive
          const body = bodyOf(start, end);
          const out = await this.withRetry('upload', `${url} (part ${i + 1}/${count})`, () =>
            client.send(
              new sdk.UploadPartCommand({
                Bucket: loc.bucket,
                Key: loc.key,
                UploadId: id,
                PartNumber: i + 1,
                Body: body(),
                ContentLength: end - start,
              }),
            ),
          );
          return { PartNumber: i + 1, ETag: out.ETag };
        },
      );
      await client.send(
        new sdk.CompleteMultipartUploadCommand({
          Bucket: loc.bucket,
          Key: loc.key,
          UploadId: id,
          MultipartUpload: { Parts: parts },
        }),
      );
    } catch (err) {
      if (uploadId !== undefined) {
        const abort = new sdk.AbortMultipartUploadCommand({ Bucket: loc.bucket, Key: loc.key, UploadId: uploadId });
        await client.send(abort).catch((abortErr: unknown) => {
          getLogger('file-ops').warn({ url, err: messageOf(abortErr) }, 'could not abort a failed multipart upload');
        });
      }
      throw s3Error('upload', url, err);
    }
  }

  /** Runs one transfer in a concurrency slot, retrying transient failures with backoff and jitter. */
  private async withRetry<T>(action: string, url: string, send: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.slots.run(send);
      } catch (err) {
        const mapped = s3Error(action, url, err);
        if (attempt >= this.options.maxAttempts || !retryable(mapped)) throw mapped;
        const delay = Math.random() * Math.min(5_000, 200 * 2 ** (attempt - 1));
        getLogger('file-ops').debug({ url, attempt, err: mapped.message }, 'retrying');
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }
}

/** `key` as a folder prefix: `models/a` → `models/a/`; the bucket root stays ''. */
function folderPrefix(key: string): string {
  return key === '' || key.endsWith('/') ? key : `${key}/`;
}

/** Bytes [start, end) of a list of chunks, copied into one buffer (one multipart part). */
class ChunkReader {
  private readonly starts: number[] = [];

  constructor(private readonly chunks: readonly Uint8Array[]) {
    let at = 0;
    for (const c of chunks) {
      this.starts.push(at);
      at += c.byteLength;
    }
  }

  copy(start: number, end: number): Uint8Array {
    const out = Buffer.allocUnsafe(end - start);
    let i = this.starts.findLastIndex((s) => s <= start);
    let written = 0;
    while (written < out.length && i < this.chunks.length) {
      const chunk = this.chunks[i] as Uint8Array;
      const from = Math.max(0, start + written - (this.starts[i] as number));
      const take = Math.min(chunk.byteLength - from, out.length - written);
      out.set(chunk.subarray(from, from + take), written);
      written += take;
      i++;
    }
    return out;
  }
}

function bodyStream(body: unknown, url: string): Readable {
  if (body instanceof Readable) return body;
  throw new SednaError('SEDNA_ERR_STORAGE', `cannot read ${url}: the S3 client returned no body stream`, {
    details: { location: url },
  });
}
