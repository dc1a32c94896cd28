/**
 * `DefaultInferenceIntegrate` (spec §3.5): puts every subset's predictions back in row order.
 */
import { SednaError } from '../../common/errors.js';
import type { InferenceIntegrate } from './artifact.js';

export class DefaultInferenceIntegrate implements InferenceIntegrate {
  static readonly algorithmName = 'DefaultInferenceIntegrate';
  static readonly paramNames = [] as const;

  integrate<P>(
    rowCount: number,
    parts: readonly { readonly rows: readonly number[]; readonly predictions: readonly P[] }[],
  ): P[] {
    if (parts.length === 1 && (parts[0] as { rows: readonly number[] }).rows.length === rowCount) {
      return [...(parts[0] as { predictions: readonly P[] }).predictions];
    }
    const out = new Array<P>(rowCount);
    for (const { rows, predictions } of parts) {
      if (predictions.length !== rows.length) {
        throw new SednaError(
          'SEDNA_ERR_INFERENCE',
          `a task model returned ${predictions.length} predictions for ${rows.length} samples`,
          { details: { predictions: predictions.length, samples: rows.length } },
        );
      }
      for (let i = 0; i < rows.length; i++) out[rows[i] as number] = predictions[i] as P;
    }
    return out;
  }
}
