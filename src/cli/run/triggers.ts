/**
 * Sedna's triggers (pkg/localcontroller/trigger), as the LocalController evaluates a job's
 * `trigger`: a `condition` (`metric operator threshold`, the metric possibly indexed, `precision[0]`)
 * and a daily `timer` window, both required when given. Same operators, same 1e-6 tolerance for
 * equality, same string comparison of `HH:MM` (a window whose start is after its end wraps midnight).
 */

export interface TriggerSpec {
  checkPeriodSeconds?: number;
  timer?: { start: string; end: string; type?: string };
  condition?: { operator: string; threshold: number; metric: string };
}

export type TriggerStats = Readonly<Record<string, unknown>>;

const OPERATORS = ['>', 'gt', '>=', 'ge', '=', '==', 'eq', '!=', 'ne', '<=', 'le', '<', 'lt'];

function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return undefined;
}

/** The value of `metric` (or `metric[i]`) in `stats`; undefined when absent. */
export function metricValue(metric: string, stats: TriggerStats): number | undefined {
  const left = metric.indexOf('[');
  if (left === -1) return toNumber(stats[metric]);
  const right = metric.lastIndexOf(']');
  const list = stats[metric.slice(0, left).trim()];
  const index = Number(metric.slice(left + 1, right));
  if (!Array.isArray(list) || !Number.isInteger(index) || index < 0 || index >= list.length) return undefined;
  return toNumber(list[index]);
}

/**
 * Sedna's BinaryTrigger, with one fix: a list metric without an index (the LC's `<metric>_delta`
 * values are lists) is compared by its first element. Sedna's convertFloat turns a list into 0, so
 * `accuracy_delta > 0.05` there compares 0 > 0.05 and never deploys.
 */
export function conditionHolds(condition: NonNullable<TriggerSpec['condition']>, stats: TriggerStats): boolean {
  let value = metricValue(condition.metric, stats);
  if (value === undefined) {
    const raw = stats[condition.metric];
    if (Array.isArray(raw)) value = toNumber(raw[0]);
  }
  if (value === undefined) return false;
  const t = condition.threshold;
  const equal = Math.abs(value - t) < 1e-6;
  switch (condition.operator) {
    case 'gt':
    case '>':
      return !equal && value > t;
    case 'ge':
    case '>=':
      return equal || value >= t;
    case 'eq':
    case '=':
    case '==':
      return equal;
    case 'ne':
    case '!=':
      return !equal;
    case 'le':
    case '<=':
      return equal || value <= t;
    case 'lt':
    case '<':
      return !equal && value < t;
    default:
      return false;
  }
}

/** `HH:MM` of `now` in local time, as Go's `time.Now().Format("15:04")`. */
export function clockOf(now: Date): string {
  return `${String(now.getHours()).padStart(2, '0')}:${String(now.getMinutes()).padStart(2, '0')}`;
}

/** Sedna's TimerRangeTrigger: a daily window compared as strings. */
export function timerOpen(timer: NonNullable<TriggerSpec['timer']>, now: Date): boolean {
  const v = clockOf(now);
  if (timer.start > timer.end) return timer.start <= v || v <= timer.end;
  return timer.start <= v && v <= timer.end;
}

/** The whole trigger: every part that is given must hold. */
export function triggerFires(trigger: TriggerSpec, stats: TriggerStats, now: Date = new Date()): boolean {
  if (trigger.timer !== undefined && !timerOpen(trigger.timer, now)) return false;
  if (trigger.condition !== undefined && !conditionHolds(trigger.condition, stats)) return false;
  return true;
}

/** Problems Sedna would only discover at run time (an unknown operator never fires). */
export function triggerProblems(trigger: TriggerSpec): string[] {
  const problems: string[] = [];
  if (trigger.condition !== undefined && !OPERATORS.includes(trigger.condition.operator))
    problems.push(
      `condition.operator ${JSON.stringify(trigger.condition.operator)} is not one of ${OPERATORS.join(' ')}`,
    );
  for (const key of ['start', 'end'] as const) {
    const value = trigger.timer?.[key];
    if (value !== undefined && !/^([01]\d|2[0-4]):[0-5]\d$/.test(value))
      problems.push(`timer.${key} ${JSON.stringify(value)} is not HH:MM`);
  }
  return problems;
}

/** `num_of_samples > 200, 00:00-24:00` */
export function describeTrigger(trigger: TriggerSpec): string {
  const parts: string[] = [];
  if (trigger.condition !== undefined)
    parts.push(`${trigger.condition.metric} ${trigger.condition.operator} ${trigger.condition.threshold}`);
  if (trigger.timer !== undefined) parts.push(`daily ${trigger.timer.start}-${trigger.timer.end}`);
  return parts.length === 0 ? 'always' : parts.join(', ');
}
