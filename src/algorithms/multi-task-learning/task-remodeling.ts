/**
 * `DefaultTaskRemodeling` (spec §3.5): splits allocated samples by the group whose model answers
 * them. A sample of a task no group holds (an unseen task) goes to subset `-1`, the fallback model;
 * Sedna raised an IndexError (v1) or silently used model 0 (v2) there.
 */
import type { AllocationResult, TaskRemodeling, TaskSubset } from './artifact.js';
import { selectRows } from './task-table.js';

export class DefaultTaskRemodeling implements TaskRemodeling {
  static readonly algorithmName = 'DefaultTaskRemodeling';
  static readonly paramNames = [] as const;

  remodel<Y>(allocation: AllocationResult<Y>, groupOfTask: ReadonlyMap<string, number>): TaskSubset<Y>[] {
    const byGroup = new Map<number, number[]>();
    allocation.tasks.forEach((task, row) => {
      const group = task === undefined ? -1 : (groupOfTask.get(task) ?? -1);
      let rows = byGroup.get(group);
      if (rows === undefined) {
        rows = [];
        byGroup.set(group, rows);
      }
      rows.push(row);
    });
    return [...byGroup.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([group, rows]) => ({
        group,
        rows,
        samples:
          rows.length === allocation.samples.rows.length ? allocation.samples : selectRows(allocation.samples, rows),
      }));
  }
}
