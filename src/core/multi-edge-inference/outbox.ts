/**
 * How a multi-edge component sends results on without holding up its models. Sedna sends each
 * batch and waits for the answer before the next batch runs, so every hop's round trip adds to
 * every frame. Here results wait in a bounded outbox; one send is in flight at a time (order is
 * kept), and it carries everything that queued meanwhile (up to `maxBatch` records). While the
 * component has more work queued (`moreComing`), a partial send waits for it, as Nagle's algorithm
 * or Kafka's linger would, but without a timer: a backlog leaves in full sends, and an idle
 * pipeline sends each result at once.
 *
 * A full outbox makes `push()` wait: backpressure reaches the component's queue and from there
 * the video reader, the HTTP client or the Kafka fetch. A send that fails for good (the HTTP client
 * and the Kafka producer retry first) is counted and logged, and the next one goes on.
 */
import { messageOf } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';

export interface OutboxStats {
  /** Records sent. */
  readonly sent: number;
  /** Records whose send failed for good. */
  readonly sendFailures: number;
  /** Sends made (requests or producer calls): `sent / sends` records each on average. */
  readonly sends: number;
  /** Records waiting or in flight. */
  readonly pending: number;
}

export interface OutboxOptions {
  /** Records waiting or in flight before `push()` waits (default 64). */
  maxPending?: number;
  /** Records per send at most (default 16). */
  maxBatch?: number;
  /**
   * True while more records are about to be pushed at once (the component has a full batch
   * queued): a partial send is held until they come, so a backlog leaves in full sends. Call
   * {@link Outbox.poke} when it may have turned false.
   */
  moreComing?: () => boolean;
}

export class Outbox<T> {
  private readonly waiting: T[] = [];
  private inFlight = 0;
  private pumping: Promise<void> | undefined;
  private readonly roomWaiters: (() => void)[] = [];
  private readonly maxPending: number;
  private readonly maxBatch: number;
  private readonly moreComing: () => boolean;
  private wakePump: (() => void) | undefined;
  private counters = { sent: 0, sendFailures: 0, sends: 0 };

  constructor(
    /** What the outbox is for, in logs (`feature extraction`, `ReID`...). */
    private readonly target: string,
    private readonly send: (items: T[]) => Promise<void>,
    private readonly log: () => Logger,
    options: OutboxOptions = {},
  ) {
    this.maxPending = Math.max(1, options.maxPending ?? 64);
    this.maxBatch = Math.max(1, options.maxBatch ?? 16);
    this.moreComing = options.moreComing ?? (() => false);
  }

  get stats(): OutboxStats {
    return { ...this.counters, pending: this.waiting.length + this.inFlight };
  }

  /** Queues items for sending; waits while the outbox is full. An empty list is a no-op. */
  async push(items: readonly T[]): Promise<void> {
    if (items.length === 0) return;
    // A batch is never split by the bound: it goes in whole once there is any room.
    while (this.waiting.length + this.inFlight >= this.maxPending) {
      const room = new Promise<void>((resolve) => this.roomWaiters.push(resolve));
      this.poke(); // a held send must go now: this push waits on it
      await room;
    }
    this.waiting.push(...items);
    this.pumping ??= this.pump();
    this.poke();
  }

  /** Has a held send look again at `moreComing`. */
  poke(): void {
    this.wakePump?.();
  }

  /** Resolves when everything pushed so far has been sent (or has failed). */
  async flush(): Promise<void> {
    while (this.pumping !== undefined) await this.pumping;
  }

  private async pump(): Promise<void> {
    try {
      while (this.waiting.length > 0) {
        // Hold a partial send while more is coming, unless a push is waiting for room.
        if (this.waiting.length < this.maxBatch && this.roomWaiters.length === 0 && this.moreComing()) {
          await new Promise<void>((resolve) => (this.wakePump = resolve));
          this.wakePump = undefined;
          continue;
        }
        const batch = this.waiting.splice(0, this.maxBatch);
        this.inFlight = batch.length;
        this.counters.sends++;
        try {
          await this.send(batch);
          this.counters.sent += batch.length;
        } catch (err) {
          this.counters.sendFailures += batch.length;
          this.log().error(
            { err: messageOf(err), code: (err as { code?: unknown }).code, records: batch.length },
            `sending to ${this.target} failed; the records are dropped`,
          );
        } finally {
          this.inFlight = 0;
          for (const wake of this.roomWaiters.splice(0)) wake();
        }
      }
    } finally {
      this.pumping = undefined;
    }
  }
}
