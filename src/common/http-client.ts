/**
 * The one HTTP client factory every client in sedna-sdk uses (LC client, model client, FileOps'
 * http(s) downloads, ...). Sedna's Python helper computed a timeout it never applied, retried
 * POSTs blindly and turned every failure into `None`; this one:
 *
 * - bounds every attempt with a hard deadline (an abort timer, not only a socket-idle timeout);
 * - retries only idempotent methods, or where the caller opts in, with exponential backoff and
 *   full jitter, a cap on attempts and a cap on the total time;
 * - throws {@link HttpRequestError}, a `SednaError` carrying the URL, method, status and attempts.
 */
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import axios, { type AxiosInstance, type AxiosResponse, type RawAxiosRequestHeaders } from 'axios';
import { SednaError, invalidArgument, messageOf, type SednaErrorCode } from './errors.js';

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';
export type ResponseKind = 'json' | 'text' | 'buffer' | 'stream';

export interface RetryPolicy {
  /** Attempts in all, the first included (default 3). */
  maxAttempts: number;
  /** First backoff step; doubled each retry, then jittered (default 200 ms). */
  baseDelayMs: number;
  /** Largest single backoff step (default 5 s). */
  maxDelayMs: number;
}

export interface HttpClientOptions {
  /** Prefix for relative URLs. */
  baseUrl?: string;
  /** Deadline of one attempt, from sending the request to the last byte of a buffered body (default 10 s). */
  timeoutMs?: number;
  /** Deadline of the whole call, backoff included (default 30 s). */
  totalTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Largest response body accepted (default 256 MiB); larger answers fail with SEDNA_ERR_BAD_RESPONSE. */
  maxResponseBytes?: number;
  /** Largest request body sent (default 256 MiB). */
  maxRequestBytes?: number;
  headers?: Readonly<Record<string, string>>;
  /** Extra CA certificates, for servers with private TLS certificates. */
  ca?: string | Buffer;
  /** Client certificate (PEM), for servers that ask for one (mutual TLS); with `key`. */
  cert?: string | Buffer;
  /** The client certificate's private key (PEM). */
  key?: string | Buffer;
  /** Random source for jitter (tests pin it). */
  random?: () => number;
  /**
   * Redirects followed (default 5). 0 for internal routes that never redirect: axios then skips
   * follow-redirects, which copies every request body to be able to replay it.
   */
  maxRedirects?: number;
}

export interface HttpRequest {
  method?: HttpMethod;
  /** Absolute, or relative to `baseUrl`. */
  url: string;
  /** Sent as JSON. */
  json?: unknown;
  /** Sent as is (Buffer, string, or a stream: streams are never retried). */
  body?: Buffer | string | Readable;
  query?: Readonly<Record<string, string | number | boolean>>;
  headers?: Readonly<Record<string, string>>;
  /** How to read the answer (default json). */
  responseType?: ResponseKind;
  /** Override the client's per-attempt deadline. */
  timeoutMs?: number;
  /** Override the client's total deadline. */
  totalTimeoutMs?: number;
  /**
   * `'auto'` (default): retry idempotent methods only. `true`: the caller says this request is
   * safe to repeat (e.g. a report that carries full state). `false`: one attempt.
   */
  retry?: boolean | 'auto';
  /** Statuses that are answers, not errors (default: 2xx). */
  acceptStatus?: (status: number) => boolean;
  signal?: AbortSignal;
}

export interface HttpResponse<T> {
  status: number;
  headers: Readonly<Record<string, string>>;
  data: T;
  /** Attempts used (1 when the first one succeeded). */
  attempts: number;
}

/** A failed HTTP call: which URL, which method, what status (if any) and how many attempts. */
export class HttpRequestError extends SednaError {
  readonly url: string;
  readonly method: HttpMethod;
  readonly status: number | undefined;
  readonly attempts: number;
  /** The remote error body, when it sent one (truncated). */
  readonly responseBody: unknown;

  constructor(
    code: SednaErrorCode,
    message: string,
    facts: {
      url: string;
      method: HttpMethod;
      status?: number;
      attempts: number;
      responseBody?: unknown;
      cause?: unknown;
    },
  ) {
    super(code, message, {
      cause: facts.cause,
      details: { url: facts.url, method: facts.method, status: facts.status, attempts: facts.attempts },
    });
    this.name = 'HttpRequestError';
    this.url = facts.url;
    this.method = facts.method;
    this.status = facts.status;
    this.attempts = facts.attempts;
    this.responseBody = facts.responseBody;
  }
}

const IDEMPOTENT = new Set<HttpMethod>(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);
/** Statuses worth another attempt: the server said "not now". */
const RETRYABLE_STATUS = new Set([408, 425, 429, 502, 503, 504]);
const MIB = 1024 * 1024;

export const DEFAULT_HTTP_OPTIONS = Object.freeze({
  timeoutMs: 10_000,
  totalTimeoutMs: 30_000,
  retry: Object.freeze({ maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 5_000 }),
  maxResponseBytes: 256 * MIB,
  maxRequestBytes: 256 * MIB,
});

/** Exponential backoff with full jitter: uniform in [0, min(max, base * 2^retry)]. */
export function backoffDelay(retryIndex: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retryIndex);
  return Math.floor(random() * ceiling);
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw invalidArgument(name, value, 'a positive number');
  return value;
}

/** An HTTP client with Sedna-safe defaults. Create one per remote service and reuse it (keep-alive). */
export class HttpClient {
  private readonly axios: AxiosInstance;
  private readonly timeoutMs: number;
  private readonly totalTimeoutMs: number;
  private readonly retryPolicy: RetryPolicy;
  private readonly random: () => number;
  private readonly agents: { http: http.Agent; https: https.Agent };
  readonly baseUrl: string | undefined;

  constructor(options: HttpClientOptions = {}) {
    this.timeoutMs = positive('timeoutMs', options.timeoutMs, DEFAULT_HTTP_OPTIONS.timeoutMs);
    this.totalTimeoutMs = positive('totalTimeoutMs', options.totalTimeoutMs, DEFAULT_HTTP_OPTIONS.totalTimeoutMs);
    const retry = { ...DEFAULT_HTTP_OPTIONS.retry, ...options.retry };
    if (!Number.isInteger(retry.maxAttempts) || retry.maxAttempts < 1) {
      throw invalidArgument('retry.maxAttempts', retry.maxAttempts, 'an integer ≥ 1');
    }
    this.retryPolicy = {
      maxAttempts: retry.maxAttempts,
      baseDelayMs: positive('retry.baseDelayMs', retry.baseDelayMs, DEFAULT_HTTP_OPTIONS.retry.baseDelayMs),
      maxDelayMs: positive('retry.maxDelayMs', retry.maxDelayMs, DEFAULT_HTTP_OPTIONS.retry.maxDelayMs),
    };
    this.random = options.random ?? Math.random;
    this.baseUrl = options.baseUrl?.replace(/\/+$/, '');
    this.agents = {
      http: new http.Agent({ keepAlive: true }),
      https: new https.Agent({ keepAlive: true, ...clientTls(options) }),
    };
    this.axios = axios.create({
      httpAgent: this.agents.http,
      httpsAgent: this.agents.https,
      maxContentLength: positive('maxResponseBytes', options.maxResponseBytes, DEFAULT_HTTP_OPTIONS.maxResponseBytes),
      maxBodyLength: positive('maxRequestBytes', options.maxRequestBytes, DEFAULT_HTTP_OPTIONS.maxRequestBytes),
      maxRedirects: options.maxRedirects ?? 5,
      validateStatus: () => true, // statuses are ours to judge
      headers: { 'user-agent': 'sedna-sdk', ...options.headers },
      transitional: { clarifyTimeoutError: true },
      proxy: false,
    });
  }

  /** Resolves a URL against the base URL. */
  resolve(url: string): string {
    if (/^https?:\/\//i.test(url)) return url;
    if (this.baseUrl === undefined)
      throw invalidArgument('url', url, 'an absolute http(s) URL (this client has no baseUrl)');
    return `${this.baseUrl}/${url.replace(/^\/+/, '')}`;
  }

  async request<T = unknown>(req: HttpRequest): Promise<HttpResponse<T>> {
    const method = req.method ?? 'GET';
    const url = this.resolve(req.url);
    const attemptTimeout = positive('timeoutMs', req.timeoutMs, this.timeoutMs);
    const total = positive('totalTimeoutMs', req.totalTimeoutMs, this.totalTimeoutMs);
    const deadline = Date.now() + total;
    const streamBody = req.body !== undefined && typeof req.body !== 'string' && !Buffer.isBuffer(req.body);
    const mayRetry = !streamBody && (req.retry === true || (req.retry !== false && IDEMPOTENT.has(method)));
    const maxAttempts = mayRetry ? this.retryPolicy.maxAttempts : 1;
    const accept = req.acceptStatus ?? ((status: number) => status >= 200 && status < 300);

    let lastError: HttpRequestError | undefined;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      try {
        const response = await this.attempt(method, url, req, Math.min(attemptTimeout, remaining), attempt);
        if (accept(response.status)) {
          return {
            status: response.status,
            headers: flatHeaders(response.headers),
            data: response.data as T,
            attempts: attempt,
          };
        }
        lastError = statusError(method, url, response, attempt);
        destroyStream(response.data); // an unread error stream would hold its kept-alive socket
        if (!RETRYABLE_STATUS.has(response.status)) throw lastError;
      } catch (err) {
        if (!(err instanceof HttpRequestError)) throw err;
        lastError = err;
        if (req.signal?.aborted === true || !isRetryable(err)) throw err;
      }
      if (attempt < maxAttempts) {
        const wait = Math.min(backoffDelay(attempt - 1, this.retryPolicy, this.random), deadline - Date.now());
        if (wait > 0) await sleep(wait, req.signal);
      }
    }
    throw (
      lastError ??
      new HttpRequestError('SEDNA_ERR_TIMEOUT', `${method} ${url} did not complete within ${total} ms`, {
        url,
        method,
        attempts: 0,
      })
    );
  }

  get<T = unknown>(url: string, options: Omit<HttpRequest, 'url' | 'method'> = {}): Promise<HttpResponse<T>> {
    return this.request<T>({ ...options, url, method: 'GET' });
  }

  post<T = unknown>(
    url: string,
    json: unknown,
    options: Omit<HttpRequest, 'url' | 'method' | 'json'> = {},
  ): Promise<HttpResponse<T>> {
    return this.request<T>({ ...options, url, method: 'POST', json });
  }

  /** Releases pooled keep-alive sockets. */
  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  /** One attempt; transport failures come back as HttpRequestError with the right code. */
  private async attempt(
    method: HttpMethod,
    url: string,
    req: HttpRequest,
    timeoutMs: number,
    attempt: number,
  ): Promise<AxiosResponse> {
    const controller = new AbortController();
    let timedOut = false;
    const onAbort = (): void => {
      controller.abort();
    };
    if (req.signal?.aborted === true) controller.abort();
    req.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    try {
      const headers: RawAxiosRequestHeaders = { ...req.headers };
      let data: unknown = req.body;
      if (req.json !== undefined) {
        headers['content-type'] = 'application/json';
        data = JSON.stringify(req.json);
      }
      const responseType = req.responseType ?? 'json';
      const streamed = data !== undefined && typeof data !== 'string' && !Buffer.isBuffer(data);
      const response = await this.axios.request({
        method,
        url,
        data,
        // A redirect-following transport keeps the whole request body to resend it (200 MB of
        // model in memory); a streamed body goes through the plain transport, unbuffered.
        ...(streamed ? { maxRedirects: 0 } : {}),
        params: req.query,
        headers,
        signal: controller.signal,
        responseType: responseType === 'buffer' ? 'arraybuffer' : responseType === 'stream' ? 'stream' : 'text',
        // We parse JSON ourselves so a malformed body is an error, not a string.
        transformResponse: (body: unknown) => body,
      });
      if (responseType === 'json') response.data = parseJsonBody(method, url, response, attempt);
      else if (responseType === 'buffer') response.data = Buffer.from(response.data as ArrayBuffer);
      return response;
    } catch (err) {
      if (err instanceof HttpRequestError) throw err;
      throw transportError(method, url, err, attempt, {
        timedOut,
        timeoutMs,
        callerAborted: req.signal?.aborted === true,
      });
    } finally {
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
    }
  }
}

function parseJsonBody(method: HttpMethod, url: string, response: AxiosResponse, attempt: number): unknown {
  const text = response.data as string;
  if (text === '' || response.status === 204 || method === 'HEAD') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    // An error status with a non-JSON body is reported by its status, not as a parse failure.
    if (response.status >= 300) return text;
    throw new HttpRequestError(
      'SEDNA_ERR_BAD_RESPONSE',
      `${method} ${url} answered ${response.status} with a body that is not JSON`,
      {
        url,
        method,
        status: response.status,
        attempts: attempt,
        responseBody: text.slice(0, 512),
        cause: err,
      },
    );
  }
}

function statusError(method: HttpMethod, url: string, response: AxiosResponse, attempt: number): HttpRequestError {
  const body: unknown = response.data;
  const remote = remoteErrorText(body);
  return new HttpRequestError(
    'SEDNA_ERR_HTTP_STATUS',
    `${method} ${url} answered ${response.status}${remote === '' ? '' : `: ${remote}`}`,
    {
      url,
      method,
      status: response.status,
      attempts: attempt,
      responseBody: typeof body === 'string' ? body.slice(0, 512) : body,
    },
  );
}

/** Pulls a readable message out of the error bodies we meet: ours, FastAPI's, the LC's, text. */
function remoteErrorText(body: unknown): string {
  if (typeof body === 'string') return body.slice(0, 200);
  if (typeof body !== 'object' || body === null) return '';
  const record = body as Record<string, unknown>;
  for (const key of ['message', 'Message', 'detail', 'error']) {
    const value = record[key];
    if (value !== undefined) return (typeof value === 'string' ? value : JSON.stringify(value)).slice(0, 200);
  }
  return '';
}

function transportError(
  method: HttpMethod,
  url: string,
  err: unknown,
  attempt: number,
  why: { timedOut: boolean; timeoutMs: number; callerAborted: boolean },
): HttpRequestError {
  const facts = { url, method, attempts: attempt, cause: err };
  if (why.timedOut) {
    return new HttpRequestError(
      'SEDNA_ERR_TIMEOUT',
      `${method} ${url} timed out: no complete answer within ${why.timeoutMs} ms`,
      facts,
    );
  }
  if (why.callerAborted)
    return new HttpRequestError('SEDNA_ERR_TIMEOUT', `${method} ${url} was aborted by the caller`, facts);
  const code = (err as { code?: unknown }).code;
  const text = messageOf(err);
  if (code === 'ERR_FR_MAX_BODY_LENGTH_EXCEEDED' || /maxContentLength|maxBodyLength/.test(text)) {
    return new HttpRequestError(
      'SEDNA_ERR_BAD_RESPONSE',
      `${method} ${url}: body over the size limit (${text})`,
      facts,
    );
  }
  if (code === 'ETIMEDOUT' || code === 'ECONNABORTED') {
    return new HttpRequestError('SEDNA_ERR_TIMEOUT', `${method} ${url} timed out (${text})`, facts);
  }
  return new HttpRequestError(
    'SEDNA_ERR_NETWORK',
    `${method} ${url} failed: ${typeof code === 'string' ? `${code} ` : ''}${text}`.trim(),
    facts,
  );
}

function isRetryable(err: HttpRequestError): boolean {
  if (err.code === 'SEDNA_ERR_NETWORK' || err.code === 'SEDNA_ERR_TIMEOUT') return true;
  return err.code === 'SEDNA_ERR_HTTP_STATUS' && err.status !== undefined && RETRYABLE_STATUS.has(err.status);
}

/** The https agent's TLS options: extra CAs, and a client certificate for mutual TLS. */
function clientTls(options: HttpClientOptions): https.AgentOptions {
  if ((options.cert === undefined) !== (options.key === undefined)) {
    throw new SednaError('SEDNA_ERR_INVALID_ARGUMENT', 'a client certificate needs both cert and key');
  }
  return {
    ...(options.ca === undefined ? {} : { ca: options.ca }),
    ...(options.cert === undefined ? {} : { cert: options.cert, key: options.key }),
  };
}

function flatHeaders(headers: AxiosResponse['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers as Record<string, unknown>)) {
    if (typeof v === 'string' || typeof v === 'number') out[k.toLowerCase()] = String(v);
    else if (Array.isArray(v)) out[k.toLowerCase()] = v.map(String).join(', ');
  }
  return out;
}

function destroyStream(data: unknown): void {
  if (data !== null && typeof data === 'object' && typeof (data as Readable).destroy === 'function')
    (data as Readable).destroy();
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Creates a client; see {@link HttpClientOptions} for the defaults. */
export function createHttpClient(options: HttpClientOptions = {}): HttpClient {
  return new HttpClient(options);
}
