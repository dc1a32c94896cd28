/**
 * Clients of the multi-edge REST servers (Sedna's `Detection`, `FE` and `ReID_Endpoint` in
 * `service/multi_edge_inference/interface`, spec §8.3), on the one HTTP client: deadlines,
 * bounded retries with backoff (a 503 from a full queue is retried), typed record frames.
 * A transmit retried after a timeout may deliver a frame twice (at-least-once).
 */
import { SednaError, invalidArgument } from '../../common/errors.js';
import { createHttpClient, HttpRequestError, type HttpClient } from '../../common/http-client.js';
import { clientCredentials } from '../../common/shared-token.js';
import { decodeTargets, encodeResults, RECORD_CONTENT_TYPE } from '../../datasources/multi-edge/codec.js';
import type { DetTrackResult, Target } from '../../datasources/multi-edge/records.js';
import type { MultiEdgeServiceName } from '../server/multi-edge-server.js';

export interface MultiEdgeClientOptions {
  service: MultiEdgeServiceName;
  host: string;
  port: number;
  protocol?: 'http' | 'https';
  /** Deadline of one call, retries included (default 10 s). */
  timeoutMs?: number;
  /** Attempts per call (default 3). */
  maxAttempts?: number;
  /** CA certificate for https servers with private certificates. */
  ca?: string | Buffer;
  /** Client certificate and key (PEM) for servers that ask for one (mutual TLS). */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** The server's shared token, sent as `Authorization: Bearer <token>` on every call. */
  token?: string;
}

export interface MultiEdgeStatus {
  status: string;
  service: string;
  stats: Record<string, unknown>;
}

export class MultiEdgeClient {
  /** `http://host:port/{service}` */
  readonly endpoint: string;
  readonly service: MultiEdgeServiceName;
  private readonly http: HttpClient;

  constructor(options: MultiEdgeClientOptions) {
    if (options.host.trim() === '') throw invalidArgument('host', options.host, 'a host name or IP');
    if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535)
      throw invalidArgument('port', options.port, 'an integer from 1 to 65535');
    const host = options.host.includes(':') && !options.host.startsWith('[') ? `[${options.host}]` : options.host;
    this.service = options.service;
    this.endpoint = `${options.protocol ?? 'http'}://${host}:${options.port}/${options.service}`;
    const timeoutMs = options.timeoutMs ?? 10_000;
    this.http = createHttpClient({
      baseUrl: this.endpoint,
      timeoutMs,
      totalTimeoutMs: timeoutMs,
      retry: { maxAttempts: options.maxAttempts ?? 3, baseDelayMs: 50, maxDelayMs: 1_000 },
      maxRedirects: 0, // Sedna's multi-edge routes never redirect
      ...clientCredentials(options),
    });
  }

  /** `GET {endpoint}/status`: the service's counters. */
  async status(): Promise<MultiEdgeStatus> {
    const { data } = await this.http.get<MultiEdgeStatus>(`${this.endpoint}/status`);
    if (typeof data !== 'object' || (data as Partial<MultiEdgeStatus> | null)?.status !== 'OK')
      throw badResponse(`${this.endpoint}/status`, 'the answer is not {"status": "OK", ...}');
    return data;
  }

  /** Sedna's `transmit`: `POST {endpoint}/{service}` with the results. */
  async transmit(records: readonly DetTrackResult[], options: { signal?: AbortSignal } = {}): Promise<number> {
    const url = `${this.endpoint}/${this.service}`;
    const { data } = await this.http.request<{ accepted?: unknown }>({
      method: 'POST',
      url,
      body: encodeResults(records),
      headers: { 'content-type': RECORD_CONTENT_TYPE },
      retry: true,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    if (typeof data.accepted !== 'number') throw badResponse(url, 'the answer is not {"accepted": n}');
    return data.accepted;
  }

  /** Sedna's `update_service`: sends a new operational status (JSON). */
  async updateService(status: unknown): Promise<unknown> {
    const { data } = await this.http.request<{ result?: unknown }>({
      method: 'POST',
      url: `${this.endpoint}/update_service`,
      json: status ?? null,
      retry: true,
    });
    return data.result;
  }

  /** Sedna's `get_target_features` (feature extraction only): query images in, targets out. */
  async getTargetFeatures(records: readonly DetTrackResult[]): Promise<Target[]> {
    const url = `${this.endpoint}/get_target_features`;
    const { data } = await this.http.request<Buffer>({
      method: 'POST',
      url,
      body: encodeResults(records),
      headers: { 'content-type': RECORD_CONTENT_TYPE },
      responseType: 'buffer',
      retry: true,
    });
    try {
      return decodeTargets(data);
    } catch (err) {
      throw badResponse(url, `the answer is not a targets frame (${(err as Error).message})`);
    }
  }

  close(): void {
    this.http.close();
  }
}

function badResponse(url: string, problem: string): SednaError {
  return new HttpRequestError('SEDNA_ERR_BAD_RESPONSE', `POST ${url}: ${problem}`, {
    url,
    method: 'POST',
    status: 200,
    attempts: 1,
  });
}
