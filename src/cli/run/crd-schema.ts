/**
 * Validation of Sedna resources against the real CRD schemas, as the Kubernetes API server does it
 * (structural OpenAPI v3): types, required fields, patterns, bounds, `int-or-string`, defaults
 * applied, `null` pruned, unknown fields reported (the API server drops them; kubectl warns).
 *
 * The schemas ship in the package as `schemas/sedna-crds.json.gz` (built from Sedna's CRDs by
 * scripts/crd-schemas.mjs). Only the keywords those CRDs use are interpreted, and a schema with any
 * other keyword is refused when loaded, so nothing is silently not checked; a differential test
 * runs the same documents through ajv and this validator.
 */
import fs from 'node:fs';
import zlib from 'node:zlib';
import { SednaError } from '../../common/errors.js';

/** The subset of OpenAPI v3 that Kubernetes structural schemas (and Sedna's CRDs) use. */
export interface SchemaNode {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  properties?: Record<string, SchemaNode>;
  required?: string[];
  items?: SchemaNode;
  additionalProperties?: SchemaNode | boolean;
  anyOf?: SchemaNode[];
  enum?: unknown[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  default?: unknown;
  format?: string;
  nullable?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: string;
}

/** Keywords this validator interprets or knowingly ignores (formats and list/map merge hints). */
const KNOWN_KEYWORDS = new Set<string>([
  'type',
  'properties',
  'required',
  'items',
  'additionalProperties',
  'anyOf',
  'enum',
  'pattern',
  'minimum',
  'maximum',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'default',
  'format',
  'nullable',
  'x-kubernetes-int-or-string',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-embedded-resource',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
]);

export interface CrdKind {
  readonly kind: string;
  readonly plural: string;
  readonly schema: SchemaNode;
}

/** One way a document breaks its schema: where (a field path), which rule, and what is wrong. */
export interface Violation {
  /** `spec.trainSpec.trigger.condition.threshold`, `spec.trainingWorkers[0].template` ... */
  readonly path: string;
  /** The same path as keys and indices (to find the YAML node). */
  readonly segments: readonly (string | number)[];
  /** The schema keyword that failed: `type`, `required`, `pattern`, `enum`, `minimum`, ... */
  readonly rule: string;
  readonly message: string;
}

export interface ValidationResult {
  readonly violations: Violation[];
  /** Fields the schema does not declare: Kubernetes drops them, so they are probably typos. */
  readonly unknownFields: { path: string; segments: readonly (string | number)[] }[];
}

/** Checks a whole schema tree once: every keyword must be one we interpret. */
export function assertSupportedSchema(node: unknown, where = '(root)'): void {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return;
  for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
    if (!KNOWN_KEYWORDS.has(key))
      throw new SednaError('SEDNA_ERR_INTERNAL', `CRD schema keyword "${key}" at ${where} is not supported`);
    if (key === 'properties')
      for (const [name, child] of Object.entries(value as Record<string, unknown>))
        assertSupportedSchema(child, `${where}.${name}`);
    else if (key === 'items' || (key === 'additionalProperties' && typeof value === 'object'))
      assertSupportedSchema(value, `${where}[]`);
    else if (key === 'anyOf')
      (value as unknown[]).forEach((branch) => {
        assertSupportedSchema(branch, where);
      });
  }
}

const BUNDLE_URL = new URL('../../../schemas/sedna-crds.json.gz', import.meta.url);
let bundle: Map<string, CrdKind> | undefined;

/** The CRD kinds shipped with the package (Sedna's `sedna.io/v1alpha1` resources). */
export function crdKinds(): ReadonlyMap<string, CrdKind> {
  if (bundle !== undefined) return bundle;
  let parsed: { kinds: Record<string, { plural: string; schema: SchemaNode }> };
  try {
    parsed = JSON.parse(zlib.gunzipSync(fs.readFileSync(BUNDLE_URL)).toString('utf8')) as typeof parsed;
  } catch (err) {
    throw new SednaError('SEDNA_ERR_INTERNAL', `cannot read the packaged CRD schemas at ${BUNDLE_URL.pathname}`, {
      cause: err,
    });
  }
  const kinds = new Map<string, CrdKind>();
  for (const [kind, entry] of Object.entries(parsed.kinds)) {
    assertSupportedSchema(entry.schema, kind);
    kinds.set(kind, { kind, plural: entry.plural, schema: entry.schema });
  }
  bundle = kinds;
  return kinds;
}

type Json = unknown;

function describe(value: Json): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string')
    return `a string (${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)})`;
  if (typeof value === 'number') return Number.isInteger(value) ? `an integer (${value})` : `a number (${value})`;
  return `a ${typeof value} (${JSON.stringify(value)})`;
}

function typeMatches(type: NonNullable<SchemaNode['type']>, value: Json): boolean {
  switch (type) {
    case 'object':
      return value !== null && typeof value === 'object' && !Array.isArray(value);
    case 'array':
      return Array.isArray(value);
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
  }
}

const ARTICLE: Record<NonNullable<SchemaNode['type']>, string> = {
  object: 'an object',
  array: 'a list',
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
};

const patternCache = new Map<string, RegExp>();
function regex(pattern: string): RegExp {
  let re = patternCache.get(pattern);
  if (re === undefined) {
    re = new RegExp(pattern, 'u');
    patternCache.set(pattern, re);
  }
  return re;
}

/** `spec.workers[0].env["a.b"]` from `['spec', 'workers', 0, 'env', 'a.b']`. */
export function formatPath(segments: readonly (string | number)[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z_][\w-]*$/.test(s)) out += out === '' ? s : `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out === '' ? '(document)' : out;
}

/**
 * Validates `value` against `schema` in place: defaults are filled in and `null` values of
 * non-nullable fields are removed, as the API server does before it validates.
 */
export function validateDocument(schema: SchemaNode, value: Record<string, unknown>): ValidationResult {
  const violations: Violation[] = [];
  const unknownFields: ValidationResult['unknownFields'] = [];
  const visit = (node: SchemaNode, v: Json, at: readonly (string | number)[]): void => {
    const fail = (rule: string, message: string): void => {
      violations.push({ path: formatPath(at), segments: at, rule, message });
    };
    if (
      node.anyOf !== undefined &&
      !node.anyOf.some((branch) => branch.type === undefined || typeMatches(branch.type, v))
    ) {
      const wanted = node.anyOf.map((b) => (b.type === undefined ? 'anything' : ARTICLE[b.type])).join(' or ');
      fail('anyOf', `must be ${wanted}, got ${describe(v)}`);
      return;
    }
    if (node.type !== undefined && !typeMatches(node.type, v)) {
      fail('type', `must be ${ARTICLE[node.type]}, got ${describe(v)}`);
      return;
    }
    if (node.enum !== undefined && !node.enum.some((e) => e === v))
      fail('enum', `must be one of ${node.enum.map((e) => JSON.stringify(e)).join(', ')}, got ${describe(v)}`);
    if (typeof v === 'string') {
      if (node.pattern !== undefined && !regex(node.pattern).test(v))
        fail('pattern', `must match ${node.pattern}, got ${describe(v)}`);
      if (node.minLength !== undefined && v.length < node.minLength)
        fail('minLength', `must be at least ${node.minLength} characters long`);
      if (node.maxLength !== undefined && v.length > node.maxLength)
        fail('maxLength', `must be at most ${node.maxLength} characters long`);
    }
    if (typeof v === 'number') {
      if (node.minimum !== undefined && v < node.minimum) fail('minimum', `must be >= ${node.minimum}, got ${v}`);
      if (node.maximum !== undefined && v > node.maximum) fail('maximum', `must be <= ${node.maximum}, got ${v}`);
    }
    if (Array.isArray(v)) {
      if (node.minItems !== undefined && v.length < node.minItems)
        fail('minItems', `must have at least ${node.minItems} items`);
      if (node.maxItems !== undefined && v.length > node.maxItems)
        fail('maxItems', `must have at most ${node.maxItems} items`);
      if (node.items !== undefined) {
        const items = node.items;
        v.forEach((item, i) => {
          visit(items, item, [...at, i]);
        });
      }
      return;
    }
    if (v === null || typeof v !== 'object') return;
    const object = v as Record<string, unknown>;
    const properties = node.properties ?? {};
    for (const [name, child] of Object.entries(properties)) {
      if (object[name] === null && child.nullable !== true) Reflect.deleteProperty(object, name); // pruned, as the API server does
      if (object[name] === undefined && child.default !== undefined) object[name] = structuredClone(child.default);
    }
    for (const name of node.required ?? [])
      if (object[name] === undefined) {
        const segments = [...at, name];
        violations.push({ path: formatPath(segments), segments, rule: 'required', message: 'is required' });
      }
    const preserve = node['x-kubernetes-preserve-unknown-fields'] === true;
    for (const [name, child] of Object.entries(object)) {
      const childAt = [...at, name];
      const declared = properties[name];
      if (declared !== undefined) visit(declared, child, childAt);
      else if (typeof node.additionalProperties === 'object') visit(node.additionalProperties, child, childAt);
      else if (node.properties !== undefined && node.additionalProperties !== true && !preserve)
        unknownFields.push({ path: formatPath(childAt), segments: childAt });
    }
  };
  visit(schema, value, []);
  return { violations, unknownFields };
}
