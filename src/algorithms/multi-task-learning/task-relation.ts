/**
 * `DefaultTaskRelationDiscover` (spec §3.5): every task is its own group (same entry, same samples),
 * so each task gets its own model.
 */
import type { Task, TaskGroup, TaskRelationDiscover } from './artifact.js';

export class DefaultTaskRelationDiscover implements TaskRelationDiscover {
  static readonly algorithmName = 'DefaultTaskRelationDiscover';
  static readonly paramNames = [] as const;

  discover<Y>(tasks: readonly Task<Y>[]): TaskGroup<Y>[] {
    return tasks.map((task) => ({ entry: task.entry, tasks: [task], samples: task.samples }));
  }
}
