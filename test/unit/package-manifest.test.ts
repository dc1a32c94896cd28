/**
 * package.json against the code: every module that registers something when imported is declared
 * in `sideEffects` (a bundler that trusts the flag would drop it, and the built-in algorithms with
 * it), and every file the CLI demo reads ships in `files`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DEMO_ASSETS } from '../../src/cli/demo/joint-inference.js';
import { ROOT } from '../helpers/paths.js';

const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  sideEffects: string[];
  files: string[];
};

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** A call at module top level (column 0, or the body of a top-level loop) that registers. */
const TOP_LEVEL_REGISTRATION =
  /^(?:for \(.*\)\s*\{?\s*\n?\s*)?(?:ClassFactory\.)?(?:registerBuiltin|registerCls|registerBackend)\(/m;

describe('package.json', () => {
  it('declares every module that registers at import in sideEffects', () => {
    const registering = sourceFiles(path.join(ROOT, 'src'))
      .filter((file) => TOP_LEVEL_REGISTRATION.test(fs.readFileSync(file, 'utf8')))
      .map(
        (file) =>
          `./${path
            .relative(ROOT, file)
            .replace(/^src\//, 'dist/')
            .replace(/\.ts$/, '.js')}`,
      )
      .sort();
    // The scan itself must find the known ones, or it checks nothing.
    expect(registering).toEqual(
      expect.arrayContaining([
        './dist/algorithms/aggregation/index.js',
        './dist/algorithms/hard-example-mining/index.js',
        './dist/backend/registry.js',
      ]),
    );
    expect(registering.filter((file) => !pkg.sideEffects.includes(file))).toEqual([]);
  });

  it('ships what the CLI demo reads', () => {
    for (const file of Object.values(DEMO_ASSETS)) {
      const relative = path.relative(ROOT, file);
      expect(pkg.files).toContain(relative);
      expect(fs.existsSync(file)).toBe(true);
    }
  });
});
