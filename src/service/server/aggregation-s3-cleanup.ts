/**
 * What the aggregation server deletes from S3 when weights travel there: without it a job's bucket
 * grows by one model per client and round, plus one per round and float width.
 *
 * - An update object is deleted once the server has read it (accepted or refused) or refused it
 *   unread (a client not chosen for the round). Only objects under the sender's own prefix get
 *   here: the server checks the prefix first and never deletes what it was merely pointed at.
 *   A client that resends after a reconnect uploads a new object, so nothing it still needs goes.
 * - An aggregate is deleted once two newer rounds are published: a client still downloading
 *   round r's when round r + 1 closes keeps it; the last two stay after the job (the final model).
 *
 * Deleting is best effort: a failure is logged and never fails a round. `settle()` waits for the
 * deletes in flight (the server awaits it before it reports itself closed).
 */
import { messageOf } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { S3Transmitter } from '../transmitter.js';

/** Aggregates of this many most recent rounds stay in S3. */
export const AGGREGATE_ROUNDS_KEPT = 2;

export class S3Cleanup {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly aggregates: { round: number; urls: string[] }[] = [];

  constructor(
    private readonly s3: S3Transmitter,
    private readonly log: Logger,
  ) {}

  /** An update object the server is done with. */
  updateDone(url: string): void {
    this.discard(url, 'update');
  }

  /** The aggregate objects of `round` are published; older rounds beyond the kept ones go. */
  aggregatePublished(round: number, urls: string[]): void {
    this.aggregates.push({ round, urls });
    while (this.aggregates.length > AGGREGATE_ROUNDS_KEPT) {
      for (const url of this.aggregates.shift()?.urls ?? []) this.discard(url, 'aggregate');
    }
  }

  /** Resolves once every delete started so far has finished (failed ones included). */
  async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
  }

  private discard(url: string, what: 'update' | 'aggregate'): void {
    const done = this.s3.discard(url).then(
      () => {
        this.log.debug({ location: url }, `deleted a used ${what} from S3`);
      },
      (err: unknown) => {
        this.log.warn({ location: url, err: messageOf(err) }, `could not delete a used ${what} from S3; left in place`);
      },
    );
    this.inFlight.add(done);
    void done.finally(() => this.inFlight.delete(done));
  }
}
