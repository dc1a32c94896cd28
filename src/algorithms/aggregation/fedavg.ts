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
import { SednaError, invalidAlgorithmParam } from '../../common/errors.js';
import {
  allocateWeightsFrame,
  elementCount,
  type WeightDtype,
  type WeightLayout,
  type WeightRecord,
} from '../../backend/weights.js';
import {
  RoundLayout,
  checkNumSamples,
  type AggregateResult,
  type AggregationAlgorithm,
  type ClientUpdate,
  type RoundConfig,
  type UpdateStream,
} from './base.js';
import { OutputPool, asRefusal, nonFiniteUpdate, numberAt, outputLayout, writeValues } from './output.js';
import { MAX_BATCH, createSumKernel, reserveOrFallback, type KernelName, type SumKernel } from './sum-kernel.js';

export interface FedAvgParams {
  /** Which sum kernel to use: `auto` (WebAssembly SIMD when available), `wasm-simd` or `js`. */
  kernel?: KernelName | 'auto';
}

/** Per update of a batch: undefined when it was folded in, else why it was refused. */
export type BatchErrors = (SednaError | undefined)[];

/** Updates the multi-update kernel takes: binary, every tensor float32. */
function isFloat32Update(update: ClientUpdate): boolean {
  return update.encoding === 'binary' && update.weights.every((w) => w.data instanceof Float32Array);
}

interface Candidate {
  readonly update: ClientUpdate;
  readonly index: number;
  readonly n: number;
}

/** An update kept for the float64 mean: its weights and sample count. */
interface Kept {
  readonly weights: readonly WeightRecord[];
  readonly n: number;
}

/**
 * Tensor `t` of the float64 mean exactly as Sedna's numpy code computes it: starting from zeros,
 * `row += W_c * n_c / total` for each update in order (each product and quotient rounded to
 * float64, then the sum). Dividing inside the sum is what makes it differ from `Σ n_c·W_c / total`
 * in the last bits.
 */
function sednaMean(kept: readonly Kept[], t: number, total: number, out: Float64Array): void {
  out.fill(0);
  for (const { weights, n } of kept) {
    const data = (weights[t] as WeightRecord).data;
    for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) + (numberAt(data, i) * n) / total;
  }
}

/**
 * One round's running sum. `add()` folds an update in (or throws, leaving the sum as it was);
 * `finish()` divides by Σ n and returns the aggregate.
 *
 * Precision per receiver: an all-float32 round is the running float64 sum divided once into
 * float32. When the round needs a float64 aggregate (one of its updates is JSON or float64, or
 * `wantsFloat64` says a receiver takes float64), the updates are kept until the round ends and the
 * float64 mean is computed as Sedna's numpy code does (`float64Weights`, or `weights` when those
 * are float64); narrower outputs are that mean rounded once.
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
  /** Set once `finishBatch` produced the result without writing the sum. */
  private spent = false;
  /** Every update folded in so far, while the round may need a float64 mean; undefined once one was let go. */
  private kept: Kept[] | undefined = [];
  /** An update that is not binary float32 came: the round's aggregate has a float64 form. */
  private sawWide = false;

  /** `wantsFloat64`: whether a receiver of the round takes float64 (see UpdateStream.wantsFloat64). */
  constructor(
    kernel: SumKernel,
    private readonly pool: OutputPool = new OutputPool(),
    private readonly wantsFloat64: () => boolean = () => false,
  ) {
    this.kernel = kernel;
  }

  /** Whether the aggregate has a float64 form (see the class comment). */
  private get needsFloat64(): boolean {
    return this.sawWide || this.wantsFloat64();
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
    this.checkOpen();
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
        throw nonFiniteUpdate(update, t, bad);
      }
    }
    this.accept({ update, index: 0, n });
  }

  /**
   * Folds several updates in, in order, with the same result as one `add` each: runs of binary
   * float32 updates go through the kernel together (up to {@link MAX_BATCH} per pass over the
   * sum), which reads and writes the sum once per run instead of once per update. Returns, per
   * update, undefined or the refusal (`add`'s errors); refused updates leave the sum as it was.
   */
  addBatch(updates: readonly ClientUpdate[]): BatchErrors {
    this.checkOpen();
    const errors: BatchErrors = updates.map(() => undefined);
    let run: number[] = [];
    const flush = (): void => {
      if (run.length > 0) this.addRun(updates, run, errors);
      run = [];
    };
    updates.forEach((update, i) => {
      if (isFloat32Update(update)) {
        run.push(i);
        if (run.length === MAX_BATCH) flush();
        return;
      }
      flush();
      try {
        this.add(update);
      } catch (err) {
        errors[i] = asRefusal(err);
      }
    });
    flush();
    return errors;
  }

  /**
   * The round's last updates and the aggregate in one pass: for binary float32 updates the
   * final sum goes straight into the output without being written back (same bits as
   * `addBatch` then `finish`). The accumulator is spent afterwards.
   */
  finishBatch(updates: readonly ClientUpdate[]): { result: AggregateResult; errors: BatchErrors } {
    this.checkOpen();
    const fused =
      this.kernel.finishMany !== undefined &&
      updates.length <= MAX_BATCH &&
      updates.every(isFloat32Update) &&
      !this.needsFloat64;
    const errors: BatchErrors = updates.map(() => undefined);
    const candidates = fused
      ? this.screen(
          updates,
          updates.map((_, i) => i),
          errors,
        )
      : [];
    const total = candidates.reduce((sum, c) => sum + c.n, this.total);
    if (!fused || candidates.length !== updates.length || candidates.length === 0 || total === 0) {
      const batchErrors = this.addBatch(updates);
      return { result: this.finish(), errors: batchErrors };
    }
    const assign = !this.assigned;
    if (assign) this.plan((candidates[0] as Candidate).update.weights);
    // Every tensor of these updates is float32 (so is any earlier binary one: the layout checked it).
    const weights = this.pool.take(this.outputLayout(this.shapes.map((): WeightDtype => 'float32')));
    const finishMany = this.kernel.finishMany?.bind(this.kernel);
    const scales = candidates.map((c) => c.n);
    for (let t = 0; t < weights.length && finishMany !== undefined; t++) {
      const sources = candidates.map((c) => (c.update.weights[t] as WeightRecord).data as Float32Array);
      const out = (weights[t] as WeightRecord).data as Float32Array;
      const bad = finishMany(this.offsets[t] as number, sources, scales, assign, total, out);
      if (bad.some((b) => b >= 0)) {
        // A NaN: the sum is untouched, so the per-update path sorts it out.
        this.pool.give(weights);
        const batchErrors = this.addBatch(updates);
        return { result: this.finish(), errors: batchErrors };
      }
    }
    for (const c of candidates) this.accept(c);
    this.spent = true;
    return { result: { weights, totalSamples: this.total, clients: [...this.used] }, errors };
  }

  /** Sample counts and layouts of a run: the updates that pass, in order (errors set for the others). */
  private screen(updates: readonly ClientUpdate[], indexes: readonly number[], errors: BatchErrors): Candidate[] {
    // Until the round has a layout, the run's first good update sets it for the others.
    const probe = new RoundLayout();
    const candidates: Candidate[] = [];
    for (const index of indexes) {
      const update = updates[index] as ClientUpdate;
      try {
        const n = checkNumSamples(update.numSamples, `num_samples of "${update.client}"`);
        this.layout.check(update);
        probe.accept(update);
        candidates.push({ update, index, n });
      } catch (err) {
        errors[index] = asRefusal(err);
      }
    }
    return candidates;
  }

  private addRun(updates: readonly ClientUpdate[], indexes: readonly number[], errors: BatchErrors): void {
    let alive = this.screen(updates, indexes, errors);
    if (alive.length === 1) {
      const only = alive[0] as Candidate;
      try {
        this.add(only.update);
      } catch (err) {
        errors[only.index] = asRefusal(err);
      }
      return;
    }
    if (alive.length === 0) return;
    const assign = !this.assigned;
    if (assign) this.plan((alive[0] as Candidate).update.weights);
    const tensors = (alive[0] as Candidate).update.weights.length;
    for (let t = 0; t < tensors && alive.length > 0; t++) {
      const sources = alive.map((c) => (c.update.weights[t] as WeightRecord).data as Float32Array);
      const bad = this.kernel.addMany(
        this.offsets[t] as number,
        sources,
        alive.map((c) => c.n),
        assign,
      );
      alive = alive.filter((c, k) => {
        const at = bad[k] as number;
        if (at < 0) return true;
        // Its earlier tensors come back out of the sum.
        for (let u = 0; u < t; u++)
          this.kernel.add(this.offsets[u] as number, (c.update.weights[u] as WeightRecord).data, -c.n, false);
        errors[c.index] = nonFiniteUpdate(c.update, t, at);
        return false;
      });
    }
    for (const c of alive) this.accept(c);
  }

  private accept(c: Candidate): void {
    this.layout.record(c.update);
    this.assigned = true;
    this.total += c.n;
    this.used.push(c.update.client);
    if (!isFloat32Update(c.update)) this.sawWide = true;
    // Kept only while every update of the round is (an all-float32 round keeps none: flat memory).
    if (this.kept !== undefined) {
      if (this.needsFloat64) this.kept.push({ weights: c.update.weights, n: c.n });
      else this.kept = undefined;
    }
  }

  private checkOpen(): void {
    if (this.spent) throw new SednaError('SEDNA_ERR_CLOSED', 'this FedAvg sum was already finished (finishBatch)');
  }

  private outputLayout(dtypes = this.layout.binaryDtypes): WeightLayout {
    return outputLayout(this.names, this.shapes, dtypes);
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

  /**
   * The aggregate. Output dtypes are the binary updates' (float64 when every update was JSON);
   * with a float64 form (see the class comment), `float64Weights` when they are narrower.
   */
  finish(): AggregateResult {
    this.checkOpen();
    if (this.used.length === 0) throw new SednaError('SEDNA_ERR_ROUND_FAILED', 'FedAvg: the round has no updates');
    if (this.total === 0) {
      throw new SednaError(
        'SEDNA_ERR_ROUND_FAILED',
        'FedAvg: every update reported num_samples = 0; the weighted mean is undefined',
      );
    }
    const weights = this.pool.take(this.outputLayout());
    const wide = this.needsFloat64;
    // Sedna's order when every update was kept; else (a float64 receiver came after a float32
    // update was let go) the float64 sum divided once, within an ulp or two of it.
    const kept = wide ? this.kept : undefined;
    const float64 =
      wide && !weights.every((w) => w.data instanceof Float64Array)
        ? allocateWeightsFrame(
            outputLayout(
              this.names,
              this.shapes,
              this.shapes.map((): WeightDtype => 'float64'),
            ),
          )
        : undefined;
    weights.forEach((w, t) => {
      const out = w.data;
      const offset = this.offsets[t] as number;
      const wide64 = float64?.[t]?.data as Float64Array | undefined;
      if (kept === undefined && wide64 === undefined && (out instanceof Float32Array || out instanceof Float64Array)) {
        this.kernel.finish(offset, this.total, out);
        return;
      }
      const mean = wide64 ?? (out instanceof Float64Array ? out : new Float64Array(out.length));
      if (kept !== undefined) sednaMean(kept, t, this.total, mean);
      else this.kernel.finish(offset, this.total, mean);
      // Narrower outputs: the float64 mean rounded once.
      if (mean !== out) writeValues(mean, out);
    });
    this.kept = undefined;
    return {
      weights,
      totalSamples: this.total,
      clients: [...this.used],
      ...(float64 === undefined ? {} : { float64Weights: float64 }),
    };
  }
}

/** Sedna's FedAvg, registered as `aggregation/FedAvg`. */
export class FedAvg implements AggregationAlgorithm {
  static readonly algorithmName: string = 'FedAvg';
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

  /** A fresh running sum (for callers that feed updates themselves); see FedAvgAccumulator for `wantsFloat64`. */
  accumulator(wantsFloat64?: () => boolean): FedAvgAccumulator {
    return new FedAvgAccumulator(this.kernel, this.pool, wantsFloat64);
  }

  /** Takes back the output arrays of an earlier result (see AggregationAlgorithm.recycle). */
  recycle(weights: readonly WeightRecord[]): void {
    this.pool.give(weights);
  }

  /**
   * Folds the updates in as they come. Updates that are already waiting (a stream with
   * `takeQueued`) are folded in together, up to MAX_BATCH per pass over the sum; when they are the
   * round's last, the pass writes the aggregate directly. Fed one at a time (the server awaits
   * each push), it holds one update at a time.
   */
  async aggregate(_round: number, updates: UpdateStream): Promise<AggregateResult> {
    const sum = this.accumulator(() => updates.wantsFloat64 === true);
    const iterator = updates[Symbol.asyncIterator]();
    let result: AggregateResult | undefined;
    // A plain loop variable, overwritten each time, and the batch local to fold(): the last
    // updates are not kept alive while the sum is finished (they would add to the peak memory).
    for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) {
      if (result !== undefined) throw new SednaError('SEDNA_ERR_INTERNAL', 'FedAvg: an update came after the last one');
      result = this.fold(sum, updates, next.value);
    }
    result ??= sum.finish();
    this.totalSize = result.totalSamples;
    return result;
  }

  /** Folds `first` and the updates queued behind it; the aggregate when they were the round's last. */
  private fold(sum: FedAvgAccumulator, updates: UpdateStream, first: ClientUpdate): AggregateResult | undefined {
    const batch = [first, ...(updates.takeQueued?.(MAX_BATCH - 1) ?? [])];
    const last = updates.drained === true ? sum.finishBatch(batch) : undefined;
    const errors = last?.errors ?? sum.addBatch(batch);
    errors.forEach((error, i) => {
      if (error !== undefined) updates.reject(batch[i] as ClientUpdate, error);
    });
    return last?.result;
  }
}
