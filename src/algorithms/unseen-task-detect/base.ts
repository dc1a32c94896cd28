/**
 * Unseen task detection (spec §3.7): after the task models answered, says which samples belong
 * to a task the knowledge base has never seen. Detectors work per sample (Sedna's answered one
 * boolean for the whole call); the job reports both.
 */
import type { JsonValue } from '../../datasources/kb-index.js';

export interface UnseenTaskContext<P = unknown> {
  /** The known task of each sample, `undefined` where the attributes match no known task. */
  readonly tasks: readonly (string | undefined)[];
  /** Each sample's attribute values (null where the extractor does not use attributes). */
  readonly metaAttr: readonly JsonValue[];
  /** The prediction each sample got. */
  readonly predictions: readonly P[];
  /** Class probabilities of each sample, when the answering model offers them. */
  readonly probabilities: readonly (ArrayLike<number> | undefined)[];
}

export interface UnseenTaskDetector {
  /** The registry name (`TaskAttrFilter`, `ModelProbeFilter`, ...). */
  readonly name: string;
  /** One flag per sample: true = the sample belongs to an unseen task. */
  detect(context: UnseenTaskContext): boolean[];
}
