/**
 * A file of the built package beside this module (dist/cli/run/: `reaper-main.js`,
 * `mesh-resolver.js`, `../main.js`), also when the caller runs from the sources (tests through
 * SWC), where it is the repository's dist/ build.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SednaError } from '../../common/errors.js';

export function builtFile(relative: string): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const found = [path.join(here, relative), path.join(here, '..', '..', '..', 'dist', 'cli', 'run', relative)].find(
    (f) => existsSync(f),
  );
  if (found === undefined) throw new SednaError('SEDNA_ERR_INTERNAL', `${relative} not found: run npm run build`);
  return found;
}
