/**
 * Coordinate-wise trimmed mean (Yin et al., "Byzantine-Robust Distributed Learning: Towards
 * Optimal Statistical Rates", ICML 2018): for every parameter, the `⌊β·n⌋` largest and smallest of
 * the n clients' values are dropped and the rest averaged. A poisoned client moves each
 * coordinate's result only as far as the honest values around it allow, whatever it sends.
 *
 * The mean of the kept values is unweighted: a sample count is the client's own claim, and a
 * poisoned client would inflate it. The strategy needs every update of the round at once (memory
 * n × P), and sorts n values per parameter.
 */
import type { WeightRecord } from '../../backend/weights.js';
import { boundedParam } from '../params.js';
import type { AggregateResult, AggregationAlgorithm, RoundConfig, UpdateStream } from './base.js';
import { OutputPool, collectUpdates, layoutOfRound, numberAt, requireUpdates, writeValues } from './output.js';

export interface TrimmedMeanParams {
  /** Fraction trimmed at each end, in [0, 0.5) (default 0.2). CRD strings accepted. */
  beta?: number | string;
}

export class TrimmedMean implements AggregationAlgorithm {
  static readonly algorithmName: string = 'TrimmedMean';
  readonly name: string = TrimmedMean.algorithmName;
  readonly beta: number;
  private readonly pool = new OutputPool();

  constructor(params: TrimmedMeanParams = {}) {
    this.beta = boundedParam('TrimmedMean', 'beta', params.beta, 0.2, { min: 0, max: 0.5, maxExclusive: true });
  }

  configure(_round: number, _globalWeights: readonly WeightRecord[] | undefined): RoundConfig | undefined {
    return undefined;
  }

  async aggregate(_round: number, updates: UpdateStream): Promise<AggregateResult> {
    const round = await collectUpdates(updates);
    requireUpdates(this.name, round);
    const n = round.updates.length;
    const trim = Math.floor(this.beta * n);
    const kept = n - 2 * trim;
    const column = new Float64Array(n);
    const weights = this.pool.take(layoutOfRound(round));
    weights.forEach((out, t) => {
      const sources = round.updates.map((u) => (u.weights[t] as WeightRecord).data);
      const values = new Float64Array(out.data.length);
      for (let i = 0; i < values.length; i++) {
        for (let c = 0; c < n; c++) column[c] = numberAt(sources[c] as WeightRecord['data'], i);
        column.sort();
        let sum = 0;
        for (let c = trim; c < n - trim; c++) sum += column[c] as number;
        values[i] = sum / kept;
      }
      writeValues(values, out.data);
    });
    return {
      weights,
      totalSamples: round.updates.reduce((sum, u) => sum + u.numSamples, 0),
      clients: round.updates.map((u) => u.client),
    };
  }

  recycle(weights: readonly WeightRecord[]): void {
    this.pool.give(weights);
  }
}
