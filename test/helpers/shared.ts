import path from 'node:path';
import { ROOT } from './paths.js';

/** Sedna reference data copied into the repo (captures, CRDs): see test/fixtures/sedna/README.md. */
export const SHARED = path.join(ROOT, 'test', 'fixtures', 'sedna');
/** The workplace's shared folder beside the repo (only test/conformance needs it). */
export const SHARED_OUTSIDE = path.resolve(ROOT, '..', 'shared');
