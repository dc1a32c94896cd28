/**
 * Micro-batching for a model server: requests that arrive within `maxDelayMs` of each other are
 * run as one batch (up to `maxBatchSize` samples), which is far cheaper per sample for most models
 * than one run each. Every request's samples get back exactly their rows of the batch output.
 */
import { SednaError, invalidArgument } from '../../common/errors.js';

export interface MicroBatchOptions {
  /** Most samples in one model run (≥ 1). */
  maxBatchSize: number;
  /** Longest a request waits for companions (≥ 0 ms). */
  maxDelayMs: number;
}

interface Pending<S, R> {
  samples: readonly S[];
  resolve: (rows: R[]) => void;
  reject: (err: unknown) => void;
}

export class MicroBatcher<S, R> {
  private queue: Pending<S, R>[] = [];
  private queuedSamples = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly run: (samples: readonly S[]) => Promise<readonly R[]>,
    private readonly options: MicroBatchOptions,
  ) {
    if (!Number.isInteger(options.maxBatchSize) || options.maxBatchSize < 1) {
      throw invalidArgument('maxBatchSize', options.maxBatchSize, 'an integer ≥ 1');
    }
    if (!Number.isFinite(options.maxDelayMs) || options.maxDelayMs < 0)
      throw invalidArgument('maxDelayMs', options.maxDelayMs, 'a number ≥ 0');
  }

  /** Queues one request's samples; resolves with its rows of the batch output. */
  submit(samples: readonly S[]): Promise<R[]> {
    if (samples.length === 0) return Promise.resolve([]);
    return new Promise<R[]>((resolve, reject) => {
      this.queue.push({ samples, resolve, reject });
      this.queuedSamples += samples.length;
      if (this.queuedSamples >= this.options.maxBatchSize) this.flush();
      else
        this.timer ??= setTimeout(() => {
          this.flush();
        }, this.options.maxDelayMs);
    });
  }

  private flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.queue;
    this.queue = [];
    this.queuedSamples = 0;
    if (batch.length === 0) return;
    const samples = batch.flatMap((p) => p.samples);
    this.run(samples).then(
      (rows) => {
        if (rows.length !== samples.length) {
          const err = new SednaError(
            'SEDNA_ERR_INFERENCE',
            `micro-batching needs one output row per sample: the model returned ${rows.length} rows for ${samples.length} samples`,
          );
          for (const p of batch) p.reject(err);
          return;
        }
        let offset = 0;
        for (const p of batch) {
          p.resolve(rows.slice(offset, offset + p.samples.length));
          offset += p.samples.length;
        }
      },
      (err: unknown) => {
        for (const p of batch) p.reject(err);
      },
    );
  }
}
