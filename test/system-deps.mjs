/**
 * Brings up the Debian packages the tests need (OpenStack Swift + memcached for the S3 server,
 * libsqlite3 for Sedna's real LocalController, ffmpeg and kcat for multi-edge inference) when they
 * are missing, so `npm test` works on a fresh machine with nothing else typed: it runs
 * scripts/install-system-deps.sh, which checks each package with dpkg (a fraction of a second when
 * all are present) and installs the missing ones with apt-get (root, or sudo). Plain JavaScript: Jest loads global setup files untransformed.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'scripts', 'install-system-deps.sh');

export function ensureSystemDeps() {
  const result = spawnSync('bash', [script, '--quiet'], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0) {
    throw new Error(
      `installing the system packages the tests need failed (exit ${result.status ?? result.signal}); ` +
        `run \`bash scripts/install-system-deps.sh\` as root (or with sudo) and read its output`,
    );
  }
}
