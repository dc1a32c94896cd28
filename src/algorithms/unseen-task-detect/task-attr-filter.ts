/**
 * `TaskAttrFilter` (spec §3.7): a sample belongs to an unseen task when its attribute values match
 * no task of the index. Sedna compared each answering model's `meta_attr` with the samples'
 * attributes and answered once per call; per sample, this is the same test. With tasks that are
 * not defined by attributes (SVC), every sample has a task and none is flagged: use
 * `ModelProbeFilter` there.
 */
import type { UnseenTaskContext, UnseenTaskDetector } from './base.js';

export class TaskAttrFilter implements UnseenTaskDetector {
  static readonly algorithmName = 'TaskAttrFilter';
  static readonly paramNames = [] as const;
  readonly name = TaskAttrFilter.algorithmName;

  detect(context: UnseenTaskContext): boolean[] {
    return context.tasks.map((task) => task === undefined);
  }
}
