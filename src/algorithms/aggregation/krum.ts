/**
 * Krum and Multi-Krum (Blanchard et al., "Machine Learning with Adversaries: Byzantine Tolerant
 * Gradient Descent", NeurIPS 2017). With n updates of which at most f may be poisoned, each update
 * is scored by the sum of squared distances to its n − f − 2 nearest neighbours; the update with
 * the lowest score (Krum), or the sample-weighted mean of the m lowest (Multi-Krum), is the
 * round's result. An update far from the honest cluster scores high and is left out.
 *
 * Needs n ≥ 2f + 3 updates in the round (else the round fails with SEDNA_ERR_ROUND_FAILED), every
 * update at once (memory n × P) and n²/2 distances over P parameters.
 */
import { SednaError } from '../../common/errors.js';
import type { WeightRecord } from '../../backend/weights.js';
import { intParam } from '../params.js';
import type { AggregateResult, AggregationAlgorithm, ClientUpdate, RoundConfig, UpdateStream } from './base.js';
import { FedAvg, type FedAvgParams } from './fedavg.js';
import { collectUpdates, numberAt, requireUpdates } from './output.js';

export interface KrumParams extends FedAvgParams {
  /** f: how many poisoned updates to tolerate, ≥ 0 (default 1). CRD strings accepted. */
  num_malicious_clients?: number | string;
  /** m: how many of the best-scored updates to average, ≥ 1 (default 1: Krum; more: Multi-Krum). */
  num_clients_to_keep?: number | string;
}

/** One update's Krum score in the last round. */
export interface KrumScore {
  readonly client: string;
  readonly score: number;
  readonly selected: boolean;
}

/** Σ over every parameter of (a − b)², in float64. */
function squaredDistance(a: ClientUpdate, b: ClientUpdate): number {
  let sum = 0;
  a.weights.forEach((wa, t) => {
    const da = wa.data;
    const db = (b.weights[t] as WeightRecord).data;
    for (let i = 0; i < da.length; i++) {
      const d = numberAt(da, i) - numberAt(db, i);
      sum += d * d;
    }
  });
  return sum;
}

export class Krum implements AggregationAlgorithm {
  static readonly algorithmName: string = 'Krum';
  readonly name: string = Krum.algorithmName;
  readonly maliciousClients: number;
  readonly clientsToKeep: number;
  private readonly mean: FedAvg;
  private scores: readonly KrumScore[] = [];

  constructor(params: KrumParams = {}) {
    this.maliciousClients = intParam('Krum', 'num_malicious_clients', params.num_malicious_clients, 1, 0, 1e6);
    this.clientsToKeep = intParam('Krum', 'num_clients_to_keep', params.num_clients_to_keep, 1, 1, 1e6);
    this.mean = new FedAvg(params.kernel === undefined ? {} : { kernel: params.kernel });
  }

  /** The scores of the last round, in arrival order (for logs and tests). */
  get lastScores(): readonly KrumScore[] {
    return this.scores;
  }

  configure(_round: number, _globalWeights: readonly WeightRecord[] | undefined): RoundConfig | undefined {
    return undefined;
  }

  async aggregate(_round: number, updates: UpdateStream): Promise<AggregateResult> {
    const round = await collectUpdates(updates);
    requireUpdates(this.name, round);
    const all = round.updates;
    const n = all.length;
    const f = this.maliciousClients;
    if (n < 2 * f + 3) {
      throw new SednaError(
        'SEDNA_ERR_ROUND_FAILED',
        `Krum: ${n} usable updates, but tolerating num_malicious_clients=${f} needs at least ${2 * f + 3}`,
        { details: { updates: n, num_malicious_clients: f, needed: 2 * f + 3 } },
      );
    }
    const distance = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const d = squaredDistance(all[i] as ClientUpdate, all[j] as ClientUpdate);
        distance[i * n + j] = d;
        distance[j * n + i] = d;
      }
    }
    const neighbours = n - f - 2;
    const score = all.map((_, i) => {
      const others = Float64Array.from({ length: n - 1 }, (_v, k) => distance[i * n + (k < i ? k : k + 1)] as number);
      others.sort();
      let sum = 0;
      for (let k = 0; k < neighbours; k++) sum += others[k] as number;
      return sum;
    });
    // Lowest scores first; ties go to the earlier arrival. Multi-Krum keeps at most n − f.
    const keep = Math.min(this.clientsToKeep, n - f);
    const chosen = new Set(
      all
        .map((_, i) => i)
        .sort((a, b) => (score[a] as number) - (score[b] as number) || a - b)
        .slice(0, keep),
    );
    this.scores = all.map((u, i) => ({ client: u.client, score: score[i] as number, selected: chosen.has(i) }));
    const sum = this.mean.accumulator();
    sum.addBatch(all.filter((_, i) => chosen.has(i)));
    return sum.finish();
  }

  recycle(weights: readonly WeightRecord[]): void {
    this.mean.recycle(weights);
  }
}
