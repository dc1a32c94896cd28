/**
 * The queue under every multi-edge component (Sedna's `BaseService`, spec §8.4): items are put
 * in, preprocessed, batched by `batchSize` and handed to `process(batch)`; a partial batch is
 * flushed after `timeoutMs` without new items.
 *
 * - synchronous mode: `put()` processes the batch itself when it is full, so the caller runs at
 *   the speed of the models (files: nothing is ever dropped);
 * - asynchronous mode: a bounded queue (`maxQueue`) decouples producers from processing. Sedna's
 *   deque is unbounded (a fast stream grows it until the pod dies); ours applies `overflow`:
 *   `block` (put waits for room: backpressure to the caller, or to the HTTP client / Kafka fetch),
 *   `drop-oldest` (live video: the stalest item goes, counted in `dropped`), or `reject`
 *   (`SEDNA_ERR_OVERLOADED`, a 503 over REST, counted in `rejected`).
 *
 * A batch that fails is counted and logged; the next one runs. No timers poll: the loop waits on
 * promises. It is a JobBase: config, identity, owned resources and `close()` (which first processes
 * what is queued) come from there.
 */
import { SednaError, closedError, invalidArgument, messageOf } from '../../common/errors.js';
import { JobBase, type JobBaseInit } from '../job-base.js';

export type OverflowPolicy = 'block' | 'drop-oldest' | 'reject';

export interface BaseServiceOptions {
  /** Items per `process()` call (Sedna: env `batch_size`, default 1). */
  batchSize?: number;
  /** Decouple put() from processing (default false: Sedna's synchronous mode). */
  asynchronous?: boolean;
  /** Flush a partial batch after this long without a new item (Sedna: 10 s). */
  timeoutMs?: number;
  /** Asynchronous mode: items waiting at most (default 64). */
  maxQueue?: number;
  /** Asynchronous mode: what a put into a full queue does (default `block`). */
  overflow?: OverflowPolicy;
  /** How long `close()` waits for queued items to be processed (default 10 s). */
  closeGraceMs?: number;
}

export interface BaseServiceStats {
  /** Items given to put(). */
  readonly received: number;
  /** Items preprocess() filtered out. */
  readonly filtered: number;
  readonly processed: number;
  readonly batches: number;
  /** Items in batches whose processing threw. */
  readonly failed: number;
  /** Items dropped by the `drop-oldest` policy. */
  readonly dropped: number;
  /** Items refused by the `reject` policy. */
  readonly rejected: number;
  readonly queued: number;
  /** The longest the queue has been. */
  readonly highWater: number;
}

export abstract class BaseService<T> extends JobBase {
  readonly batchSize: number;
  readonly asynchronous: boolean;
  readonly timeoutMs: number;
  readonly maxQueue: number;
  readonly overflow: OverflowPolicy;
  private readonly closeGraceMs: number;
  private readonly queue: T[] = [];
  private counters = {
    received: 0,
    filtered: 0,
    processed: 0,
    batches: 0,
    failed: 0,
    dropped: 0,
    rejected: 0,
    highWater: 0,
  };
  private roomWaiters: (() => void)[] = [];
  private itemWaiter: (() => void) | undefined;
  private idleWaiters: (() => void)[] = [];
  private busy = false;
  private loop: Promise<void> | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private closing = false;

  protected constructor(init: JobBaseInit, options: BaseServiceOptions = {}) {
    super(init);
    this.closeGraceMs = options.closeGraceMs ?? 10_000;
    this.batchSize = options.batchSize ?? 1;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1)
      throw invalidArgument('batchSize', options.batchSize, 'an integer ≥ 1');
    this.asynchronous = options.asynchronous ?? false;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    if (!(this.timeoutMs > 0))
      throw invalidArgument('timeoutMs', options.timeoutMs, 'a positive number of milliseconds');
    this.maxQueue = options.maxQueue ?? 64;
    if (!Number.isInteger(this.maxQueue) || this.maxQueue < this.batchSize)
      throw invalidArgument('maxQueue', options.maxQueue, `an integer ≥ batchSize (${this.batchSize})`);
    this.overflow = options.overflow ?? 'block';
    if (!['block', 'drop-oldest', 'reject'].includes(this.overflow))
      throw invalidArgument('overflow', options.overflow, 'block, drop-oldest or reject');
    if (this.asynchronous) this.loop = this.run();
  }

  get queueStats(): BaseServiceStats {
    return { ...this.counters, queued: this.queue.length };
  }

  /** Filters or transforms an item before it is queued (Sedna's `preprocess`); `undefined` drops it. */
  protected preprocess(item: T): T | undefined | Promise<T | undefined> {
    return item;
  }

  /** Processes one batch (Sedna's `distribute_data` → `process_data`). */
  protected abstract process(batch: T[]): Promise<void>;

  /** Puts one item in (see the module comment for what happens when the queue is full). */
  async put(item: T): Promise<void> {
    if (this.closing) throw closedError(this.constructor.name);
    this.assertOpen();
    this.counters.received++;
    const ready = await this.preprocess(item);
    if (ready === undefined) {
      this.counters.filtered++;
      return;
    }
    if (!this.asynchronous) {
      this.enqueue(ready);
      if (this.queue.length >= this.batchSize) await this.processNext(this.batchSize);
      else this.armFlush();
      return;
    }
    while (this.queue.length >= this.maxQueue) {
      if (this.overflow === 'reject') {
        this.counters.rejected++;
        throw new SednaError(
          'SEDNA_ERR_OVERLOADED',
          `the ${this.constructor.name} queue is full (${this.maxQueue} items)`,
          {
            details: { maxQueue: this.maxQueue },
          },
        );
      }
      if (this.overflow === 'drop-oldest') {
        this.queue.shift();
        this.counters.dropped++;
        break;
      }
      await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
      if (this.isClosing()) throw closedError(this.constructor.name);
    }
    this.enqueue(ready);
    this.itemWaiter?.();
  }

  /** Resolves when every queued item has been processed and nothing is running. */
  async drain(): Promise<void> {
    if (!this.asynchronous && this.queue.length > 0) await this.processNext(this.queue.length);
    if (this.queue.length === 0 && !this.busy) return;
    const idle = new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    this.itemWaiter?.(); // the loop flushes a partial batch at once when someone waits
    await idle;
  }

  /** JobBase's teardown: process what is queued, then stop the queue. */
  protected override async beforeClose(): Promise<void> {
    await this.closeQueue(this.closeGraceMs);
  }

  /** Stops taking items, processes what is queued (waiting at most `graceMs`), then stops. */
  protected async closeQueue(graceMs: number): Promise<void> {
    if (this.closing) return;
    const drained = this.drain();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([drained, new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    this.closing = true;
    clearTimeout(this.flushTimer);
    if (this.queue.length > 0) this.log.warn({ unprocessed: this.queue.length }, 'closed with items still queued');
    this.queue.length = 0;
    for (const w of this.roomWaiters.splice(0)) w();
    this.itemWaiter?.();
    await this.loop;
  }

  private isClosing(): boolean {
    return this.closing;
  }

  private enqueue(item: T): void {
    this.queue.push(item);
    if (this.queue.length > this.counters.highWater) this.counters.highWater = this.queue.length;
  }

  private armFlush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = setTimeout(() => {
      if (this.queue.length > 0) void this.processNext(this.queue.length);
    }, this.timeoutMs);
    this.flushTimer.unref();
  }

  /** Takes up to `count` items off the queue and processes them. */
  private async processNext(count: number): Promise<void> {
    const batch = this.queue.splice(0, count);
    for (const w of this.roomWaiters.splice(0, batch.length)) w();
    if (batch.length === 0) return;
    this.busy = true;
    try {
      await this.process(batch);
      this.counters.processed += batch.length;
    } catch (err) {
      this.counters.failed += batch.length;
      this.log.error(
        { err: messageOf(err), code: (err as { code?: unknown }).code, items: batch.length },
        'batch processing failed',
      );
    } finally {
      this.counters.batches++;
      this.busy = false;
      if (this.queue.length === 0) for (const w of this.idleWaiters.splice(0)) w();
      this.afterBatch();
    }
  }

  /** Whether a full batch is queued, so that `process()` runs again right away. */
  protected get fullBatchQueued(): boolean {
    return this.queue.length >= this.batchSize && !this.closing;
  }

  /** Called after every batch, processed or failed. */
  protected afterBatch(): void {}

  /** The asynchronous loop: full batches at once, a partial one after `timeoutMs` of quiet. */
  private async run(): Promise<void> {
    let lastItemAt = Date.now();
    let seen = 0;
    while (!this.closing) {
      if (this.queue.length >= this.batchSize) {
        await this.processNext(this.batchSize);
        continue;
      }
      if (this.counters.received !== seen) {
        seen = this.counters.received;
        lastItemAt = Date.now();
      }
      const quietFor = Date.now() - lastItemAt;
      if (this.queue.length > 0 && (quietFor >= this.timeoutMs || this.idleWaiters.length > 0)) {
        await this.processNext(this.queue.length);
        continue;
      }
      // Wait for an item, or for the flush deadline of a partial batch.
      await new Promise<void>((resolve) => {
        const timer = this.queue.length > 0 ? setTimeout(resolve, this.timeoutMs - quietFor) : undefined;
        this.itemWaiter = () => {
          clearTimeout(timer);
          this.itemWaiter = undefined;
          resolve();
        };
      });
    }
  }
}
