/**
 * Copies of the examples' job YAML with a change applied (a shorter report period, a crashing
 * command), written to a temporary folder, for `sedna run` tests. The examples' own
 * sedna.local.yaml is passed with `--local`, so images and node paths map as for the original.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { ROOT } from './paths.js';

export type JobDocument = Record<string, unknown> & { kind: string; spec: Record<string, unknown> };

/** Reads an example's YAML, lets `edit` change its documents, writes the result to `dir/name`. */
export async function editedExample(
  example: string,
  dir: string,
  edit: (docs: JobDocument[]) => void,
  name = path.basename(example),
): Promise<string> {
  const text = await fs.readFile(path.join(ROOT, example), 'utf8');
  const docs = parseAllDocuments(text).map((d) => d.toJS() as JobDocument);
  edit(docs);
  const file = path.join(dir, name);
  await fs.writeFile(file, docs.map((d) => stringify(d)).join('---\n'));
  return file;
}

/** The document of a kind (the job itself, say). */
export function documentOf(docs: JobDocument[], kind: string): JobDocument {
  const doc = docs.find((d) => d.kind === kind);
  if (doc === undefined) throw new Error(`no ${kind} document`);
  return doc;
}

interface Container {
  name: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value: string }[];
}

/** The first container of the template at `spec[worker].template`. */
export function containerOf(job: JobDocument, worker: string): Container {
  const template = (job.spec[worker] as { template: { spec: { containers: Container[] } } }).template;
  const container = template.spec.containers[0];
  if (container === undefined) throw new Error(`${worker} has no container`);
  return container;
}

export function setEnv(container: Container, name: string, value: string): void {
  container.env = [...(container.env ?? []).filter((e) => e.name !== name), { name, value }];
}

/** A container command that prints the container's environment as one `ENV {...}` line. */
export const PRINT_ENV = ['node', '-e', 'console.log("ENV " + JSON.stringify(process.env))'];

/** Every container of the FL job prints its environment instead of running. */
export function printEnvInFederatedJob(docs: JobDocument[]): void {
  const job = documentOf(docs, 'FederatedLearningJob');
  containerOf(job, 'aggregationWorker').command = PRINT_ENV;
  for (const trainer of job.spec.trainingWorkers as { template: { spec: { containers: Container[] } } }[])
    for (const c of trainer.template.spec.containers) c.command = PRINT_ENV;
}

/** The environments PRINT_ENV printed, from the logs of the pods whose names start with `prefix`. */
export async function printedEnvs(stateDir: string, prefix: string): Promise<Record<string, string>[]> {
  const [run] = await fs.readdir(path.join(stateDir, 'runs'));
  const logs = path.join(stateDir, 'runs', run as string, 'logs');
  const out: Record<string, string>[] = [];
  for (const name of (await fs.readdir(logs)).filter((n) => n.startsWith(prefix)).sort()) {
    const text = await fs.readFile(path.join(logs, name), 'utf8');
    const line = text.split('\n').find((l) => l.includes(' ENV {'));
    if (line === undefined) throw new Error(`no environment in ${name}:\n${text}`);
    out.push(JSON.parse(line.slice(line.indexOf(' ENV {') + 5)) as Record<string, string>);
  }
  return out;
}
