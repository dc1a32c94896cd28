/**
 * Jest globalSetup: starts the real S3 server (OpenStack Swift + s3api, ~2 s) once per run and
 * hands its settings to the test workers through process.env, which they inherit (workers start
 * after this runs; in-band runs copy process.env into each test environment). Plain JavaScript:
 * Jest loads globalSetup without the TypeScript transform's module mapping.
 *
 * Skipped when every selected path is under test/unit/ (pure logic, no servers), or when
 * SEDNA_TEST_S3_ENDPOINT already names a server. Missing Debian packages are installed first
 * (test/system-deps.mjs); if that cannot be done the whole run fails with the command that fixes
 * it: tests are never skipped.
 */
import { INSTALL_HINT, startS3Server } from '../scripts/s3-server-launch.mjs';
import { ensureSystemDeps } from './system-deps.mjs';

export const TEST_BUCKET = 'sedna-test';

/** @param {{ testPathPatterns?: { patterns?: string[] } }} config */
function onlyUnitTests(config) {
  const patterns = config.testPathPatterns?.patterns ?? [];
  return patterns.length > 0 && patterns.every((p) => /(^|[\\/])test[\\/]unit([\\/]|$)/.test(p));
}

export default async function globalSetup(config) {
  // The AWS SDK warns in every process that its 2027 releases will need Node 22.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  if (process.env.SEDNA_TEST_S3_ENDPOINT !== undefined || onlyUnitTests(config)) return;
  ensureSystemDeps();
  let server;
  try {
    server = await startS3Server({ buckets: [TEST_BUCKET] });
  } catch (err) {
    const hint = err.message.includes('install-system-deps') ? '' : `\n${INSTALL_HINT}`;
    throw new Error(`could not start the S3 test server (OpenStack Swift): ${err.message}${hint}`, { cause: err });
  }
  globalThis.__SEDNA_S3_SERVER__ = server;
  process.env.SEDNA_TEST_S3_ENDPOINT = server.endpoint;
  process.env.SEDNA_TEST_S3_ACCESS_KEY_ID = server.accessKeyId;
  process.env.SEDNA_TEST_S3_SECRET_ACCESS_KEY = server.secretAccessKey;
  process.env.SEDNA_TEST_S3_REGION = server.region;
  process.env.SEDNA_TEST_S3_BUCKET = TEST_BUCKET;
}
