/**
 * Client of an inference server (Sedna's `ModelClient`, spec §6.3). It sends exactly what the
 * Python edge sends, `{"post_process": null, "data": [...]}`, to `{endpoint}/predict`, so it can
 * call a Python BigModelService as well as ours, and checks the answer is `{"result": [...]}`.
 * Every call has a deadline; inference is not retried unless asked (a hard example is better
 * answered by the edge in time than by the cloud late).
 */
import { SednaError, invalidArgument } from '../../common/errors.js';
import { createHttpClient, HttpRequestError, type HttpClient } from '../../common/http-client.js';
import { clientCredentials } from '../../common/shared-token.js';
import { toPythonJson, type JsonTensorData } from '../../common/python-json.js';

export interface ModelClientOptions {
  /** Sedna's `service_name`: the route prefix, `sedna` by default (see docs/joint-inference.md). */
  serviceName?: string;
  host: string;
  port: number;
  protocol?: 'http' | 'https';
  /** Deadline of one inference call, retries included (default 10 s). */
  timeoutMs?: number;
  /** Attempts per call (default 1: no retry). */
  maxAttempts?: number;
  /** Largest answer accepted (default 100 MiB, the server's body limit). */
  maxResponseBytes?: number;
  /** CA certificate for https servers with private certificates. */
  ca?: string | Buffer;
  /** Client certificate and key (PEM) for servers that ask for one (mutual TLS). */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** The server's shared token, sent as `Authorization: Bearer <token>` on every call. */
  token?: string;
}

export interface InferenceCallOptions {
  /** Name of a post-process callback the *server* should apply (sent as `callback`). */
  callback?: string;
  /** Override the client's deadline for this call. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface ServerInfo {
  infos: { path: string; name: string }[];
}

export class ModelClient {
  readonly endpoint: string;
  private readonly http: HttpClient;
  private readonly timeoutMs: number;

  constructor(options: ModelClientOptions) {
    const serviceName = options.serviceName ?? 'sedna';
    if (options.host === '') throw invalidArgument('host', options.host, 'a host name or IP');
    if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535) {
      throw invalidArgument('port', options.port, 'an integer from 1 to 65535');
    }
    const host = options.host.includes(':') && !options.host.startsWith('[') ? `[${options.host}]` : options.host;
    this.endpoint = `${options.protocol ?? 'http'}://${host}:${options.port}/${serviceName}`;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.http = createHttpClient({
      baseUrl: this.endpoint,
      timeoutMs: this.timeoutMs,
      totalTimeoutMs: this.timeoutMs,
      retry: { maxAttempts: options.maxAttempts ?? 1, baseDelayMs: 50, maxDelayMs: 1_000 },
      maxResponseBytes: options.maxResponseBytes ?? 100 * 1024 * 1024,
      ...clientCredentials(options),
    });
  }

  /** `GET {endpoint}`: the server's route list (Sedna's `check_server_status`). */
  async checkServerStatus(options: { timeoutMs?: number } = {}): Promise<ServerInfo> {
    const response = await this.http.get(this.endpoint, { timeoutMs: options.timeoutMs ?? this.timeoutMs });
    const body = response.data as Partial<ServerInfo> | undefined;
    if (body === undefined || !Array.isArray(body.infos)) throw badResponse(this.endpoint, 'GET', 'no "infos" list');
    return body as ServerInfo;
  }

  /**
   * `POST {endpoint}/predict`; resolves with the `result` list. Float typed arrays in `data`
   * (Float32Array, Float64Array) go as lists of floats in Python's style (`[0.0, 1.0]`), integer
   * typed arrays as lists of integers, everything else as `JSON.stringify` writes it.
   */
  async inference(data: readonly unknown[] | JsonTensorData, options: InferenceCallOptions = {}): Promise<unknown[]> {
    const url = `${this.endpoint}/predict`;
    const body: Record<string, unknown> = { post_process: null, data };
    if (options.callback !== undefined) body.callback = options.callback;
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const response = await this.http.request({
      method: 'POST',
      url,
      // Float typed arrays in `data` are written as Python floats (`1.0`), as the Python edge's
      // `tolist()` + json.dumps writes them: the cloud model's np.asarray then gets float64.
      body: toPythonJson(body),
      headers: { 'content-type': 'application/json' },
      timeoutMs,
      totalTimeoutMs: timeoutMs,
      retry: true, // inference has no side effects; attempts are capped by maxAttempts (default 1)
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    const answer = response.data;
    if (typeof answer !== 'object' || answer === null || !Array.isArray((answer as { result?: unknown }).result)) {
      throw badResponse(url, 'POST', 'the answer is not {"result": [...]}', answer);
    }
    return (answer as { result: unknown[] }).result;
  }

  close(): void {
    this.http.close();
  }
}

function badResponse(url: string, method: 'GET' | 'POST', problem: string, body?: unknown): SednaError {
  return new HttpRequestError('SEDNA_ERR_BAD_RESPONSE', `${method} ${url}: ${problem}`, {
    url,
    method,
    status: 200,
    attempts: 1,
    responseBody: body,
  });
}
