/**
 * BaseService (src/core/multi-edge-inference/base-service.ts): Sedna's batching and inactivity
 * flush, and the bounds Sedna's queue lacks (block, drop-oldest, reject), on a service whose
 * processing the test holds and releases.
 */
import { loadConfig } from '../../src/common/config.js';
import { BaseService, type BaseServiceOptions } from '../../src/core/multi-edge-inference/base-service.js';
import { workerIdentity } from '../../src/service/client/lc-client.js';

const config = loadConfig({ LOG_LEVEL: 'silent' });

/** Records batches; while `hold` is set, processing waits for `release()`. */
class Recorder extends BaseService<number> {
  readonly batches: number[][] = [];
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;
  failOn = new Set<number>();

  constructor(options: BaseServiceOptions) {
    super({ name: 'Recorder', config, identity: workerIdentity(config, 'default') }, options);
  }

  hold(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }

  release(): void {
    this.open?.();
    this.gate = undefined;
  }

  protected override preprocess(item: number): number | undefined {
    return item < 0 ? undefined : item; // negative items are filtered, as Sedna's preprocess may
  }

  protected async process(batch: number[]): Promise<void> {
    await this.gate;
    this.batches.push(batch);
    if (batch.some((n) => this.failOn.has(n))) throw new Error('model failed');
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('BaseService', () => {
  it('synchronous: put() processes each full batch itself; a partial batch flushes after the timeout', async () => {
    const s = new Recorder({ batchSize: 2, timeoutMs: 50 });
    await s.put(1);
    expect(s.batches).toEqual([]);
    await s.put(2);
    expect(s.batches).toEqual([[1, 2]]);
    await s.put(3);
    await s.put(-1);
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(s.batches).toEqual([[1, 2], [3]]);
    expect(s.queueStats).toMatchObject({ received: 4, filtered: 1, processed: 3, batches: 2 });
    await s.close();
  });

  it('asynchronous with block: put() waits for room, and nothing is lost', async () => {
    const s = new Recorder({ asynchronous: true, batchSize: 1, maxQueue: 2, overflow: 'block', timeoutMs: 1000 });
    s.hold();
    await s.put(1); // taken by the loop, held in process()
    await tick();
    await s.put(2);
    await s.put(3); // queue full now
    let fourth = false;
    const p = s.put(4).then(() => (fourth = true));
    await tick();
    expect(fourth).toBe(false);
    s.release();
    await p;
    await s.drain();
    expect(s.batches.flat()).toEqual([1, 2, 3, 4]);
    expect(s.queueStats).toMatchObject({ dropped: 0, rejected: 0, highWater: 2 });
    await s.close();
  });

  it('asynchronous with drop-oldest: the stalest item goes and is counted (live video)', async () => {
    const s = new Recorder({ asynchronous: true, batchSize: 1, maxQueue: 2, overflow: 'drop-oldest' });
    s.hold();
    await s.put(1);
    await tick();
    for (const n of [2, 3, 4, 5]) await s.put(n);
    s.release();
    await s.drain();
    expect(s.batches.flat()).toEqual([1, 4, 5]);
    expect(s.queueStats.dropped).toBe(2);
    await s.close();
  });

  it('asynchronous with reject: a full queue is SEDNA_ERR_OVERLOADED, counted', async () => {
    const s = new Recorder({ asynchronous: true, batchSize: 1, maxQueue: 1, overflow: 'reject' });
    s.hold();
    await s.put(1);
    await tick();
    await s.put(2);
    await expect(s.put(3)).rejects.toMatchObject({ code: 'SEDNA_ERR_OVERLOADED' });
    s.release();
    await s.drain();
    expect(s.batches.flat()).toEqual([1, 2]);
    expect(s.queueStats.rejected).toBe(1);
    await s.close();
  });

  it('a failing batch is counted and the next one runs; close() processes what is queued first', async () => {
    const s = new Recorder({ asynchronous: true, batchSize: 2, maxQueue: 8, timeoutMs: 10_000 });
    s.failOn.add(2);
    for (const n of [1, 2, 3, 4, 5]) await s.put(n);
    await s.close(); // 5 waits alone in a partial batch: close flushes it without the 10 s timeout
    expect(s.batches).toEqual([[1, 2], [3, 4], [5]]);
    expect(s.queueStats).toMatchObject({ processed: 3, failed: 2 });
    await expect(s.put(6)).rejects.toMatchObject({ code: 'SEDNA_ERR_CLOSED' });
  });

  it('rejects bad options with coded errors', () => {
    expect(() => new Recorder({ batchSize: 0 })).toThrow(
      expect.objectContaining({ code: 'SEDNA_ERR_INVALID_ARGUMENT' }) as Error,
    );
    expect(() => new Recorder({ maxQueue: 1, batchSize: 2 })).toThrow(
      expect.objectContaining({ code: 'SEDNA_ERR_INVALID_ARGUMENT' }) as Error,
    );
    expect(() => new Recorder({ overflow: 'explode' as 'block' })).toThrow(
      expect.objectContaining({ code: 'SEDNA_ERR_INVALID_ARGUMENT' }) as Error,
    );
  });
});
