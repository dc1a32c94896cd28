/**
 * `FedAvgV2`: Sedna's parameter holder for the v2 (Plato) engine. It only carries
 * `parameters = {"type": "fedavg"}`; the v2 engine (a later issue) does the work, so
 * `aggregate()` is not supported on the v1 server: use `FedAvg` there.
 */
import { notSupported } from '../../common/errors.js';
import type { WeightRecord } from '../../backend/weights.js';
import type { AggregateResult, AggregationAlgorithm, RoundConfig, UpdateStream } from './base.js';

export class FedAvgV2 implements AggregationAlgorithm {
  static readonly algorithmName = 'FedAvgV2';
  readonly name: string = FedAvgV2.algorithmName;
  /** What the v2 engine reads (Sedna: `Config().algorithm = aggregation.parameters`). */
  readonly parameters: Readonly<{ type: 'fedavg' }> = Object.freeze({ type: 'fedavg' });

  configure(_round: number, _globalWeights: readonly WeightRecord[] | undefined): RoundConfig | undefined {
    return undefined;
  }

  aggregate(_round: number, _updates: UpdateStream): Promise<AggregateResult> {
    return Promise.reject(
      notSupported(
        'FedAvgV2.aggregate',
        'FedAvgV2 holds parameters for the v2 (Plato) engine; the v1 AggregationServer aggregates with FedAvg',
      ),
    );
  }
}
