/** Runs autocannon as a separate process against a URL and returns its summary. */
import { spawn } from 'node:child_process';
import path from 'node:path';

export interface LoadResult {
  requestsPerSec: number;
  /** Requests answered over the whole run. */
  requests: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  errors: number;
  non2xx: number;
}

export function autocannon(
  url: string,
  options: {
    connections?: number;
    seconds?: number;
    method?: string;
    body?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<LoadResult> {
  const bin = path.join(import.meta.dirname, '..', '..', 'node_modules', '.bin', 'autocannon');
  const args = ['-j', '-c', String(options.connections ?? 32), '-d', String(options.seconds ?? 4)];
  if (options.method !== undefined) args.push('-m', options.method);
  if (options.body !== undefined) args.push('-b', options.body);
  for (const [k, v] of Object.entries(options.headers ?? {})) args.push('-H', `${k}=${v}`);
  args.push(url);
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited with ${code}`));
      const r = JSON.parse(out) as {
        requests: { average: number; total: number };
        latency: { p50: number; p99: number };
        errors: number;
        non2xx: number;
      };
      resolve({
        requestsPerSec: r.requests.average,
        requests: r.requests.total,
        latencyP50Ms: r.latency.p50,
        latencyP99Ms: r.latency.p99,
        errors: r.errors,
        non2xx: r.non2xx,
      });
    });
  });
}

export interface ServerProcess {
  /** The route under test: the first word of the server's first stdout line. */
  url: string;
  /** The second word, when the server prints one: a URL answering `process.cpuUsage()` as JSON. */
  cpuUrl?: string;
  stop: () => void;
}

/** The server process's CPU time so far (user + system, µs), read from its `cpuUrl`. */
export async function serverCpuMicros(server: ServerProcess): Promise<number> {
  if (server.cpuUrl === undefined) throw new Error('this server process reports no CPU time');
  const usage = (await (await fetch(server.cpuUrl)).json()) as { user: number; system: number };
  return usage.user + usage.system;
}

/** Starts `tsx <script> <args>` and resolves once the server prints its URL(s) on its first line. */
export function startServerProcess(script: string, args: string[] = []): Promise<ServerProcess> {
  const tsx = path.join(import.meta.dirname, '..', '..', 'node_modules', '.bin', 'tsx');
  return new Promise((resolve, reject) => {
    const child = spawn(tsx, [script, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, LOG_LEVEL: 'silent' },
    });
    let buffer = '';
    child.stdout.on('data', (d: Buffer) => {
      buffer += d.toString();
      const [url, cpuUrl] = (buffer.split('\n')[0] ?? '').trim().split(/\s+/);
      if (buffer.includes('\n') && url !== undefined) resolve({ url, cpuUrl, stop: () => child.kill('SIGTERM') });
    });
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`server process exited early with ${code}`)));
  });
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
