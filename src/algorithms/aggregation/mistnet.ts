/**
 * `MistNet(cut_layer, epsilon=100)`: Sedna's parameter holder for split learning on the v2
 * (Plato) engine: `parameters = {"type": "mistnet", "cut_layer", "epsilon"}`. The split-learning
 * engine comes in a later issue; `aggregate()` is not supported on the v1 server.
 *
 * CRD values arrive as strings: integer strings become numbers, like Sedna. Sedna replaced a
 * numeric-string `epsilon` with `int(cut_layer)` (spec §11.1 #10); here `epsilon` is cast as
 * itself, and any other non-numeric value is a coded error.
 */
import { invalidAlgorithmParam, notSupported } from '../../common/errors.js';
import { numberParam } from '../params.js';
import type { WeightRecord } from '../../backend/weights.js';
import type { AggregateResult, AggregationAlgorithm, RoundConfig, UpdateStream } from './base.js';

export interface MistNetParams {
  /** The layer where the model is split: an index (number or integer string) or a layer name. */
  cut_layer: number | string;
  /** Differential-privacy budget of the transmitted features (default 100). */
  epsilon?: number | string;
}

export interface MistNetParameters {
  readonly type: 'mistnet';
  readonly cut_layer: number | string;
  readonly epsilon: number;
}

const INTEGER = /^[+-]?\d+$/;

function castCutLayer(value: unknown): number | string {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string' && value.trim() !== '')
    return INTEGER.test(value.trim()) ? Number(value.trim()) : value.trim();
  throw invalidAlgorithmParam('MistNet', 'cut_layer', value, 'a layer index (integer) or layer name');
}

function castEpsilon(value: number | string | undefined): number {
  const epsilon = numberParam('MistNet', 'epsilon', value, 100);
  if (epsilon <= 0) throw invalidAlgorithmParam('MistNet', 'epsilon', value, 'a positive number');
  return epsilon;
}

export class MistNet implements AggregationAlgorithm {
  static readonly algorithmName = 'MistNet';
  readonly name: string = MistNet.algorithmName;
  readonly parameters: MistNetParameters;

  constructor(params: MistNetParams) {
    const p = params as Partial<MistNetParams> | undefined;
    this.parameters = Object.freeze({
      type: 'mistnet',
      cut_layer: castCutLayer(p?.cut_layer),
      epsilon: castEpsilon(p?.epsilon),
    });
  }

  configure(_round: number, _globalWeights: readonly WeightRecord[] | undefined): RoundConfig | undefined {
    return undefined;
  }

  aggregate(_round: number, _updates: UpdateStream): Promise<AggregateResult> {
    return Promise.reject(
      notSupported(
        'MistNet.aggregate',
        'MistNet holds parameters for the split-learning (v2) engine; the v1 AggregationServer aggregates with FedAvg',
      ),
    );
  }
}
