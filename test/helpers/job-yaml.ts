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
