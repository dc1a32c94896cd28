/**
 * Reading the Sedna YAML a user gives `sedna run`: every document of every file, checked against
 * the real CRD schemas (crd-schema.ts) with errors that name the file, line, document, field path
 * and rule, the way `kubectl apply` would refuse them. v1 `Secret`s are accepted too (the S3
 * credentials a `credentialName` refers to).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { LineCounter, parseAllDocuments, isMap, isSeq, type Document, type Node } from 'yaml';
import { SednaError, messageOf } from '../../common/errors.js';
import { crdKinds, formatPath, validateDocument } from './crd-schema.js';

export const SEDNA_API_VERSION = 'sedna.io/v1alpha1';

export interface ResourceSource {
  /** The file as the user named it. */
  readonly file: string;
  /** 1-based position of the document in its file. */
  readonly document: number;
  readonly line: number;
}

export interface ObjectMeta {
  name: string;
  namespace: string;
  annotations: Record<string, string>;
  labels: Record<string, string>;
}

/** A validated Sedna resource (defaults applied, as the API server stores it). */
export interface SednaResource<Spec = Record<string, unknown>> {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: ObjectMeta;
  readonly spec: Spec;
  readonly source: ResourceSource;
}

export interface DatasetSpec {
  url: string;
  format: string;
  nodeName?: string;
  credentialName?: string;
}

export interface ModelSpec {
  url: string;
  format: string;
  credentialName?: string;
}

/** A v1 Secret: only what Sedna reads from one (S3 credentials). */
export interface SecretResource {
  readonly metadata: ObjectMeta;
  readonly data: Record<string, string>;
  readonly source: ResourceSource;
}

export interface LoadedResources {
  readonly resources: SednaResource[];
  readonly secrets: SecretResource[];
  /** Fields Kubernetes would drop (kubectl warns about them too). */
  readonly warnings: string[];
}

/** One problem with one document, already phrased for the user. */
export interface ResourceProblem {
  readonly source: ResourceSource;
  readonly subject: string;
  readonly path: string;
  readonly rule: string;
  readonly message: string;
}

/** Renders problems as `file:line: document N (Kind name): path: message [rule]` lines. */
export function formatProblems(problems: readonly ResourceProblem[]): string {
  return problems
    .map(
      (p) =>
        `${p.source.file}:${p.source.line}: document ${p.source.document} (${p.subject}): ${p.path}: ${p.message} [${p.rule}]`,
    )
    .join('\n');
}

export function invalidResources(problems: readonly ResourceProblem[]): SednaError {
  const count = problems.length === 1 ? 'a problem' : `${problems.length} problems`;
  return new SednaError('SEDNA_ERR_INVALID_RESOURCE', `the job resources have ${count}:\n${formatProblems(problems)}`, {
    details: { problems },
  });
}

// Kubernetes object names: RFC 1123 subdomain (names) and label (namespaces).
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function stringMap(value: unknown): Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return {};
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
}

/** The line of the YAML node at `segments` (or of its nearest existing parent). */
function lineOf(doc: Document, counter: LineCounter, segments: readonly (string | number)[]): number {
  let node: Node | null = doc.contents;
  let found = node;
  for (const key of segments) {
    if (isMap(node)) node = (node.get(key, true) as Node | undefined) ?? null;
    else if (isSeq(node) && typeof key === 'number') node = (node.get(key, true) as Node | undefined) ?? null;
    else node = null;
    if (node === null) break;
    found = node;
  }
  const offset = found?.range?.[0] ?? 0;
  return counter.linePos(offset).line;
}

/** Parses and validates one file's text (exported for tests). */
export function parseResources(file: string, text: string): { loaded: LoadedResources; problems: ResourceProblem[] } {
  const counter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: counter, prettyErrors: false });
  const resources: SednaResource[] = [];
  const secrets: SecretResource[] = [];
  const warnings: string[] = [];
  const problems: ResourceProblem[] = [];
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, i) => {
    const document = i + 1;
    const at = (segments: readonly (string | number)[]): ResourceSource => ({
      file,
      document,
      line: lineOf(doc, counter, segments),
    });
    if (doc.errors.length > 0) {
      for (const e of doc.errors)
        problems.push({
          source: { file, document, line: counter.linePos(e.pos[0]).line },
          subject: 'YAML',
          path: '(document)',
          rule: 'yaml',
          message: e.message.split('\n')[0] ?? e.message,
        });
      return;
    }
    if (doc.contents === null) return; // an empty document (a trailing `---`)
    let value: unknown;
    try {
      // Throws for what the parser lets through: an alias to an anchor never set, an alias bomb.
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      problems.push({ source: at([]), subject: 'YAML', path: '(document)', rule: 'yaml', message: messageOf(err) });
      return;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      problems.push({ source: at([]), subject: '?', path: '(document)', rule: 'type', message: 'must be a mapping' });
      return;
    }
    const object = value as Record<string, unknown>;
    const kind = typeof object.kind === 'string' ? object.kind : '';
    const meta = (object.metadata ?? {}) as Record<string, unknown>;
    const name = typeof meta.name === 'string' ? meta.name : '';
    const subject = `${kind === '' ? '?' : kind} ${name === '' ? '?' : name}`;
    const problem = (segments: readonly (string | number)[], rule: string, message: string): void => {
      problems.push({ source: at(segments), subject, path: formatPath(segments), rule, message });
    };
    const namespace = typeof meta.namespace === 'string' && meta.namespace !== '' ? meta.namespace : 'default';
    if (name === '') problem(['metadata', 'name'], 'required', 'is required');
    else if (name.length > 253 || !DNS_SUBDOMAIN.test(name))
      problem(['metadata', 'name'], 'name', `must be a lowercase RFC 1123 subdomain, got ${JSON.stringify(name)}`);
    if (!DNS_LABEL.test(namespace) || namespace.length > 63)
      problem(
        ['metadata', 'namespace'],
        'name',
        `must be a lowercase RFC 1123 label, got ${JSON.stringify(namespace)}`,
      );
    const metadata: ObjectMeta = {
      name,
      namespace,
      annotations: stringMap(meta.annotations),
      labels: stringMap(meta.labels),
    };

    if (object.apiVersion === 'v1' && kind === 'Secret') {
      const data = Object.fromEntries(
        Object.entries(stringMap(object.data)).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
      );
      secrets.push({ metadata, data: { ...data, ...stringMap(object.stringData) }, source: at([]) });
      return;
    }
    const crd = crdKinds().get(kind);
    if (crd === undefined) {
      const known = [...crdKinds().keys()].join(', ');
      problem(
        ['kind'],
        'kind',
        `${JSON.stringify(kind)} is not a Sedna kind (${SEDNA_API_VERSION}: ${known}; or a v1 Secret)`,
      );
      return;
    }
    if (object.apiVersion !== SEDNA_API_VERSION)
      problem(['apiVersion'], 'apiVersion', `must be ${SEDNA_API_VERSION}, got ${JSON.stringify(object.apiVersion)}`);
    const { violations, unknownFields } = validateDocument(crd.schema, object);
    for (const v of violations) problem(v.segments, v.rule, v.message);
    for (const u of unknownFields)
      warnings.push(
        `${file}:${at(u.segments).line}: document ${document} (${subject}): ${u.path} is not a field of ${kind}; Kubernetes would drop it`,
      );
    resources.push({
      apiVersion: SEDNA_API_VERSION,
      kind,
      metadata,
      spec: (object.spec ?? {}) as Record<string, unknown>,
      source: at([]),
    });
  });
  return { loaded: { resources, secrets, warnings }, problems };
}

/** Reads, parses and validates the files; throws SEDNA_ERR_INVALID_RESOURCE listing every problem. */
export async function loadResources(files: readonly string[], cwd = process.cwd()): Promise<LoadedResources> {
  const resources: SednaResource[] = [];
  const secrets: SecretResource[] = [];
  const warnings: string[] = [];
  const problems: ResourceProblem[] = [];
  if (files.length === 0)
    throw new SednaError('SEDNA_ERR_INVALID_ARGUMENT', 'no YAML file given: sedna run FILE.yaml [FILE.yaml ...]');
  for (const file of files) {
    let text: string;
    try {
      text = await fs.readFile(path.resolve(cwd, file), 'utf8');
    } catch (err) {
      throw new SednaError('SEDNA_ERR_FILE_NOT_FOUND', `cannot read ${file}: ${messageOf(err)}`, {
        cause: err,
        details: { file },
      });
    }
    const { loaded, problems: found } = parseResources(file, text);
    resources.push(...loaded.resources);
    secrets.push(...loaded.secrets);
    warnings.push(...loaded.warnings);
    problems.push(...found);
  }
  const seen = new Map<string, SednaResource>();
  for (const r of resources) {
    const key = `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`;
    const first = seen.get(key);
    if (first !== undefined)
      problems.push({
        source: r.source,
        subject: `${r.kind} ${r.metadata.name}`,
        path: 'metadata.name',
        rule: 'unique',
        message: `is defined twice (first in ${first.source.file}, document ${first.source.document})`,
      });
    seen.set(key, r);
  }
  if (problems.length > 0) throw invalidResources(problems);
  if (!resources.some((r) => r.kind !== 'Dataset' && r.kind !== 'Model'))
    throw new SednaError(
      'SEDNA_ERR_INVALID_RESOURCE',
      `no job in ${files.map((f) => path.basename(f)).join(', ')}: only Datasets and Models were given`,
    );
  return { resources, secrets, warnings };
}
