/**
 * `DefaultTaskRemodeling` (spec §3.5): splits allocated samples by the group whose model answers
 * them. A sample of a task no group holds (an unseen task) goes to subset `-1`, the fallback model;
 * Sedna raised an IndexError (v1) or silently used model 0 (v2) there. When the allocation step
 * grouped the rows by task (`rowsByTask`, as the built-in steps do), the work is per task, not
 * per row.
 */
import type { AllocationResult, TaskRemodeling, TaskSubset } from './artifact.js';
import { mergeSorted, selectRows } from './task-table.js';

export class DefaultTaskRemodeling implements TaskRemodeling {
  static readonly algorithmName = 'DefaultTaskRemodeling';
  static readonly paramNames = [] as const;

  remodel<Y>(allocation: AllocationResult<Y>, groupOfTask: ReadonlyMap<string, number>): TaskSubset<Y>[] {
    const byGroup = new Map<number, number[]>();
    if (allocation.rowsByTask !== undefined) {
      for (const [task, rows] of allocation.rowsByTask) {
        const group = groupOf(groupOfTask, task);
        const before = byGroup.get(group);
        byGroup.set(group, before === undefined ? (rows as number[]) : mergeSorted(before, rows));
      }
    } else {
      const tasks = allocation.tasks;
      for (let row = 0; row < tasks.length; row++) {
        const group = groupOf(groupOfTask, tasks[row]);
        const rows = byGroup.get(group);
        if (rows === undefined) byGroup.set(group, [row]);
        else rows.push(row);
      }
    }
    const all = allocation.tasks.length;
    return [...byGroup.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([group, rows]) => ({
        group,
        rows,
        samples: rows.length === all ? allocation.samples : selectRows(allocation.samples, rows),
      }));
  }
}

/** The group whose model answers a task; -1 (the fallback model) for an unseen task. */
function groupOf(groupOfTask: ReadonlyMap<string, number>, task: string | undefined): number {
  return task === undefined ? -1 : (groupOfTask.get(task) ?? -1);
}
