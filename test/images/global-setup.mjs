/**
 * Jest globalSetup of the image suite: installs the container tools and the node:20-bookworm-slim
 * stand-in when missing (../shared/tools/oci), packs the package and builds every image once
 * (scripts/images/build.mjs). Each image's outcome goes to a file the tests read, so a failed build
 * fails that image's tests with its log instead of the whole run. Plain JavaScript: Jest loads
 * globalSetup without the TypeScript transform.
 */
import fs from 'node:fs';
import path from 'node:path';
import { buildAll } from '../../scripts/images/build.mjs';
import { ROOT } from '../../scripts/images/oci.mjs';

export const SCRATCH = path.join(ROOT, 'test', '.scratch', 'images');

export default async function globalSetup() {
  fs.mkdirSync(SCRATCH, { recursive: true });
  for (const old of fs.readdirSync(SCRATCH)) fs.rmSync(path.join(SCRATCH, old), { recursive: true, force: true });
  const started = Date.now();
  const log = (line) => process.stderr.write(`images: ${line}\n`);
  const results = await buildAll({ log });
  log(
    `${results.filter((r) => r.ok).length} of ${results.length} images built in ${((Date.now() - started) / 1000).toFixed(0)} s`,
  );
  fs.writeFileSync(path.join(SCRATCH, 'build.json'), JSON.stringify(results, null, 1));
}
