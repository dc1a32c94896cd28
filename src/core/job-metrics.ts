/**
 * Inference counters of the jobs in this process (samples, hard examples), on every `/metrics` of
 * the process when metrics are on: gauges read from the jobs' own counts at scrape time, so the
 * hot path pays nothing.
 */
import { processGauge } from '../service/server/metrics.js';

interface Source {
  readonly kind: string;
  readonly job: string;
  readonly stats: () => { readonly inferences: number; readonly hardExamples: number };
}

const sources = new Set<Source>();

/** Shows a job's counts while it lives; `close()` removes them (a job owns the returned handle). */
export function exposeInferenceCounts(source: Source, enabled: boolean): { close(): void } {
  if (!enabled) return { close: () => {} };
  processGauge('sedna_inference_samples', 'Samples a job has run inference on', ['kind', 'job'], (gauge) => {
    for (const s of sources) gauge.labels(s.kind, s.job).set(s.stats().inferences);
  });
  processGauge('sedna_hard_examples', 'Samples hard example mining flagged', ['kind', 'job'], (gauge) => {
    for (const s of sources) gauge.labels(s.kind, s.job).set(s.stats().hardExamples);
  });
  sources.add(source);
  return {
    close: () => {
      sources.delete(source);
    },
  };
}
