/**
 * Validates job YAML (examples/) against the real Sedna CRD schemas in
 * test/fixtures/sedna/crds/*.yaml.gz, the way the Kubernetes API server would (structural
 * OpenAPI v3; the `x-kubernetes-*` extensions are not JSON-schema keywords, so ajv runs non-strict).
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { Ajv, type ValidateFunction } from 'ajv';
import { parseAllDocuments } from 'yaml';
import { SHARED } from './shared.js';

const validators = new Map<string, ValidateFunction>();

interface Crd {
  spec: { names: { kind: string; plural: string }; versions: { name: string; schema: { openAPIV3Schema: object } }[] };
}

/** The validator for a Sedna kind (`JointInferenceService`, `Model`, ...). */
export function crdValidator(kind: string): ValidateFunction {
  const hit = validators.get(kind);
  if (hit !== undefined) return hit;
  const dir = path.join(SHARED, 'crds');
  for (const file of fs.readdirSync(dir)) {
    const crd = parseAllDocuments(
      zlib.gunzipSync(fs.readFileSync(path.join(dir, file))).toString('utf8'),
    )[0]?.toJS() as Crd;
    if (crd.spec.names.kind !== kind) continue;
    const version = crd.spec.versions.find((v) => v.name === 'v1alpha1') ?? crd.spec.versions[0]!;
    // Kubernetes formats (int32, int-or-string, ...) are not JSON-schema formats: ignored, quietly.
    const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false, logger: false });
    const validate = ajv.compile(version.schema.openAPIV3Schema);
    validators.set(kind, validate);
    return validate;
  }
  throw new Error(`no CRD for kind ${kind} in ${dir}`);
}

export interface ResourceCheck {
  kind: string;
  name: string;
  errors: string[];
}

/** Parses a multi-document YAML file and validates each document against its kind's CRD. */
export function validateResources(file: string): ResourceCheck[] {
  const docs = parseAllDocuments(fs.readFileSync(file, 'utf8'));
  return docs.map((doc) => {
    if (doc.errors.length > 0) return { kind: '?', name: '?', errors: doc.errors.map((e) => e.message) };
    const resource = doc.toJS() as { apiVersion?: string; kind?: string; metadata?: { name?: string } };
    const errors: string[] = [];
    if (resource.apiVersion !== 'sedna.io/v1alpha1')
      errors.push(`apiVersion is ${String(resource.apiVersion)}, expected sedna.io/v1alpha1`);
    const validate = crdValidator(String(resource.kind));
    if (!validate(resource)) for (const e of validate.errors ?? []) errors.push(`${e.instancePath} ${e.message ?? ''}`);
    return { kind: String(resource.kind), name: String(resource.metadata?.name), errors };
  });
}
