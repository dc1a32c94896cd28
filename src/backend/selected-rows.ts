/**
 * An estimator's optional fast path for tabular batches (internal, not part of the public
 * `Estimator` contract): predict the rows `source[rows[i]]` (`source[i]` when `rows` is undefined)
 * reduced to the cells at `columns`, without the caller first copying each row's features into an
 * array of its own. The multi-task learning engine routes a batch this way: the task models read
 * their features straight from the user's rows, which still hold the task attribute columns.
 *
 * An estimator that offers it must answer exactly what `predict` answers for the reduced rows,
 * and fail the same way (the same errors, with the same sample and feature numbers).
 */
export type SelectedRowsPredict<P = unknown> = (
  source: readonly ArrayLike<unknown>[],
  rows: readonly number[] | undefined,
  columns: readonly number[],
) => P | Promise<P>;

const offered = new WeakMap<object, SelectedRowsPredict>();

/** Called by an estimator (in its constructor) that can predict selected rows and columns. */
export function offerSelectedRowsPredict(estimator: object, predict: SelectedRowsPredict): void {
  offered.set(estimator, predict);
}

/** The estimator's selected-rows predict, when it offers one. */
export function selectedRowsPredictOf(estimator: object): SelectedRowsPredict | undefined {
  return offered.get(estimator);
}
