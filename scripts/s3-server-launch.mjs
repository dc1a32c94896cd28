/**
 * Starts scripts/s3-server.mjs as a child process and resolves with its settings once Swift
 * answers. Plain JavaScript so Jest's globalSetup (loaded without our TypeScript transform) and
 * the benchmarks can share it; types in s3-server-launch.d.mts.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 's3-server.mjs');

export const INSTALL_HINT = 'install the system packages with: bash scripts/install-system-deps.sh';

/** @param {{ buckets?: string[], timeoutMs?: number }} [options] */
export function startS3Server(options = {}) {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const args = [SCRIPT, ...(options.buckets ?? []).flatMap((b) => ['--bucket', b])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve(undefined);
      child.once('exit', () => resolve(undefined));
      child.kill('SIGTERM');
    });
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    let ready = false;
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`the S3 test server did not start within ${timeoutMs} ms: ${stderr.trim()}`));
    }, timeoutMs);
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.stdout.setEncoding('utf8').on('data', (d) => {
      stdout += d;
      const newline = stdout.indexOf('\n');
      if (ready || newline < 0) return;
      ready = true;
      clearTimeout(timer);
      resolve({ ...JSON.parse(stdout.slice(0, newline)), stop });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (!ready)
        reject(new Error(`the S3 test server exited (${signal ?? code}) before it was ready: ${stderr.trim()}`));
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
