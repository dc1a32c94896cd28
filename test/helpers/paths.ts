import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Scratch space inside the package, so `import 'sedna-sdk'` resolves to this package (self-reference). */
export const SCRATCH = path.join(ROOT, 'test', '.scratch');
