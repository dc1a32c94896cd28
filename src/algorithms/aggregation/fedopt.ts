/**
 * Server-side adaptive optimizers (Reddi et al., "Adaptive Federated Optimization", ICLR 2021,
 * Algorithm 2): the round's sample-weighted mean of the clients' weights is treated as a
 * pseudo-gradient step `Δ = mean − x` from the current global model `x`, and the server applies
 * Adam or Yogi to it:
 *
 *     m ← β1·m + (1 − β1)·Δ
 *     v ← β2·v + (1 − β2)·Δ²                      (FedAdam)
 *     v ← v − (1 − β2)·Δ²·sign(v − Δ²)             (FedYogi)
 *     x ← x + η·m / (√v + τ)
 *
 * with m₀ = 0 and v₀ = τ² (the paper's `v₋₁ ≥ τ²`), no bias correction, as in the paper.
 *
 * State: the global model `x` and the moments `m`, `v` (float64, 3 × P × 8 B), kept by the
 * strategy itself: the weights the server hands to `configure()` may be recycled memory. The
 * first model comes from `configure(round, globalWeights)` when the server knows one (an initial
 * model); otherwise the first round's mean becomes `x` and that round's result is the plain
 * FedAvg. Integer tensors (counters) take the rounded mean, without the optimizer.
 */
import { SednaError } from '../../common/errors.js';
import { layoutOf, type WeightRecord } from '../../backend/weights.js';
import { boundedParam } from '../params.js';
import type { AggregateResult, AggregationAlgorithm, RoundConfig, UpdateStream } from './base.js';
import { FedAvg, type FedAvgParams } from './fedavg.js';
import { OutputPool, toFloat64, writeValues } from './output.js';

export interface FedOptParams extends FedAvgParams {
  /** Server learning rate η > 0 (FedAdam default 0.1, FedYogi 0.01). */
  eta?: number | string;
  /** First-moment decay β1 in [0, 1) (default 0.9). */
  beta_1?: number | string;
  /** Second-moment decay β2 in [0, 1) (default 0.99). */
  beta_2?: number | string;
  /** Adaptivity τ > 0 (default 1e-3): larger is closer to plain server SGD. */
  tau?: number | string;
}

interface TensorState {
  readonly x: Float64Array;
  readonly m: Float64Array;
  readonly v: Float64Array;
  /** Float tensors get the optimizer; integer ones just follow the mean. */
  readonly optimized: boolean;
}

/** What FedAdam and FedYogi share: the mean, the pseudo-gradient and the server step; subclasses give the second moment. */
export abstract class FedOpt implements AggregationAlgorithm {
  abstract readonly name: string;
  readonly eta: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly tau: number;
  private readonly mean: FedAvg;
  private readonly pool = new OutputPool();
  private state: { shapes: (readonly number[])[]; tensors: TensorState[] } | undefined;

  protected constructor(algorithm: string, params: FedOptParams, defaultEta: number) {
    this.eta = boundedParam(algorithm, 'eta', params.eta, defaultEta, { min: 0, minExclusive: true, max: 1e3 });
    this.beta1 = boundedParam(algorithm, 'beta_1', params.beta_1, 0.9, { min: 0, max: 1, maxExclusive: true });
    this.beta2 = boundedParam(algorithm, 'beta_2', params.beta_2, 0.99, { min: 0, max: 1, maxExclusive: true });
    this.tau = boundedParam(algorithm, 'tau', params.tau, 1e-3, { min: 0, minExclusive: true, max: 1e3 });
    this.mean = new FedAvg(params.kernel === undefined ? {} : { kernel: params.kernel });
  }

  /** The second-moment update of one element. */
  protected abstract nextV(v: number, delta2: number): number;

  /** The global model the optimizer holds (float64 copies), or undefined before the first round. */
  get globalModel(): readonly Float64Array[] | undefined {
    return this.state?.tensors.map((t) => t.x);
  }

  configure(_round: number, globalWeights: readonly WeightRecord[] | undefined): RoundConfig | undefined {
    if (this.state === undefined && globalWeights !== undefined && globalWeights.length > 0) this.seed(globalWeights);
    return undefined;
  }

  private seed(weights: readonly WeightRecord[]): void {
    const v0 = this.tau * this.tau;
    this.state = {
      shapes: weights.map((w) => [...w.shape]),
      tensors: weights.map((w) => ({
        x: toFloat64(w.data),
        m: new Float64Array(w.data.length),
        v: new Float64Array(w.data.length).fill(v0),
        optimized: w.dtype === 'float32' || w.dtype === 'float64',
      })),
    };
  }

  async aggregate(round: number, updates: UpdateStream): Promise<AggregateResult> {
    const mean = await this.mean.aggregate(round, updates);
    try {
      const state = this.state;
      if (state === undefined) {
        this.seed(mean.weights);
      } else {
        this.checkLayout(state.shapes, mean.weights);
        mean.weights.forEach((w, t) => {
          this.step(state.tensors[t] as TensorState, w);
        });
      }
      const tensors = (this.state as { tensors: TensorState[] }).tensors;
      const weights = this.pool.take(layoutOf(mean.weights));
      weights.forEach((w, t) => {
        writeValues((tensors[t] as TensorState).x, w.data);
      });
      return { weights, totalSamples: mean.totalSamples, clients: mean.clients };
    } finally {
      this.mean.recycle(mean.weights);
    }
  }

  recycle(weights: readonly WeightRecord[]): void {
    this.pool.give(weights);
  }

  private step(tensor: TensorState, mean: WeightRecord): void {
    const { x, m, v } = tensor;
    const values = mean.data;
    if (!tensor.optimized) {
      for (let i = 0; i < x.length; i++) x[i] = Number(values[i]);
      return;
    }
    const { eta, beta1, tau } = this;
    for (let i = 0; i < x.length; i++) {
      const delta = (values[i] as number) - (x[i] as number);
      const mi = beta1 * (m[i] as number) + (1 - beta1) * delta;
      const vi = this.nextV(v[i] as number, delta * delta);
      m[i] = mi;
      v[i] = vi;
      x[i] = (x[i] as number) + (eta * mi) / (Math.sqrt(vi) + tau);
    }
  }

  private checkLayout(shapes: readonly (readonly number[])[], weights: readonly WeightRecord[]): void {
    const same =
      shapes.length === weights.length &&
      weights.every((w, t) => {
        const want = shapes[t] as readonly number[];
        return w.shape.length === want.length && w.shape.every((d, j) => d === want[j]);
      });
    if (!same) {
      throw new SednaError(
        'SEDNA_ERR_WEIGHTS_MISMATCH',
        `${this.name}: the round's model differs from the one the optimizer holds (${weights.length} tensors, it has ${shapes.length})`,
        { details: { expected: shapes.length, actual: weights.length } },
      );
    }
  }
}

/** FedAdam: Adam on the server (registered as `aggregation/FedAdam`). */
export class FedAdam extends FedOpt {
  static readonly algorithmName: string = 'FedAdam';
  readonly name: string = FedAdam.algorithmName;

  constructor(params: FedOptParams = {}) {
    super('FedAdam', params, 0.1);
  }

  protected nextV(v: number, delta2: number): number {
    return this.beta2 * v + (1 - this.beta2) * delta2;
  }
}

/** FedYogi: Yogi on the server, whose second moment grows and shrinks additively (registered as `aggregation/FedYogi`). */
export class FedYogi extends FedOpt {
  static readonly algorithmName: string = 'FedYogi';
  readonly name: string = FedYogi.algorithmName;

  constructor(params: FedOptParams = {}) {
    super('FedYogi', params, 0.01);
  }

  protected nextV(v: number, delta2: number): number {
    return v - (1 - this.beta2) * delta2 * Math.sign(v - delta2);
  }
}
