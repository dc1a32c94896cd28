/**
 * FedAvg (McMahan et al. 2017; Sedna's `FedAvg`): the sample-weighted mean of the clients'
 * weights, `w = Σ n_c · W_c / Σ n_c`.
 *
 * Each update is folded into one running float64 sum as it arrives and then dropped, so memory
 * is the sum (8 B per parameter = 2 × P × 4 B) plus the update being folded in, whatever the
 * number of clients (Sedna holds every update until the round ends). Why float64 and not a
 * float32 or Kahan-compensated float32 sum: see docs/federated-learning.md ("Precision"); in
 * short, float64 makes the sum exact to within one rounding for any realistic client count at
 * the same memory and bandwidth cost as Kahan's two float32 arrays, and it is what Sedna's numpy
 * code computes.
 */
import { SednaError, invalidAlgorithmParam, isSednaError } from '../../common/errors.js';
import { allocateWeightsFrame, elementCount, type WeightLayout, type WeightRecord } from '../../backend/weights.js';
import {
  RoundLayout,
  checkNumSamples,
  type AggregateResult,
  type AggregationAlgorithm,
  type ClientUpdate,
  type RoundConfig,
  type UpdateStream,
} from './base.js';
import { createSumKernel, reserveOrFallback, type KernelName, type SumKernel } from './sum-kernel.js';

export interface FedAvgParams {
  /** Which sum kernel to use: `auto` (WebAssembly SIMD when available), `wasm-simd` or `js`. */
  kernel?: KernelName | 'auto';
}

/**
 * Output frames handed back by `recycle()`, reused by the next `finish()` of the same layout (every
 * element is overwritten). At most one is kept: about one model's worth of memory.
 */
class OutputPool {
  private kept: { key: string; records: WeightRecord[] } | undefined;

  private static key(layout: WeightLayout): string {
    return layout.map((t) => `${t.dtype}[${t.shape.join(',')}]`).join(';');
  }

  take(layout: WeightLayout): WeightRecord[] {
    const key = OutputPool.key(layout);
    const kept = this.kept;
    if (kept?.key === key) {
      this.kept = undefined;
      return kept.records.map((r, i) => ({ ...r, name: (layout[i] as WeightLayout[number]).name }));
    }
    // One buffer laid out as a weights frame: the server sends it as is, without a copy.
    return allocateWeightsFrame(layout);
  }

  give(records: readonly WeightRecord[]): void {
    const buffer = records[0]?.data.buffer;
    // Only a whole frame of ours: every record a view into the same buffer.
    if (buffer === undefined || !records.every((r) => r.data.buffer === buffer)) return;
    this.kept = { key: OutputPool.key(records), records: [...records] };
  }
}

/** Integer tensors: the mean rounded to the nearest integer. */
function roundInto(mean: Float64Array, out: Int32Array | Uint8Array | BigInt64Array): void {
  if (out instanceof BigInt64Array)
    for (let i = 0; i < mean.length; i++) out[i] = BigInt(Math.round(mean[i] as number));
  else for (let i = 0; i < mean.length; i++) out[i] = Math.round(mean[i] as number);
}

/**
 * One round's running sum. `add()` folds an update in (or throws, leaving the sum as it was);
 * `finish()` divides by Σ n and returns the aggregate.
 */
export class FedAvgAccumulator {
  private kernel: SumKernel;
  private readonly layout = new RoundLayout();
  private offsets: number[] = [];
  private shapes: (readonly number[])[] = [];
  private names: string[] = [];
  private assigned = false;
  private total = 0;
  private readonly used: string[] = [];

  constructor(
    kernel: SumKernel,
    private readonly pool: OutputPool = new OutputPool(),
  ) {
    this.kernel = kernel;
  }

  get kernelName(): KernelName {
    return this.kernel.name;
  }

  /** Updates folded in so far. */
  get count(): number {
    return this.used.length;
  }

  get totalSamples(): number {
    return this.total;
  }

  /**
   * Folds `update` into the sum. Throws SEDNA_ERR_WEIGHTS_MISMATCH (layout differs from the
   * round's), SEDNA_ERR_INVALID_UPDATE (bad sample count, NaN or infinite weights); the sum is
   * then unchanged.
   */
  add(update: ClientUpdate): void {
    const n = checkNumSamples(update.numSamples, `num_samples of "${update.client}"`);
    this.layout.check(update);
    const assign = !this.assigned;
    // Until an update has been accepted, each candidate lays the sum out afresh.
    if (assign) this.plan(update.weights);
    const weights = update.weights;
    for (let t = 0; t < weights.length; t++) {
      const w = weights[t] as WeightRecord;
      const bad = this.kernel.add(this.offsets[t] as number, w.data, n, assign);
      if (bad >= 0) {
        if (!assign)
          for (let u = 0; u < t; u++)
            this.kernel.add(this.offsets[u] as number, (weights[u] as WeightRecord).data, -n, false);
        throw new SednaError(
          'SEDNA_ERR_INVALID_UPDATE',
          `update from "${update.client}": tensor #${t} ("${w.name}") holds a NaN or infinite value at index ${bad}`,
          { details: { client: update.client, tensor: t, index: bad } },
        );
      }
    }
    this.layout.record(update);
    this.assigned = true;
    this.total += n;
    this.used.push(update.client);
  }

  private plan(weights: readonly WeightRecord[]): void {
    let offset = 0;
    this.offsets = weights.map((w) => {
      const at = offset;
      offset += elementCount(w.shape);
      return at;
    });
    this.shapes = weights.map((w) => [...w.shape]);
    this.names = weights.map((w) => w.name);
    this.kernel = reserveOrFallback(this.kernel, offset);
  }

  /** The aggregate. Output dtypes are the binary updates' (float64 when every update was JSON). */
  finish(): AggregateResult {
    if (this.used.length === 0) throw new SednaError('SEDNA_ERR_ROUND_FAILED', 'FedAvg: the round has no updates');
    if (this.total === 0) {
      throw new SednaError(
        'SEDNA_ERR_ROUND_FAILED',
        'FedAvg: every update reported num_samples = 0; the weighted mean is undefined',
      );
    }
    const dtypes = this.layout.binaryDtypes;
    const layout: WeightLayout = this.shapes.map((shape, t) => ({
      name: this.names[t] as string,
      dtype: dtypes?.[t] ?? 'float64',
      shape,
    }));
    const weights = this.pool.take(layout);
    weights.forEach((w, t) => {
      const offset = this.offsets[t] as number;
      if (w.data instanceof Float32Array || w.data instanceof Float64Array) {
        this.kernel.finish(offset, this.total, w.data);
        return;
      }
      const mean = new Float64Array(w.data.length);
      this.kernel.finish(offset, this.total, mean);
      roundInto(mean, w.data);
    });
    return { weights, totalSamples: this.total, clients: [...this.used] };
  }
}

/** Sedna's FedAvg, registered as `aggregation/FedAvg`. */
export class FedAvg implements AggregationAlgorithm {
  static readonly algorithmName = 'FedAvg';
  readonly name: string = FedAvg.algorithmName;
  /** Sedna's `total_size`: Σ num_samples of the last aggregated round. */
  totalSize = 0;
  private readonly kernel: SumKernel;
  private readonly pool = new OutputPool();

  constructor(params: FedAvgParams = {}) {
    const kernel = params.kernel ?? 'auto';
    if (!['auto', 'wasm-simd', 'js'].includes(kernel)) {
      throw invalidAlgorithmParam('FedAvg', 'kernel', kernel, 'auto, wasm-simd or js');
    }
    // One kernel per instance: its memory is reused round after round.
    this.kernel = createSumKernel(kernel);
  }

  /** The kernel in use (`wasm-simd` or `js`). */
  get kernelName(): KernelName {
    return this.kernel.name;
  }

  /** FedAvg tells the clients nothing: Sedna's v1 clients start each round from the last aggregate. */
  configure(_round: number, _globalWeights: readonly WeightRecord[] | undefined): RoundConfig | undefined {
    return undefined;
  }

  /** A fresh running sum (for callers that feed updates themselves). */
  accumulator(): FedAvgAccumulator {
    return new FedAvgAccumulator(this.kernel, this.pool);
  }

  /** Takes back the output arrays of an earlier result (see AggregationAlgorithm.recycle). */
  recycle(weights: readonly WeightRecord[]): void {
    this.pool.give(weights);
  }

  async aggregate(_round: number, updates: UpdateStream): Promise<AggregateResult> {
    const sum = this.accumulator();
    const iterator = updates[Symbol.asyncIterator]();
    // A plain loop variable, overwritten each time: the last update is not kept alive while the
    // sum is finished (it would add one message to the peak memory).
    for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) {
      try {
        sum.add(next.value);
      } catch (err) {
        if (isSednaError(err, 'SEDNA_ERR_INVALID_UPDATE') || isSednaError(err, 'SEDNA_ERR_WEIGHTS_MISMATCH')) {
          updates.reject(next.value, err);
        } else {
          throw err;
        }
      }
    }
    const result = sum.finish();
    this.totalSize = result.totalSamples;
    return result;
  }
}
