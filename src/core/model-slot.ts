/**
 * The serving model of an inference worker, swappable while requests run. Each request takes the
 * current handle for its whole duration (`run`); a swap installs a new handle at once, and the old
 * estimator is closed only after the last request that started on it has finished. So a hot update
 * never fails a request and never answers one with a mix of two models.
 */
import { closedError } from '../common/errors.js';
import { getLogger } from '../common/logger.js';

/** Which model serves, as the job reports it. */
export interface ModelVersion {
  /** The hot-update time of the model (`model_update_time`), or undefined for the model loaded at start. */
  readonly version: string | undefined;
  /** Where it was loaded from (undefined: nothing loaded, or built in memory). */
  readonly url: string | undefined;
}

interface Handle<E> {
  readonly estimator: E;
  version: string | undefined;
  url: string | undefined;
  /** Close the estimator when it is retired (the job owns it). */
  readonly owned: boolean;
  inflight: number;
  retired: boolean;
}

/** What a slot holds: an estimator, or a whole set of models (lifelong learning's deployment). */
export interface SlotModel {
  close(): unknown;
}

export class ModelSlot<E extends SlotModel> {
  private handle: Handle<E>;
  private closed = false;
  private readonly closing = new Set<Promise<void>>();

  /** `owner` names the job in SEDNA_ERR_CLOSED errors. */
  constructor(
    estimator: E,
    owned: boolean,
    private readonly owner = 'IncrementalLearning',
  ) {
    this.handle = { estimator, owned, version: undefined, url: undefined, inflight: 0, retired: false };
  }

  get estimator(): E {
    return this.handle.estimator;
  }

  get current(): ModelVersion {
    return { version: this.handle.version, url: this.handle.url };
  }

  /** Requests running on any model. */
  get inflight(): number {
    return this.handle.inflight;
  }

  /** Runs `fn` on the current model, which stays open until `fn` settles even if a swap happens. */
  async run<T>(fn: (estimator: E, model: ModelVersion) => Promise<T>): Promise<T> {
    if (this.closed) throw closedError(this.owner);
    const handle = this.handle;
    handle.inflight++;
    try {
      return await fn(handle.estimator, { version: handle.version, url: handle.url });
    } finally {
      handle.inflight--;
      if (handle.retired && handle.inflight === 0) this.dispose(handle);
    }
  }

  /** Records what the current estimator now holds (after an in-place load). */
  setCurrent(model: ModelVersion): void {
    // Mutated in place: running requests hold this object and count on it.
    this.handle.version = model.version;
    this.handle.url = model.url;
  }

  /** Installs `estimator` as the serving model; the previous one closes once its requests finish. */
  swap(estimator: E, model: ModelVersion, owned = true): void {
    if (this.closed) {
      if (owned) void estimator.close();
      throw closedError(this.owner);
    }
    const previous = this.handle;
    this.handle = { estimator, owned, version: model.version, url: model.url, inflight: 0, retired: false };
    if (previous.estimator === estimator) return;
    previous.retired = true;
    if (previous.inflight === 0) this.dispose(previous);
  }

  /** Closes the serving model (after its running requests) and every retired one. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const last = this.handle;
    last.retired = true;
    if (last.inflight === 0) this.dispose(last);
    await Promise.all([...this.closing]);
  }

  private dispose(handle: Handle<E>): void {
    if (!handle.owned) return;
    // Closed on a later turn of the event loop, not in the finishing request's own time.
    const done = new Promise<void>((resolve) => setImmediate(resolve))
      .then(async () => {
        await handle.estimator.close();
      })
      .catch((err: unknown) => {
        getLogger(this.owner).warn({ err }, 'closing a replaced model failed');
      })
      .finally(() => this.closing.delete(done));
    this.closing.add(done);
  }
}
