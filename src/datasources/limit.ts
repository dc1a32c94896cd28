/** Bounded concurrency for transfers (house rule 7: every queue a bound). */

/**
 * Runs `fn` over `items` with at most `limit` calls in flight; results keep the input order.
 * After the first failure no new call starts, the running ones finish, and that failure is thrown.
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const state: { failure?: { error: unknown } } = {};
  const worker = async (): Promise<void> => {
    while (state.failure === undefined && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index] as T, index);
      } catch (err) {
        state.failure ??= { error: err };
      }
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker);
  await Promise.all(workers);
  if (state.failure !== undefined) throw state.failure.error;
  return results;
}

/** A counting semaphore: `run(fn)` waits for a free slot, so nested fan-outs share one bound. */
export class Semaphore {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(slots: number) {
    this.free = Math.max(1, slots);
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const wake = this.waiting.shift();
      if (wake === undefined) this.free++;
      else wake();
    }
  }
}
