/**
 * Outbox (src/core/multi-edge-inference/outbox.ts): results sent on in order with one send in
 * flight, coalesced while more are coming, bounded (push waits), failures counted and passed over.
 * The sends are held and released by the test, so every interleaving below is deterministic.
 */
import { getLogger } from '../../src/common/logger.js';
import { Outbox } from '../../src/core/multi-edge-inference/outbox.js';

/** A send the test completes (or fails) by hand, recording what each send carried. */
class HeldSends {
  readonly sent: number[][] = [];
  private pending: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private arrived: (() => void) | undefined;

  readonly send = (items: number[]): Promise<void> => {
    this.sent.push(items);
    this.arrived?.();
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
  };

  /** Resolves once `n` sends have started. */
  async started(n: number): Promise<void> {
    while (this.sent.length < n) await new Promise<void>((resolve) => (this.arrived = resolve));
  }

  complete(): void {
    this.pending.shift()?.resolve();
  }

  fail(): void {
    this.pending.shift()?.reject(new Error('peer gone'));
  }
}

const log = () => getLogger('test.outbox');

describe('Outbox', () => {
  it('keeps one send in flight and sends what queued meanwhile together, in order', async () => {
    const sends = new HeldSends();
    const outbox = new Outbox('peer', sends.send, log, { maxBatch: 3 });
    await outbox.push([1]);
    await sends.started(1);
    await outbox.push([2]);
    await outbox.push([3, 4]);
    await outbox.push([5]);
    expect(sends.sent).toEqual([[1]]); // nothing else leaves while the first send is out
    sends.complete();
    await sends.started(2);
    expect(sends.sent[1]).toEqual([2, 3, 4]); // at most maxBatch per send
    sends.complete();
    await sends.started(3);
    sends.complete();
    await outbox.flush();
    expect(sends.sent).toEqual([[1], [2, 3, 4], [5]]);
    expect(outbox.stats).toEqual({ sent: 5, sendFailures: 0, sends: 3, pending: 0 });
  });

  it('holds a partial send while more is coming, and sends at once when it stops', async () => {
    const sends = new HeldSends();
    let more = true;
    const outbox = new Outbox('peer', sends.send, log, { maxBatch: 4, moreComing: () => more });
    await outbox.push([1]);
    await outbox.push([2]);
    await new Promise((r) => setImmediate(r));
    expect(sends.sent).toEqual([]); // held: the component has more queued
    await outbox.push([3, 4]); // a full batch goes anyway
    await sends.started(1);
    expect(sends.sent[0]).toEqual([1, 2, 3, 4]);
    sends.complete();
    await outbox.push([5]);
    await new Promise((r) => setImmediate(r));
    expect(sends.sent).toHaveLength(1);
    more = false;
    outbox.poke(); // the component's queue ran dry
    await sends.started(2);
    expect(sends.sent[1]).toEqual([5]);
    sends.complete();
    await outbox.flush();
  });

  it('makes push wait when full (backpressure), and never holds a send a push waits on', async () => {
    const sends = new HeldSends();
    let more = true;
    const outbox = new Outbox('peer', sends.send, log, { maxPending: 2, maxBatch: 8, moreComing: () => more });
    await outbox.push([1, 2]); // full (and held: more is coming)
    let third = false;
    const pushing = outbox.push([3]).then(() => (third = true));
    await sends.started(1); // the waiting push releases the held send
    expect(sends.sent[0]).toEqual([1, 2]);
    expect(third).toBe(false); // still in flight: no room yet
    sends.complete();
    await pushing;
    expect(third).toBe(true);
    more = false;
    outbox.poke();
    await sends.started(2);
    sends.complete();
    await outbox.flush();
    expect(outbox.stats.sent).toBe(3);
  });

  it('counts a failed send and goes on with the next', async () => {
    const sends = new HeldSends();
    const outbox = new Outbox('peer', sends.send, log);
    await outbox.push([1, 2]);
    await sends.started(1);
    await outbox.push([3]);
    sends.fail();
    await sends.started(2);
    sends.complete();
    await outbox.flush();
    expect(outbox.stats).toEqual({ sent: 1, sendFailures: 2, sends: 2, pending: 0 });
  });
});
