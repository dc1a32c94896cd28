/**
 * A bounded concurrency limiter for server handlers: at most `limit` tasks run at once, at most
 * `queueLimit` wait; beyond that callers get SEDNA_ERR_OVERLOADED (503) at once instead of piling
 * up memory and latency. A waiting task whose request is aborted (deadline, client gone) leaves
 * the queue without running.
 */
import { SednaError, invalidArgument } from '../../common/errors.js';

export interface ConcurrencyOptions {
  /** Tasks running at once (≥ 1). */
  limit: number;
  /** Tasks allowed to wait (≥ 0). */
  queueLimit: number;
}

interface Waiter {
  start: () => void;
  cancel: (reason: unknown) => void;
}

export class ConcurrencyLimiter {
  readonly limit: number;
  readonly queueLimit: number;
  private running = 0;
  private readonly queue: Waiter[] = [];

  constructor(options: ConcurrencyOptions) {
    if (!Number.isInteger(options.limit) || options.limit < 1)
      throw invalidArgument('limit', options.limit, 'an integer ≥ 1');
    if (!Number.isInteger(options.queueLimit) || options.queueLimit < 0) {
      throw invalidArgument('queueLimit', options.queueLimit, 'an integer ≥ 0');
    }
    this.limit = options.limit;
    this.queueLimit = options.queueLimit;
  }

  get active(): number {
    return this.running;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /** Runs `task` when a slot is free; the slot is held until the task settles. */
  async run<T>(task: () => Promise<T> | T, signal?: AbortSignal): Promise<T> {
    await this.acquire(signal);
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  private acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted === true) return Promise.reject(abortError());
    if (this.running < this.limit) {
      this.running++;
      return Promise.resolve();
    }
    if (this.queue.length >= this.queueLimit) {
      return Promise.reject(
        new SednaError(
          'SEDNA_ERR_OVERLOADED',
          `server busy: ${this.running} requests running and ${this.queue.length} waiting (limits ${this.limit}/${this.queueLimit})`,
          { details: { running: this.running, waiting: this.queue.length } },
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        waiter.cancel(abortError());
      };
      const waiter: Waiter = {
        start: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        cancel: (reason) => {
          const index = this.queue.indexOf(waiter);
          if (index >= 0) this.queue.splice(index, 1);
          reject(reason instanceof Error ? reason : new Error(String(reason)));
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(waiter);
    });
  }

  private release(): void {
    const next = this.queue.shift();
    if (next === undefined) this.running--;
    else next.start(); // the slot passes straight to the next waiter
  }
}

function abortError(): SednaError {
  return new SednaError(
    'SEDNA_ERR_TIMEOUT',
    'the request was abandoned (deadline or client gone) while waiting for a free slot',
  );
}
