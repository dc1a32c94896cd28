/**
 * The `http(s)://` backend of FileOps: downloads, existence checks and reads through the one
 * HttpClient (its per-attempt deadline, total deadline and retries with backoff), streamed to a
 * temp sibling and renamed, so a failed download never leaves a partial file at the target.
 * Sedna used `urlretrieve` (no timeout, partial files on failure, any status saved as content).
 */
import path from 'node:path';
import type { Readable } from 'node:stream';
import { SednaError } from '../common/errors.js';
import { getLogger } from '../common/logger.js';
import { createHttpClient, type HttpClient, type HttpClientOptions } from '../common/http-client.js';
import { fileTarget, makeTempDir, readAll, removeQuietly, writeStreamAtomic } from './local-fs.js';

export interface HttpFilesOptions extends HttpClientOptions {
  /** A download fails when no byte arrives for this long (default 60 s). */
  idleTimeoutMs?: number;
  /**
   * Headers sent only to one origin (`http://kb.sedna:9020` → `{ authorization: 'Bearer …' }`): a
   * service's token goes to that service and to no other URL a job downloads from.
   */
  originHeaders?: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

const GIB = 1024 * 1024 * 1024;

export const DEFAULT_HTTP_FILES_OPTIONS = Object.freeze({
  /** To the response headers, per attempt; the body is bounded by the idle timeout. */
  timeoutMs: 30_000,
  totalTimeoutMs: 120_000,
  idleTimeoutMs: 60_000,
  /** Largest download (a model); `readFile` has its own, smaller limit. */
  maxResponseBytes: 16 * GIB,
});

/** Statuses the client retries itself (with its backoff); every other answer comes back to us. */
const acceptStatus = (status: number): boolean => status < 500 && status !== 408 && status !== 429;

export class HttpFiles {
  private readonly client: HttpClient;
  private readonly idleTimeoutMs: number;
  private readonly totalTimeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly originHeaders: ReadonlyMap<string, Readonly<Record<string, string>>>;

  constructor(options: HttpFilesOptions = {}) {
    const { idleTimeoutMs, originHeaders, ...clientOptions } = options;
    this.originHeaders = new Map(Object.entries(originHeaders ?? {}).map(([url, headers]) => [originOf(url), headers]));
    this.idleTimeoutMs = idleTimeoutMs ?? DEFAULT_HTTP_FILES_OPTIONS.idleTimeoutMs;
    this.totalTimeoutMs = clientOptions.totalTimeoutMs ?? DEFAULT_HTTP_FILES_OPTIONS.totalTimeoutMs;
    this.maxResponseBytes = clientOptions.maxResponseBytes ?? DEFAULT_HTTP_FILES_OPTIONS.maxResponseBytes;
    this.client = createHttpClient({
      timeoutMs: DEFAULT_HTTP_FILES_OPTIONS.timeoutMs,
      totalTimeoutMs: DEFAULT_HTTP_FILES_OPTIONS.totalTimeoutMs,
      ...clientOptions,
      // Bodies are streamed and counted here (download: maxResponseBytes, readFile: maxReadBytes),
      // with coded errors; axios' own count would fail the stream as a network error.
      maxResponseBytes: Number.MAX_SAFE_INTEGER,
    });
  }

  /** Downloads `url` to `dst` (a file path, or a folder to put it in; default: a fresh temp folder). */
  async download(url: string, dst: string | undefined, tempParent: string): Promise<string> {
    const name = fileNameOf(url);
    // The target first: once the body is open, nothing should stand between it and the pipeline.
    const tempDir = dst === undefined ? await makeTempDir('sedna-dl-', tempParent) : undefined;
    const target = tempDir === undefined ? await fileTarget(dst as string, name) : path.join(tempDir, name);
    const deadline = this.deadline(url, 'download');
    try {
      const body = await this.open(url, 'download', deadline.signal);
      const bytes = await writeStreamAtomic(target, body, {
        source: url,
        idleTimeoutMs: this.idleTimeoutMs,
        signal: deadline.signal,
        maxBytes: this.maxResponseBytes,
        tooLarge: (_bytes, maxBytes) =>
          new SednaError(
            'SEDNA_ERR_BAD_RESPONSE',
            `cannot download ${url}: it is larger than ${maxBytes} bytes (maxResponseBytes)`,
            {
              details: { location: url, maxBytes },
            },
          ),
      });
      getLogger('file-ops').debug({ url, target, bytes }, 'downloaded');
      return target;
    } catch (err) {
      if (tempDir !== undefined) await removeQuietly(tempDir);
      throw err;
    } finally {
      deadline.clear();
    }
  }

  /**
   * The total deadline of one transfer, body included: the client's own deadline ends with the
   * headers of a streamed answer, and a body dripping a byte a second never trips the idle timeout.
   */
  private deadline(url: string, action: string): { signal: AbortSignal; clear: () => void } {
    const controller = new AbortController();
    const ms = this.totalTimeoutMs;
    const timer = setTimeout(() => {
      controller.abort(
        new SednaError(
          'SEDNA_ERR_TIMEOUT',
          `cannot ${action} ${url}: not complete within the total deadline of ${ms} ms`,
          {
            details: { location: url, totalTimeoutMs: ms },
          },
        ),
      );
    }, ms);
    timer.unref();
    return {
      signal: controller.signal,
      clear: () => {
        clearTimeout(timer);
      },
    };
  }

  async exists(url: string): Promise<boolean> {
    const headers = this.headersFor(url);
    const res = await this.client.request({ method: 'HEAD', url, responseType: 'text', acceptStatus, headers });
    // Some servers refuse HEAD; ask with GET and drop the body.
    if (res.status === 405 || res.status === 501) {
      const got = await this.client.request<Readable>({ url, responseType: 'stream', acceptStatus, headers });
      got.data.destroy();
      return got.status < 300;
    }
    if (res.status < 300) return true;
    if (res.status === 404 || res.status === 410) return false;
    throw statusError('check', url, res.status);
  }

  async readFile(url: string, maxBytes: number): Promise<Buffer> {
    const deadline = this.deadline(url, 'read');
    try {
      const body = await this.open(url, 'read', deadline.signal);
      return await readAll(body, url, maxBytes, undefined, deadline.signal);
    } finally {
      deadline.clear();
    }
  }

  close(): void {
    this.client.close();
  }

  /** GETs `url` as a stream; error statuses become coded errors (the body is dropped). */
  private async open(url: string, action: string, signal?: AbortSignal): Promise<Readable> {
    let res;
    try {
      res = await this.client.request<Readable>({
        url,
        responseType: 'stream',
        acceptStatus,
        headers: this.headersFor(url),
        ...(signal === undefined ? {} : { signal }),
      });
    } catch (err) {
      // The client calls any abort of its signal the caller's; ours is the total deadline: say so.
      if (signal?.aborted === true && signal.reason instanceof SednaError) throw signal.reason;
      throw err;
    }
    if (res.status >= 200 && res.status < 300) return res.data;
    res.data.destroy();
    throw statusError(action, url, res.status);
  }

  /** The headers for `url`'s origin only (none for other origins or a URL that does not parse). */
  private headersFor(url: string): Readonly<Record<string, string>> {
    if (this.originHeaders.size === 0) return {};
    return this.originHeaders.get(originOf(url)) ?? {};
  }
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '';
  }
}

function statusError(action: string, url: string, status: number): SednaError {
  const details = { location: url, status };
  if (status === 404 || status === 410) {
    return new SednaError(
      'SEDNA_ERR_FILE_NOT_FOUND',
      `cannot ${action} ${url}: the server answered ${status} (not found)`,
      {
        details,
      },
    );
  }
  if (status === 401 || status === 403) {
    return new SednaError(
      'SEDNA_ERR_ACCESS_DENIED',
      `cannot ${action} ${url}: the server answered ${status} (access denied)`,
      {
        details,
      },
    );
  }
  return new SednaError('SEDNA_ERR_HTTP_STATUS', `cannot ${action} ${url}: the server answered ${status}`, { details });
}

/** The last path segment of a URL, decoded; `download` when the path names no file. */
export function fileNameOf(url: string): string {
  let pathname: string;
  try {
    pathname = new URL(url).pathname;
  } catch {
    pathname = url;
  }
  const last = pathname
    .split('/')
    .filter((s) => s !== '')
    .pop();
  if (last === undefined) return 'download';
  let name: string;
  try {
    name = decodeURIComponent(last);
  } catch {
    name = last;
  }
  // A decoded name must stay one path segment.
  return name.replace(/[/\\]/g, '_') === '..' || name === '.' ? 'download' : name.replace(/[/\\]/g, '_');
}
