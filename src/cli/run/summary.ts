/**
 * The run as text: the live summary `sedna run` redraws in a terminal, the block `sedna status`
 * prints, and the timeline lines a non-interactive `sedna run` writes.
 */
import type { CycleRow, JobState, ProgressState, RunSnapshot, TimelineEvent } from './status.js';

function clock(iso: string | undefined): string {
  if (iso === undefined) return '-';
  const d = new Date(iso);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}:${String(d.getSeconds()).padStart(2, '0')}`;
}

export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** A text progress bar: `[#######.....] 7/12 epochs`. */
export function bar(p: Pick<ProgressState, 'done' | 'total' | 'unit'>, width = 20): string {
  const unit = p.unit === '' ? '' : ` ${p.unit}`;
  if (p.total === null) return `${p.done}${unit}`;
  const filled = Math.max(0, Math.min(width, Math.round((p.done / p.total) * width)));
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.done}/${p.total}${unit}`;
}

function table(rows: string[][], indent: string): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map(
    (row) =>
      indent +
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
  );
}

const fmt = (n: number | undefined, digits = 3): string =>
  n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(digits);
const signed = (n: number | undefined): string =>
  n === undefined || !Number.isFinite(n) ? '-' : `${n >= 0 ? '+' : ''}${n.toFixed(3)}`;

function cycleRows(cycles: CycleRow[]): string[][] {
  const rows = [['#', 'SAMPLES (TRAIN/EVAL)', 'TRAINED', 'EVAL: NEW vs DEPLOYED', 'DELTA', 'DEPLOY']];
  for (const c of cycles) {
    const metric = Object.keys(c.newMetrics ?? {})[0];
    const evalCell =
      metric === undefined
        ? '-'
        : `${metric} ${fmt(c.newMetrics?.[metric]?.[0])} vs ${fmt(c.oldMetrics?.[metric]?.[0])}`;
    const deltaKey = metric === undefined ? undefined : `${metric}_delta`;
    const delta = deltaKey === undefined ? '-' : signed(c.deltas?.[deltaKey]?.[0]);
    const loss = c.trainMetrics?.loss;
    const trained =
      c.trainedAt === undefined ? '-' : `${clock(c.trainedAt)}${loss === undefined ? '' : ` loss ${fmt(loss)}`}`;
    const deploy =
      c.deployedAt !== undefined
        ? `deployed ${clock(c.deployedAt)}`
        : (c.outcome ?? (c.deployed === true ? 'deploying' : c.deployed === false ? 'kept' : '-'));
    rows.push([String(c.cycle), `${c.trainSamples}/${c.evalSamples}`, trained, evalCell, delta, deploy]);
  }
  return rows;
}

/** The summary block of one job. */
export function jobSummary(job: JobState, snapshot: Pick<RunSnapshot, 'ui' | 'progress'>, now = Date.now()): string[] {
  const lines: string[] = [];
  const ended = job.endedAt === undefined ? now : Date.parse(job.endedAt);
  const page = snapshot.ui === undefined ? '' : ` · ${snapshot.ui}`;
  lines.push(
    `${job.kind} ${job.namespace}/${job.name} · ${job.phase} · ${duration(ended - Date.parse(job.startedAt))}${page}`,
  );
  if (job.reason !== undefined && job.phase !== 'Running') {
    const [first, ...rest] = job.reason.split('\n');
    lines.push(`  reason    ${first ?? ''}`);
    for (const r of rest.slice(-12)) lines.push(`            ${r}`);
  }
  lines.push(`  stage     ${job.stage}`);
  const facts = Object.entries(job.facts);
  facts.forEach(([k, v], i) => lines.push(`${i === 0 ? '  facts     ' : '            '}${k}: ${v}`));
  if (job.workers.length > 0) {
    const rows = [['POD', 'WORKER_NAME', 'ROLE', 'NODE', 'PHASE', 'RESTARTS', 'LAST REPORT']];
    for (const w of job.workers)
      rows.push([
        w.pod,
        w.workerName,
        w.role,
        w.node,
        w.phase,
        String(w.restarts),
        w.lastReport === undefined
          ? '-'
          : `${w.lastReport.kind}${w.lastReport.status === '' ? '' : `/${w.lastReport.status}`} ${clock(w.lastReport.at)}`,
      ]);
    const [head, ...rest] = table(rows, '');
    lines.push(`  workers   ${head ?? ''}`);
    for (const r of rest) lines.push(`            ${r}`);
  }
  if (job.charts.cycles.length > 0) {
    const [head, ...rest] = table(cycleRows(job.charts.cycles), '');
    lines.push(`  cycles    ${head ?? ''}`);
    for (const r of rest) lines.push(`            ${r}`);
  }
  if (job.charts.fl.length > 0) {
    const rows = [['ROUND', 'LOSS', 'ACCURACY', 'SAMPLES']];
    for (const p of job.charts.fl.slice(-8))
      rows.push([String(p.round), fmt(p.loss), fmt(p.accuracy), p.samples === undefined ? '-' : String(p.samples)]);
    const [head, ...rest] = table(rows, '');
    lines.push(`  rounds    ${head ?? ''}`);
    for (const r of rest) lines.push(`            ${r}`);
  }
  const progress = snapshot.progress.filter((p) => p.job === job.name);
  progress.forEach((p, i) => lines.push(`${i === 0 ? '  progress  ' : '            '}${p.worker} ${p.task} ${bar(p)}`));
  return lines;
}

export function timelineLine(e: TimelineEvent): string {
  const mark = e.level === 'error' ? '!' : e.level === 'warn' ? '~' : ' ';
  return `${clock(e.t)} ${mark} ${e.source.padEnd(6)} ${e.job === 'run' ? '' : `${e.job}: `}${e.message}`;
}

/** The whole run: every job, then the last timeline entries. */
export function runSummary(snapshot: RunSnapshot, options: { recent?: number; now?: number } = {}): string {
  const lines: string[] = [`sedna run (pid ${snapshot.pid}) · LC ${snapshot.lcServer} · state ${snapshot.stateDir}`];
  for (const job of snapshot.jobs) lines.push(...jobSummary(job, snapshot, options.now));
  const recent = snapshot.timeline.slice(-(options.recent ?? 6));
  if (recent.length > 0) {
    lines.push('  recent');
    for (const e of recent) lines.push(`    ${timelineLine(e)}`);
  }
  return `${lines.join('\n')}\n`;
}
