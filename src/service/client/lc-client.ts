/**
 * Worker → LocalController reports (spec §0.1 item 1, §5.0, §6.2):
 *
 *   POST {LC_SERVER}/sedna/workers/{workerName}/info
 *   {"name", "namespace", "ownerName", "ownerKind", "kind", "status", "results"?, "ownerInfo"?}
 *
 * The body's `name` must equal the path segment or the LC answers 400; that answer becomes a
 * SEDNA_ERR_LC_REJECTED error carrying the LC's message. A report carries the worker's whole
 * current state, so repeating it is safe: the client retries (bounded) where Sedna's helper
 * retried blindly without timeouts.
 */
import type { SednaConfig } from '../../common/config.js';
import type { ReportKind, ReportStatus, ResourceKind } from '../../common/constants.js';
import { SednaError, invalidArgument } from '../../common/errors.js';
import { createHttpClient, HttpRequestError, type HttpClient } from '../../common/http-client.js';

/** One entry of `results` (the LC reads `format`, `url`, `metrics`). */
export interface ReportResult {
  readonly format: string;
  readonly url: string;
  readonly metrics: unknown;
}

/** A report as the LC's Go `MessageContent` reads it. */
export interface LCReport {
  readonly name: string;
  readonly namespace: string;
  readonly ownerName: string;
  readonly ownerKind: ResourceKind | (string & {});
  readonly kind: ReportKind | (string & {});
  /** Omitted by the joint-inference periodic report, as in Sedna. */
  readonly status?: ReportStatus | (string & {});
  readonly results?: readonly ReportResult[];
  readonly ownerInfo?: Readonly<Record<string, unknown>>;
}

/** Who a worker is, as every report states it. */
export interface WorkerIdentity {
  readonly name: string;
  readonly namespace: string;
  readonly ownerName: string;
  readonly ownerKind: ResourceKind;
}

/**
 * Sedna's JobBase identity: `name = WORKER_NAME or JOB_NAME`, `namespace = NAMESPACE or
 * JOB_NAME`, `ownerName = JOB_NAME`.
 */
export function workerIdentity(config: SednaConfig, ownerKind: ResourceKind): WorkerIdentity {
  return {
    name: config.workerName === '' ? config.jobName : config.workerName,
    namespace: config.namespace === '' ? config.jobName : config.namespace,
    ownerName: config.jobName,
    ownerKind,
  };
}

/**
 * A job-stage report with Sedna's omission rules (`report_task_info`): `results` only when
 * non-empty, `ownerInfo` only when non-empty.
 */
export function jobReport(
  identity: WorkerIdentity,
  kind: ReportKind,
  status: ReportStatus,
  results?: readonly ReportResult[],
  ownerInfo?: Readonly<Record<string, unknown>>,
): LCReport {
  return {
    ...identity,
    kind,
    status,
    ...(results !== undefined && results.length > 0 ? { results } : {}),
    ...(ownerInfo !== undefined && Object.keys(ownerInfo).length > 0 ? { ownerInfo } : {}),
  };
}

/** The body in Sedna's key order; `status`, `results`, `ownerInfo` only when given. */
export function reportBody(report: LCReport): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: report.name,
    namespace: report.namespace,
    ownerName: report.ownerName,
    ownerKind: report.ownerKind,
    kind: report.kind,
  };
  if (report.status !== undefined) body.status = report.status;
  if (report.results !== undefined) body.results = report.results;
  if (report.ownerInfo !== undefined) body.ownerInfo = report.ownerInfo;
  return body;
}

/** Local time as `YYYY-MM-DD HH:MM:SS`, no zone: the format of Sedna's `startTime`/`updateTime`. */
export function formatLocalTime(date: Date = new Date()): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}

export interface LCClientOptions {
  /** Base URL of the LC, `LC_SERVER` (e.g. `http://127.0.0.1:9100`). */
  lcServer: string;
  /** Deadline of one send, retries included (default 10 s). */
  timeoutMs?: number;
  /** Attempts per send (default 3). */
  maxAttempts?: number;
}

export class LCClient {
  readonly lcServer: string;
  private readonly http: HttpClient;
  private readonly timeoutMs: number;

  constructor(options: LCClientOptions) {
    if (!/^https?:\/\/[^/]/i.test(options.lcServer))
      throw invalidArgument('lcServer', options.lcServer, 'an http(s) URL');
    this.lcServer = options.lcServer.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.http = createHttpClient({
      timeoutMs: this.timeoutMs,
      totalTimeoutMs: this.timeoutMs,
      retry: { maxAttempts: options.maxAttempts ?? 3, baseDelayMs: 200, maxDelayMs: 2_000 },
    });
  }

  static fromConfig(config: SednaConfig, options: Omit<LCClientOptions, 'lcServer'> = {}): LCClient {
    return new LCClient({ ...options, lcServer: config.lcServer });
  }

  /** The report URL of a worker. */
  urlOf(workerName: string): string {
    return `${this.lcServer}/sedna/workers/${encodeURIComponent(workerName)}/info`;
  }

  /**
   * Sends one report. Resolves when the LC answered 200; rejects with SEDNA_ERR_LC_REJECTED when
   * it refused the report (400), or with the transport's coded error.
   */
  async send(
    workerName: string,
    report: LCReport,
    options: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<void> {
    if (workerName === '') throw invalidArgument('workerName', workerName, 'the worker name (WORKER_NAME)');
    const url = this.urlOf(workerName);
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    try {
      await this.http.request({
        method: 'POST',
        url,
        json: reportBody(report),
        retry: true, // a report is the full current state: sending it twice is harmless
        timeoutMs,
        totalTimeoutMs: timeoutMs,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
    } catch (err) {
      if (err instanceof HttpRequestError && err.status === 400) {
        const lcMessage = (err.responseBody as { Message?: unknown } | undefined)?.Message;
        throw new SednaError(
          'SEDNA_ERR_LC_REJECTED',
          `the LocalController rejected the report to ${url}: ${typeof lcMessage === 'string' ? lcMessage : err.message}`,
          { cause: err, details: { url, status: 400, lcMessage } },
        );
      }
      throw err;
    }
  }

  close(): void {
    this.http.close();
  }
}
