/**
 * Starts scripts/s3-server.mjs as a child process and resolves with its settings once Swift
 * answers. Plain JavaScript so Jest's globalSetup (loaded without our TypeScript transform) and
 * the benchmarks can share it; types in s3-server-launch.d.mts.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopChild, waitForReady } from './child-process.mjs';

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 's3-server.mjs');

export const INSTALL_HINT = 'install the system packages with: bash scripts/install-system-deps.sh';

/** @param {{ buckets?: string[], timeoutMs?: number }} [options] */
export function startS3Server(options = {}) {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const args = [SCRIPT, ...(options.buckets ?? []).flatMap((b) => ['--bucket', b])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return waitForReady(child, {
    stream: 'stdout',
    // Its first line is the settings, printed once Swift answers.
    ready: (stdout) => {
      const newline = stdout.indexOf('\n');
      return newline < 0 ? undefined : JSON.parse(stdout.slice(0, newline));
    },
    timeoutMs,
    failure: (reason, { stderr, code, signal, error }) =>
      reason === 'spawn'
        ? error
        : new Error(
            reason === 'timeout'
              ? `the S3 test server did not start within ${timeoutMs} ms: ${stderr.trim()}`
              : `the S3 test server exited (${signal ?? code}) before it was ready: ${stderr.trim()}`,
          ),
  }).then((info) => ({ ...info, stop: () => stopChild(child) }));
}
