/**
 * FedProx (Li et al., "Federated Optimization in Heterogeneous Networks", MLSys 2020): FedAvg on
 * the server, and on each trainer a proximal term `μ/2 · ‖w − w_global‖²` that keeps local
 * training near the round's global model when clients' data differ. The server's only part is
 * telling the trainers `μ`: `configure()` returns `{ mu }` for every round (sent as the
 * `round_config` frame), and the trainer applies it (TF.js: `train(..., { proximal })`, a
 * proximal step after each batch).
 */
import type { WeightRecord } from '../../backend/weights.js';
import { boundedParam } from '../params.js';
import type { RoundConfig } from './base.js';
import { FedAvg, type FedAvgParams } from './fedavg.js';

export interface FedProxParams extends FedAvgParams {
  /** Weight of the proximal term, ≥ 0 (default 0.01; 0 is plain FedAvg). CRD strings accepted. */
  mu?: number | string;
}

/** What FedProx tells the trainers each round. */
export interface FedProxRoundConfig extends RoundConfig {
  readonly mu: number;
}

export class FedProx extends FedAvg {
  static override readonly algorithmName: string = 'FedProx';
  override readonly name: string = FedProx.algorithmName;
  readonly mu: number;

  constructor(params: FedProxParams = {}) {
    super(params);
    this.mu = boundedParam('FedProx', 'mu', params.mu, 0.01, { min: 0, max: 1e6 });
  }

  override configure(_round: number, _globalWeights: readonly WeightRecord[] | undefined): FedProxRoundConfig {
    return { mu: this.mu };
  }
}
