#!/usr/bin/env node
// The API reports (@microsoft/api-extractor): one etc/<entry>.api.md per entry point of the
// package, built from dist/*.d.ts. `npm run api:update` rewrites them (commit the result);
// `npm run api:check` (CI) fails when the public surface differs from the checked-in reports, or
// when a public signature uses a type the entry point does not export.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const update = process.argv.includes('--update');

/**
 * Entry point (package.json "exports" key) → its declaration file and report name. A type that a
 * public signature uses but the entry point does not export is written into the report as an
 * `ae-forgotten-export` warning, so it is seen in review (the subpath entries are used beside the
 * main one and take their shared types from it).
 */
const ENTRY_POINTS = [
  { subpath: '.', dts: 'dist/index.d.ts', report: 'sedna-sdk' },
  { subpath: './protocol', dts: 'dist/protocol.d.ts', report: 'sedna-sdk-protocol' },
  { subpath: './backend/onnx', dts: 'dist/backend/onnx.d.ts', report: 'sedna-sdk-backend-onnx' },
  { subpath: './backend/tfjs', dts: 'dist/backend/tfjs.d.ts', report: 'sedna-sdk-backend-tfjs' },
  { subpath: './backend/classical', dts: 'dist/backend/classical.d.ts', report: 'sedna-sdk-backend-classical' },
  { subpath: './testing', dts: 'dist/testing/index.d.ts', report: 'sedna-sdk-testing' },
];

const exportsMap = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).exports;
const listed = Object.keys(exportsMap).filter((key) => key !== './package.json');
const covered = ENTRY_POINTS.map((e) => e.subpath);
const missing = listed.filter((key) => !covered.includes(key));
if (missing.length > 0) {
  console.error(
    `package.json exports ${missing.join(', ')} without an API report: add it to ENTRY_POINTS in ${path.relative(root, fileURLToPath(import.meta.url))}`,
  );
  process.exit(1);
}

fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
const tempFolder = path.join(root, 'temp', 'api');
fs.mkdirSync(tempFolder, { recursive: true });

const failed = [];
for (const entry of ENTRY_POINTS) {
  if (!fs.existsSync(path.join(root, entry.dts))) {
    console.error(`${entry.dts} is missing: run \`npm run build\` first`);
    process.exit(1);
  }
  const config = ExtractorConfig.prepare({
    configObject: {
      projectFolder: root,
      mainEntryPointFilePath: path.join(root, entry.dts),
      compiler: { tsconfigFilePath: path.join(root, 'tsconfig.build.json') },
      apiReport: {
        enabled: true,
        reportFileName: entry.report,
        reportFolder: path.join(root, 'etc'),
        reportTempFolder: tempFolder,
      },
      docModel: { enabled: false },
      dtsRollup: { enabled: false },
      tsdocMetadata: { enabled: false },
      messages: {
        compilerMessageReporting: { default: { logLevel: 'warning' } },
        extractorMessageReporting: {
          default: { logLevel: 'warning' },
          'ae-forgotten-export':
            entry.subpath === '.' ? { logLevel: 'warning', addToApiReportFile: true } : { logLevel: 'none' },
          'ae-unresolved-link': { logLevel: 'none' },
          'ae-missing-release-tag': { logLevel: 'none' },
          'ae-undocumented': { logLevel: 'none' },
          'ae-internal-missing-underscore': { logLevel: 'none' },
        },
        tsdocMessageReporting: { default: { logLevel: 'none' } },
      },
    },
    configObjectFullPath: path.join(root, 'api-extractor.json'),
    packageJsonFullPath: path.join(root, 'package.json'),
  });
  const result = Extractor.invoke(config, { localBuild: update, showVerboseMessages: false });
  if (!result.succeeded || (!update && result.apiReportChanged)) failed.push(entry);
  if (result.apiReportChanged && !update) {
    console.error(
      `etc/${entry.report}.api.md differs from the public API of ${entry.subpath === '.' ? 'sedna-sdk' : `sedna-sdk${entry.subpath.slice(1)}`} ` +
        `(diff etc/${entry.report}.api.md temp/api/${entry.report}.api.md).`,
    );
  }
}

// On a mismatch the generated reports stay in temp/api/ so that the difference can be read there.
if (update || failed.length === 0) fs.rmSync(path.join(root, 'temp'), { recursive: true, force: true });
if (failed.length > 0 && !update) {
  console.error(
    `\nThe API reports are out of date or the API has errors (${failed.map((e) => e.report).join(', ')}).\n` +
      'If the change of the public API is intended: run `npm run api:update` and commit etc/*.api.md, so the\n' +
      'change is seen in review. If not: undo the export.',
  );
  process.exit(1);
}
if (failed.length > 0) {
  console.error(`API errors in ${failed.map((e) => e.report).join(', ')} (see above)`);
  process.exit(1);
}
console.log(update ? 'API reports written to etc/' : 'API reports match etc/*.api.md');
