/**
 * The contract a user's model implements to run inside a multi-edge component (Sedna's
 * `PluggableModel`, spec §8.2). Sedna builds a backend and loads the model in the constructor;
 * here the component calls `load()` in its async `create()`, so constructors do no I/O.
 */
import type { DetTrackResult, Target } from '../../datasources/multi-edge/records.js';

export interface PluggableModel<Input = unknown, Output = DetTrackResult> {
  /** Loads weights or state (called once by the component's `create()`). */
  load?(modelPath: string | undefined): Promise<void> | void;
  /** Runs on one batch; returns the records to pass on (an empty list passes nothing on). */
  inference(batch: Input[]): Promise<Output[]> | Output[];
  /** Sedna's `update_plugin(status)`: reconfigure; ReID models return the query records to extract. */
  updatePlugin?(status: unknown): unknown;
  /** Sedna's `evaluate()`: optional self-check after loading. */
  evaluate?(): unknown;
  /** Feature extraction: the features of query images (Sedna's `get_target_features`). */
  getTargetFeatures?(records: DetTrackResult[]): Promise<Target[]> | Target[];
  /** ReID: receives the targets' features (Sedna's `update_target`). */
  updateTarget?(targets: Target[]): Promise<void> | void;
  close?(): Promise<void> | void;
}

/** Loads every model (and runs `evaluate()`), as Sedna's PluggableModel constructor does. */
export async function loadModels(
  models: readonly PluggableModel<never, unknown>[],
  modelPath: string | undefined,
): Promise<void> {
  for (const model of models) {
    await model.load?.(modelPath);
    await model.evaluate?.();
  }
}
