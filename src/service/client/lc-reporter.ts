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
 * - `close()` delivers the last state within a bound (`flushTimeoutMs`); past it, or when the LC
 *   refuses, the counters that did not arrive are logged at error level (Sedna lost them silently).
 */
import { EventEmitter } from 'node:events';
import { SednaError, invalidArgument, messageOf } from '../../common/errors.js';
import { getLogger } from '../../common/logger.js';
import { timerDelay } from '../../common/timers.js';
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
  /**
   * Bound of `close()`'s last report, a send already under way included (default: twice
   * `sendTimeoutMs`, plus 1 s); past it `close()` rejects with SEDNA_ERR_REPORT_TIMEOUT.
   */
  flushTimeoutMs?: number;
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
  private readonly flushTimeoutMs: number;
  /** Aborts a send still under way when close() gives up on it. */
  private readonly abort = new AbortController();
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
    // Bounds are cut to what a timer holds (common/timers.ts): one of years must not fire at once.
    this.sendTimeoutMs = timerDelay(options.sendTimeoutMs ?? Math.min(options.periodMs, 10_000));
    // Room for a send under way and the last one, each bounded by the send deadline.
    const flushTimeoutMs = options.flushTimeoutMs ?? 2 * this.sendTimeoutMs + 1_000;
    if (!Number.isFinite(flushTimeoutMs) || flushTimeoutMs <= 0)
      throw invalidArgument('flushTimeoutMs', options.flushTimeoutMs, 'a positive number');
    this.flushTimeoutMs = timerDelay(flushTimeoutMs);
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

  /**
   * Stops the timer and delivers the last state (one attempt within the send deadline, after a
   * send under way), within `flushTimeoutMs`. An LC that refuses or cannot be reached is logged
   * (the counters it did not get) and does not fail `close()`; one that has not answered by the
   * bound fails it with SEDNA_ERR_REPORT_TIMEOUT, after the same log.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    const started = Date.now();
    const inFlightBefore = this.inFlight !== undefined;
    let bound: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      this.flush().then((delivered) => (delivered ? 'delivered' : 'failed')),
      new Promise<'timeout'>((resolve) => {
        bound = setTimeout(() => {
          resolve('timeout');
        }, this.flushTimeoutMs);
      }),
    ]);
    clearTimeout(bound);
    if (outcome === 'delivered') return;
    const diagnostic = {
      waitingFor: 'the last report to the LocalController',
      worker: this.message.name,
      undelivered: this.counters,
      waitedMs: Date.now() - started,
      flushTimeoutMs: this.flushTimeoutMs,
      sendUnderWayAtClose: inFlightBefore,
      deliveries: this.deliveries,
    };
    if (outcome === 'failed') {
      getLogger('lc-reporter').error(diagnostic, 'the last report did not reach the LocalController');
      return;
    }
    this.abort.abort(); // nothing of the reporter outlives close()
    const message = `the last report to the LocalController did not complete within ${this.flushTimeoutMs} ms`;
    getLogger('lc-reporter').error(diagnostic, message);
    throw new SednaError('SEDNA_ERR_REPORT_TIMEOUT', message, { details: diagnostic });
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
      timerDelay(Math.max(0, due - now)),
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
      .send(report.name, report, { timeoutMs: this.sendTimeoutMs, signal: this.abort.signal })
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
