/**
 * The periodic inference reporter (Sedna's `LCReporter`, spec §6.2): counts inferences and hard
 * examples and, at most once per period and only when something changed, sends
 *
 *   ownerInfo: {startTime, updateTime, inferenceNumber, hardExampleNumber, uploadCloudRatio}
 *
 * Differences from Sedna, on purpose:
 * - Each inference is counted once. Sedna's joint inference called both update methods for a hard
 *   example, so `inferenceNumber` read N + H; our jobs call exactly one method per inference.
 * - The LC being down never stops the reporter or blocks the caller: counting is synchronous and
 *   cheap, sending happens on the timer; a failed send keeps the latest state, which goes out at the
 *   next period after the LC answers again (Sedna's thread died on its first RetryError).
 * - Ticks are scheduled against the start time, so the period does not drift.
 */
import { EventEmitter } from 'node:events';
import { invalidArgument, messageOf } from '../../common/errors.js';
import { getLogger } from '../../common/logger.js';
import { formatLocalTime, type LCClient, type LCReport } from './lc-client.js';

export interface InferenceCounters {
  readonly inferenceNumber: number;
  readonly hardExampleNumber: number;
  readonly uploadCloudRatio: number;
}

export interface LCReporterOptions {
  client: LCClient;
  /** The fixed part of every report; `ownerInfo` is filled in per period. */
  message: Omit<LCReport, 'ownerInfo'>;
  /** Period between reports (LC_PERIOD × 1000). */
  periodMs: number;
  /** Deadline of one send (default: the period, at most 10 s). */
  sendTimeoutMs?: number;
  /** Clock, for tests. */
  now?: () => Date;
}

export interface LCReporterEvents {
  /** A report reached the LC. */
  sent: [body: LCReport];
  /** A send failed; the state is kept and sent again later. */
  failed: [error: Error];
}

export class LCReporter extends EventEmitter<LCReporterEvents> {
  private readonly client: LCClient;
  private readonly message: Omit<LCReport, 'ownerInfo'>;
  private readonly periodMs: number;
  private readonly sendTimeoutMs: number;
  private readonly now: () => Date;
  private inference = 0;
  private hard = 0;
  /** Bumped on every change; a send clears `dirty` only if nothing changed meanwhile. */
  private version = 0;
  private sentVersion = 0;
  private periodStart: Date;
  private readonly origin: number;
  private tickCount = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private closed = false;
  private failing = false;
  private sentCount = 0;
  private failedCount = 0;

  constructor(options: LCReporterOptions) {
    super();
    if (!Number.isFinite(options.periodMs) || options.periodMs <= 0)
      throw invalidArgument('periodMs', options.periodMs, 'a positive number');
    this.client = options.client;
    this.message = options.message;
    this.periodMs = options.periodMs;
    this.sendTimeoutMs = options.sendTimeoutMs ?? Math.min(options.periodMs, 10_000);
    this.now = options.now ?? (() => new Date());
    this.periodStart = this.now();
    this.origin = Date.now();
  }

  /** Creates a reporter and starts its timer. */
  static start(options: LCReporterOptions): LCReporter {
    const reporter = new LCReporter(options);
    reporter.schedule();
    return reporter;
  }

  /** An inference answered at the edge only. */
  updateForEdgeInference(): void {
    this.inference++;
    this.version++;
  }

  /** An inference whose sample was a hard example (offloaded to the cloud). Counted once. */
  updateForCollaborationInference(): void {
    this.inference++;
    this.hard++;
    this.version++;
  }

  get counters(): InferenceCounters {
    return {
      inferenceNumber: this.inference,
      hardExampleNumber: this.hard,
      uploadCloudRatio: this.inference === 0 ? 0 : this.hard / this.inference,
    };
  }

  /** Reports delivered and sends that failed so far. */
  get deliveries(): { sent: number; failed: number } {
    return { sent: this.sentCount, failed: this.failedCount };
  }

  /** True when the LC has not yet received the latest counters. */
  get pending(): boolean {
    return this.version !== this.sentVersion;
  }

  /** Sends the current state now if it changed (waits for a send already under way). */
  async flush(): Promise<boolean> {
    if (this.inFlight !== undefined) await this.inFlight;
    if (!this.pending) return true;
    await this.send(this.periodStart);
    return !this.pending;
  }

  /** Stops the timer and delivers the last state (one attempt within the send deadline). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.flush();
  }

  private schedule(): void {
    if (this.closed) return;
    this.tickCount++;
    // Ticks are anchored on the start time, so slow sends or timers do not accumulate drift; a
    // tick that is already late fires at once and the missed ones are skipped.
    let due = this.origin + this.tickCount * this.periodMs;
    const now = Date.now();
    if (due < now) {
      this.tickCount += Math.floor((now - due) / this.periodMs);
      due = this.origin + this.tickCount * this.periodMs;
    }
    this.timer = setTimeout(
      () => {
        this.tick();
      },
      Math.max(0, due - now),
    );
    this.timer.unref(); // the reporter never keeps a worker process alive by itself
  }

  private tick(): void {
    const periodStart = this.periodStart;
    this.periodStart = this.now();
    if (this.pending && this.inFlight === undefined) void this.send(periodStart);
    this.schedule();
  }

  private send(periodStart: Date): Promise<void> {
    const version = this.version;
    const report: LCReport = {
      ...this.message,
      ownerInfo: { startTime: formatLocalTime(periodStart), updateTime: formatLocalTime(this.now()), ...this.counters },
    };
    const attempt = this.client
      .send(report.name, report, { timeoutMs: this.sendTimeoutMs })
      .then(() => {
        this.sentVersion = version;
        this.sentCount++;
        if (this.failing) getLogger('lc-reporter').info('the LocalController answers again; latest state delivered');
        this.failing = false;
        this.emit('sent', report);
      })
      .catch((err: unknown) => {
        this.failedCount++;
        const error = err instanceof Error ? err : new Error(messageOf(err));
        if (!this.failing)
          getLogger('lc-reporter').warn(
            { err: error },
            'report to the LocalController failed; will send the latest state later',
          );
        this.failing = true;
        if (this.listenerCount('failed') > 0) this.emit('failed', error);
      })
      .finally(() => {
        this.inFlight = undefined;
      });
    this.inFlight = attempt;
    return attempt;
  }
}
