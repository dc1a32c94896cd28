/**
 * The hard-example-mining (HEM) contract. A filter looks at a model's (post-processed) output and
 * says whether the sample is a hard example: `true` sends it to the cloud model (joint inference)
 * or saves it for labelling (incremental learning).
 *
 * Inputs the built-in filters read:
 * - detection boxes `[[x1, y1, x2, y2, score, label, ...], ...]` (Threshold, IBT);
 * - class probabilities `[p1, ..., pn]` (CrossEntropy); a batch of exactly one row is unwrapped.
 */
import { SednaError, showValue } from '../../common/errors.js';

export interface HardExampleFilter<I = unknown> {
  /** The registry name (`Threshold`, `IBT`, ...). */
  readonly name: string;
  /** True when the sample is a hard example. Throws SEDNA_ERR_HEM_INPUT for input it cannot read. */
  isHard(input: I): boolean;
}

/** A box: at least `[x1, y1, x2, y2, score]`. */
export type DetectionBox = readonly number[];

export function hemInputError(filter: string, problem: string, input: unknown): SednaError {
  return new SednaError(
    'SEDNA_ERR_HEM_INPUT',
    `hard example mining "${filter}": ${problem} (got ${showValue(input, 80)})`,
    {
      details: { filter, problem },
    },
  );
}

/**
 * Reads detection boxes. An empty list (or null/undefined: nothing detected) gives `[]`, which
 * the filters treat as "not hard", as Sedna does. Anything that is not a list of numeric boxes
 * with at least 5 fields is an error (Sedna silently answered "not hard").
 */
export function readBoxes(filter: string, input: unknown): readonly DetectionBox[] {
  if (input === null || input === undefined) return [];
  if (!Array.isArray(input))
    throw hemInputError(filter, 'expected a list of boxes [x1, y1, x2, y2, score, ...]', input);
  for (const box of input as unknown[]) {
    if (!Array.isArray(box) || box.length <= 4) {
      throw hemInputError(filter, 'every box needs at least 5 fields [x1, y1, x2, y2, score, ...]', box);
    }
    if (typeof box[4] !== 'number' || !Number.isFinite(box[4]))
      throw hemInputError(filter, 'a box score is not a finite number', box);
  }
  return input as DetectionBox[];
}

/**
 * Unwraps class probabilities: `[p1..pn]`, a typed array, or a single-row batch `[[p1..pn]]`.
 * The values themselves are checked by the caller in the same pass that uses them.
 */
export function probabilityRow(filter: string, input: unknown): ArrayLike<unknown> {
  let row: unknown = input;
  if (Array.isArray(row) && row.length === 1 && (Array.isArray(row[0]) || ArrayBuffer.isView(row[0]))) row = row[0];
  if (Array.isArray(row) || (ArrayBuffer.isView(row) && !(row instanceof DataView))) return row as ArrayLike<unknown>;
  throw hemInputError(filter, 'expected class probabilities [p1, ..., pn]', input);
}
