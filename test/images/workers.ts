/**
 * How each example image's worker starts, as Sedna's controller would start its pod: the
 * environment it injects (../shared/spec/sedna-lib-spec.md §1.6), the volumes (hostPath mounts),
 * the line that says the worker is ready, and how it must end on `podman stop` (SIGTERM).
 *
 * Each example has its own file, test/images/start-specs/<example folder>.ts, whose default export
 * maps that example's image names to their specs; test/images/start.test.ts finds the files and
 * fails for an example image without a spec. This module holds what the specs share.
 * See docs/deploy.md, "Adding an example image".
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadDigits } from '../helpers/backend-fixtures.js';
import { ROOT } from '../../scripts/images/oci.mjs';
import { FIXTURES, giveToImageUser, type LcContainer, type LcLine, type RunOptions } from './containers.js';

export const NAMESPACE = 'default';

/** What a spec gets: the network and LC container it runs beside, and temp folders for its volumes. */
export interface WorkerContext {
  readonly network: string;
  readonly lc: LcContainer;
  /** A temp folder (removed after the test); `writable` ones belong to the image's user. */
  dir(label: string, writable?: boolean): string;
}

export interface Ready {
  readonly stream: 'stdout' | 'stderr';
  /** What the line says, for failure messages. */
  readonly what: string;
  readonly match: (line: string) => boolean;
}

/** A start spec file's default export: image name → how its worker starts. */
export type StartSpecs = Readonly<Record<string, WorkerSpec>>;

export interface WorkerSpec {
  /** Containers that must run first (the aggregator a trainer joins, the cloud an edge calls). */
  readonly companions?: (ctx: WorkerContext) => { options: RunOptions; ready: Ready }[];
  /** The worker's container, named `worker` (WORKER_NAME). */
  readonly options: (ctx: WorkerContext, worker: string) => Omit<RunOptions, 'image'>;
  readonly ready: Ready;
  /** An HTTP health route on a published port, checked once ready. */
  readonly health?: { port: number; path: string };
  /** `stop`: the exit code `podman stop` ends it with; `exit`: it ends by itself with this code. */
  readonly end: { stop: number } | { exit: number };
  /** Checks the LC's reports from this worker once it ended (its final report arrived). */
  readonly finalReport?: (reports: LcLine[], ctx: WorkerContext) => boolean;
  /** The worker name prefix the controller uses. */
  readonly workerPrefix: string;
}

/** A pino JSON log line with this message (the workers log JSON on stderr). */
export function logLine(msg: string): Ready {
  return { stream: 'stderr', what: `log "${msg}"`, match: (line) => line.includes(`"msg":"${msg}"`) };
}

/** A JSON line on stdout with this key. */
export function stdoutJson(key: string, value?: string): Ready {
  const needle = value === undefined ? `"${key}":` : `"${key}":"${value}"`;
  return { stream: 'stdout', what: `stdout ${needle}`, match: (line) => line.startsWith('{') && line.includes(needle) };
}

export const models = { host: path.join(FIXTURES, 'models'), container: '/home/data/models' };
export const HEM = {
  HEM_NAME: 'CrossEntropy',
  HEM_PARAMETERS: JSON.stringify([{ key: 'threshold_cross_entropy', value: '0.75' }]),
};

/** Writes digits samples as Sedna's txt dataset (`<path> <label>` lines, one JSON file per sample). */
export function writeDigitsDataset(
  dir: string,
  split: 'train' | 'test',
  indices: readonly number[],
  prefix: string = split,
): string {
  const digits = loadDigits(split);
  fs.mkdirSync(path.join(dir, 'samples'), { recursive: true });
  const lines = indices.map((i) => {
    const rel = `samples/${prefix}-${i}.json`;
    fs.writeFileSync(path.join(dir, rel), JSON.stringify([digits.x[i]]));
    return `${rel} ${digits.y[i]}`;
  });
  const index = path.join(dir, `${prefix}.txt`);
  fs.writeFileSync(index, `${lines.join('\n')}\n`);
  giveToImageUser(dir);
  return index;
}

/** A final-report check: the worker's last report has this kind, status and owner kind. */
export function lastReport(kind: string, status: string, ownerKind: string): (reports: LcLine[]) => boolean {
  return (reports) => {
    const last = reports.at(-1)?.body;
    return last?.kind === kind && last.status === status && last.ownerKind === ownerKind;
  };
}

/** The folder of the start spec files, one per example (its folder name). */
export const START_SPECS = path.join(ROOT, 'test', 'images', 'start-specs');

/** Every example's start specs, read from test/images/start-specs/<example>.ts. */
export async function loadStartSpecs(): Promise<Record<string, WorkerSpec>> {
  const all: Record<string, WorkerSpec> = {};
  for (const file of fs.readdirSync(START_SPECS).sort()) {
    if (!file.endsWith('.ts')) continue;
    const specs = ((await import(`./start-specs/${file.replace(/\.ts$/, '.js')}`)) as { default: StartSpecs }).default;
    for (const [image, spec] of Object.entries(specs)) {
      if (all[image] !== undefined) throw new Error(`${image} has two start specs (${file} and another)`);
      all[image] = spec;
    }
  }
  return all;
}
