/**
 * The aggregation contract (ClassFactory kind `aggregation`). Pure computation: no I/O, no
 * servers, no environment. The server owns the protocol; an algorithm sees typed-array weights.
 *
 * Following Flower's Strategy, a round has two steps:
 *
 * - `configure(round, globalWeights)` when a round opens: what the algorithm wants to tell the
 *   clients for this round (Sedna's v1 clients start from their own weights, so FedAvg says
 *   nothing). FedProx/FedAdam-style strategies keep the global weights here.
 * - `aggregate(round, updates)` consumes the round's updates as they arrive (an async iterable
 *   the server feeds and ends when the round closes) and returns the new global weights. Updates
 *   are streamed so an algorithm can fold each one into a running sum and drop it: memory does
 *   not grow with the number of clients. An update the algorithm cannot use (NaN values, say) is
 *   handed back with `updates.reject(update, error)`; the server drops that client and the round
 *   goes on.
 */
import { SednaError } from '../../common/errors.js';
import type { WeightDtype, WeightLayout, WeightRecord } from '../../backend/weights.js';

/** How an update reached the server: typed binary tensors, or Sedna's JSON lists (float64, no dtype of its own). */
export type UpdateEncoding = 'binary' | 'json';

/** One client's contribution to a round (Sedna's `AggClient`, with typed arrays). */
export interface ClientUpdate {
  readonly client: string;
  /** Sample count behind the update (Sedna's `num_samples`): a non-negative integer. */
  readonly numSamples: number;
  readonly weights: readonly WeightRecord[];
  readonly encoding: UpdateEncoding;
}

/** The updates of one round, in arrival order. */
export interface UpdateStream extends AsyncIterable<ClientUpdate> {
  /** Hands an update back as unusable; the server drops its client with the error's code. */
  reject(update: ClientUpdate, error: SednaError): void;
  /**
   * Optional: up to `max` more updates that are already waiting, without waiting for others
   * (none when the feeder hands them over one at a time). They count as taken, like the one the
   * iterator returned last, and are released together with it. An algorithm that folds several
   * updates per pass over memory (FedAvg) uses it; the others ignore it.
   */
  takeQueued?(max: number): ClientUpdate[];
  /** Optional: true once no update will come any more (the stream ended and nothing is queued). */
  readonly drained?: boolean;
}

/** What a round produced. */
export interface AggregateResult {
  readonly weights: readonly WeightRecord[];
  /** Σ num_samples of the updates used (Sedna's `total_sample`). */
  readonly totalSamples: number;
  /** The clients whose updates were used, in arrival order. */
  readonly clients: readonly string[];
}

/** What an algorithm may hand the clients when a round opens (sent as `data` of a `round_config` frame). */
export type RoundConfig = Readonly<Record<string, unknown>>;

export interface AggregationAlgorithm {
  /** The registered name (the WebSocket path segment in Sedna's v1 protocol). */
  readonly name: string;
  configure(round: number, globalWeights: readonly WeightRecord[] | undefined): RoundConfig | undefined;
  aggregate(round: number, updates: UpdateStream): Promise<AggregateResult>;
  /**
   * Optional: the server hands back a result's weights once it no longer uses them (its
   * broadcast is written), so the next round can reuse that memory instead of faulting in fresh
   * pages. The caller must not touch them afterwards.
   */
  recycle?(weights: readonly WeightRecord[]): void;
  /**
   * Optional: true when the updates' shapes legitimately differ between clients (MistNet's
   * features: one row per sample). The server must then not hold an update to the layout of the
   * round's first one; the algorithm checks each update itself.
   */
  readonly variableLayout?: boolean;
}

// ---------------------------------------------------------------------------------------------

function mismatch(where: string, problem: string, details: Record<string, unknown> = {}): SednaError {
  return new SednaError('SEDNA_ERR_WEIGHTS_MISMATCH', `${where}: ${problem}`, { details });
}

/**
 * The layout every update of a round must share: fixed by the round's first update. Shapes must
 * match for every update; dtypes must match between binary updates (JSON lists carry no dtype:
 * they are float64 and fit any float layout).
 */
export class RoundLayout {
  private shapes: readonly (readonly number[])[] | undefined;
  private dtypes: readonly WeightDtype[] | undefined;

  /**
   * A layout known before any update (the model's, or the last round's aggregate): shapes, and
   * the dtypes binary updates must have when given (else the first binary update fixes them).
   */
  static known(shapes: readonly (readonly number[])[], dtypes?: readonly WeightDtype[]): RoundLayout {
    const layout = new RoundLayout();
    layout.shapes = shapes.map((shape) => [...shape]);
    if (dtypes !== undefined) layout.dtypes = [...dtypes];
    return layout;
  }

  /** The layout so far (undefined before the first update). */
  get layout(): WeightLayout | undefined {
    const shapes = this.shapes;
    if (shapes === undefined) return undefined;
    return shapes.map((shape, i) => ({ name: `tensor_${i}`, dtype: this.dtypes?.[i] ?? 'float64', shape }));
  }

  /** The dtypes fixed by the first binary update, if any. */
  get binaryDtypes(): readonly WeightDtype[] | undefined {
    return this.dtypes;
  }

  /** Throws SEDNA_ERR_WEIGHTS_MISMATCH when `update` does not fit the layout recorded so far. */
  check(update: Pick<ClientUpdate, 'weights' | 'encoding' | 'client'>): void {
    const where = `update from "${update.client}"`;
    const { weights } = update;
    if (weights.length === 0) throw mismatch(where, 'the update has no tensors');
    if (this.shapes !== undefined) {
      if (weights.length !== this.shapes.length) {
        throw mismatch(where, `${weights.length} tensors, the round's updates have ${this.shapes.length}`, {
          expected: this.shapes.length,
          actual: weights.length,
        });
      }
      weights.forEach((w, i) => {
        const want = this.shapes?.[i] as readonly number[];
        if (w.shape.length !== want.length || w.shape.some((d, j) => d !== want[j])) {
          throw mismatch(where, `tensor #${i} is [${w.shape.join(', ')}], the round's is [${want.join(', ')}]`, {
            index: i,
            expected: want,
            actual: w.shape,
          });
        }
      });
    }
    if (update.encoding === 'binary' && this.dtypes !== undefined) {
      weights.forEach((w, i) => {
        const want = this.dtypes?.[i];
        if (w.dtype !== want) {
          throw mismatch(where, `tensor #${i} is ${w.dtype}, the round's is ${String(want)}`, {
            index: i,
            expected: want,
            actual: w.dtype,
          });
        }
      });
    }
  }

  /** Records an accepted update's layout (the first one fixes shapes; the first binary one, dtypes). */
  record(update: Pick<ClientUpdate, 'weights' | 'encoding'>): void {
    this.shapes ??= update.weights.map((w) => [...w.shape]);
    if (update.encoding === 'binary') this.dtypes ??= update.weights.map((w) => w.dtype);
  }

  /** `check` then `record`. */
  accept(update: Pick<ClientUpdate, 'weights' | 'encoding' | 'client'>): void {
    this.check(update);
    this.record(update);
  }
}

/**
 * Throws SEDNA_ERR_INVALID_UPDATE unless `value` is a valid sample count: a non-negative safe
 * integer (Sedna casts with `int()`, which silently truncated 2.5 and accepted -3).
 */
export function checkNumSamples(value: unknown, where = 'num_samples'): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new SednaError(
      'SEDNA_ERR_INVALID_UPDATE',
      `${where} must be a non-negative integer, got ${typeof value === 'number' ? String(value) : typeof value}`,
      { details: { value: typeof value === 'number' ? value : typeof value } },
    );
  }
  return value;
}

/**
 * A bounded in-memory {@link UpdateStream}: the server pushes updates, the algorithm iterates.
 * `push` resolves once the algorithm is done with the update (it asked for the next one, or
 * stopped iterating), so a feeder that awaits each push holds one update at a time: memory stays
 * flat however many clients there are, and a rejection made while processing is known by then.
 */
export class UpdateQueue implements UpdateStream {
  private readonly items: { update: ClientUpdate; done: () => void }[] = [];
  private waiter: ((value: IteratorResult<ClientUpdate>) => void) | undefined;
  /** Resolve the pushes of the updates the consumer holds now. */
  private current: (() => void)[] = [];
  private ended = false;
  private iterating = false;
  private readonly onReject: (update: ClientUpdate, error: SednaError) => void;

  constructor(onReject: (update: ClientUpdate, error: SednaError) => void = () => undefined) {
    this.onReject = onReject;
  }

  /** Queues an update; resolves when the consumer is done with it (or stopped iterating). */
  push(update: ClientUpdate): Promise<void> {
    if (this.ended) return Promise.reject(new SednaError('SEDNA_ERR_CLOSED', 'the round is closed'));
    return new Promise((resolve) => {
      const waiter = this.waiter;
      if (waiter !== undefined) {
        this.waiter = undefined;
        this.current.push(resolve);
        waiter({ value: update, done: false });
      } else {
        this.items.push({ update, done: resolve });
      }
    });
  }

  /** No more updates: the consumer's loop ends after the queued ones. */
  end(): void {
    this.ended = true;
    if (this.items.length === 0 && this.waiter !== undefined) {
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter({ value: undefined, done: true });
    }
  }

  get isEnded(): boolean {
    return this.ended;
  }

  get drained(): boolean {
    return this.ended && this.items.length === 0;
  }

  takeQueued(max: number): ClientUpdate[] {
    const taken = this.items.splice(0, Math.max(0, max));
    for (const item of taken) this.current.push(item.done);
    return taken.map((item) => item.update);
  }

  reject(update: ClientUpdate, error: SednaError): void {
    this.onReject(update, error);
  }

  private release(): void {
    const current = this.current;
    this.current = [];
    for (const done of current) done();
  }

  [Symbol.asyncIterator](): AsyncIterator<ClientUpdate> {
    if (this.iterating) throw new SednaError('SEDNA_ERR_INVALID_ARGUMENT', 'an update stream can be iterated once');
    this.iterating = true;
    return {
      next: () => {
        this.release(); // asking for the next update means the last one is done with
        const item = this.items.shift();
        if (item !== undefined) {
          this.current.push(item.done);
          return Promise.resolve({ value: item.update, done: false });
        }
        if (this.ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.waiter = resolve;
        });
      },
      return: () => {
        this.ended = true;
        this.release();
        for (const item of this.items.splice(0)) item.done();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  /** A stream over a fixed list (tests, offline aggregation). */
  static of(
    updates: readonly ClientUpdate[],
    onReject?: (update: ClientUpdate, error: SednaError) => void,
  ): UpdateQueue {
    const queue = new UpdateQueue(onReject);
    for (const u of updates) void queue.push(u);
    queue.end();
    return queue;
  }
}
