/**
 * The cluster's object store on this machine (docs/sedna-run.md, "An object store"): a job whose
 * template names an S3 endpoint (a MinIO Service, say) and reads the store's keys from a Secret
 * the cluster has runs against a local S3-compatible server that `sedna run` starts before the
 * jobs and stops after them, declared in the local map's `s3` section:
 *
 * - the server is any program that prints one JSON line `{"endpoint", "accessKeyId",
 *   "secretAccessKey"}` on stdout once it serves, and stops on SIGTERM (the repository's
 *   scripts/s3-server.mjs: OpenStack Swift with s3api, the server the test suite uses);
 * - template values naming the cluster's endpoint are rewritten to the local one, and the named
 *   Secrets are made from its keys: the job YAML stays as it goes to the cluster.
 *
 * It runs in a process group of its own that the run's reaper ends if `sedna run` dies.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { SednaError } from '../../common/errors.js';
import type { LocalS3Server } from './local-map.js';
import type { Reaper } from './processes.js';
import type { SecretResource } from './resources.js';
import { findProgram } from './workload.js';

export interface LocalS3 {
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** The Secrets the map names, holding the server's keys (and its address, as Sedna's annotations). */
  readonly secrets: SecretResource[];
  /** SIGTERM, then SIGKILL to its process group after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** How long the server gets to print its address (Swift starts in a few seconds). */
const READY_TIMEOUT_MS = 60_000;
/** The tail of the server's stderr kept for an error message. */
const STDERR_TAIL = 4_000;

function failed(spec: LocalS3Server, problem: string): SednaError {
  return new SednaError(
    'SEDNA_ERR_STORAGE',
    `the local S3 server (${spec.from}: s3.server ${spec.command.join(' ')}) ${problem}`,
    { details: { from: spec.from, command: [...spec.command] } },
  );
}

interface S3Settings {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** The settings line the server prints, or undefined while it has printed none. */
function settingsOf(stdout: string, spec: LocalS3Server): S3Settings | undefined {
  const newline = stdout.indexOf('\n');
  if (newline < 0) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(stdout.slice(0, newline));
  } catch {
    throw failed(
      spec,
      `printed ${JSON.stringify(stdout.slice(0, Math.min(newline, 200)))}, not its settings as one JSON line`,
    );
  }
  const v = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  if (
    typeof v.endpoint !== 'string' ||
    !/^https?:\/\/[^/\s]+\/?$/.test(v.endpoint) ||
    typeof v.accessKeyId !== 'string' ||
    typeof v.secretAccessKey !== 'string'
  )
    throw failed(
      spec,
      'printed a settings line without endpoint (http(s)://host:port), accessKeyId and secretAccessKey',
    );
  return { endpoint: v.endpoint.replace(/\/+$/, ''), accessKeyId: v.accessKeyId, secretAccessKey: v.secretAccessKey };
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else
      child.once('exit', () => {
        resolve();
      });
  });
}

/**
 * Starts the server, waits for its settings line and builds the Secrets. Its output goes to
 * `logFile`. Refused with SEDNA_ERR_STORAGE (its last stderr lines in the message) when it cannot
 * start, exits or says nothing usable within a minute.
 */
export async function startLocalS3(
  spec: LocalS3Server,
  options: { env: Readonly<Record<string, string>>; reaper: Reaper; logFile: string },
): Promise<LocalS3> {
  const [program = '', ...args] = spec.command;
  const resolved = program === 'node' ? process.execPath : await findProgram(program, spec.cwd, options.env.PATH);
  if (resolved === undefined) throw failed(spec, `cannot start: program ${JSON.stringify(program)} not found`);
  fs.mkdirSync(path.dirname(options.logFile), { recursive: true });
  const log = fs.createWriteStream(options.logFile, { flags: 'a' });
  const child = spawn(resolved, args, {
    cwd: spec.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, which the reaper ends if we die
  });
  if (child.pid !== undefined) options.reaper.watch(child.pid);
  const gone = exited(child);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    stderr = (stderr + text).slice(-STDERR_TAIL);
    log.write(text);
  });
  const stop = async (graceMs = 10_000): Promise<void> => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        try {
          process.kill(-(child.pid ?? 0), 'SIGKILL');
        } catch {
          // already gone
        }
      }, graceMs);
      await gone;
      clearTimeout(timer);
    }
    if (child.pid !== undefined) options.reaper.forget(child.pid);
    await new Promise<void>((resolve) => {
      log.end(resolve);
    });
  };
  try {
    const settings = await new Promise<S3Settings>((resolve, reject) => {
      let stdout = '';
      const fail = (err: SednaError): void => {
        clearTimeout(timer);
        reject(err);
      };
      const timer = setTimeout(() => {
        fail(failed(spec, `printed no settings within ${READY_TIMEOUT_MS / 1000} s: ${stderr.trim()}`));
      }, READY_TIMEOUT_MS);
      child.stdout.setEncoding('utf8').on('data', (text: string) => {
        log.write(text);
        stdout += text;
        let value: S3Settings | undefined;
        try {
          value = settingsOf(stdout, spec);
        } catch (err) {
          fail(err as SednaError);
          return;
        }
        if (value !== undefined) {
          clearTimeout(timer);
          resolve(value);
        }
      });
      child.once('error', (err) => {
        fail(failed(spec, `cannot start: ${err.message}`));
      });
      child.once('exit', (code, signal) => {
        fail(failed(spec, `exited (${signal ?? `code ${String(code)}`}) before it was ready: ${stderr.trim()}`));
      });
    });
    const { host, protocol } = new URL(settings.endpoint);
    const secrets: SecretResource[] = spec.secrets.map(({ namespace, name }) => ({
      metadata: {
        name,
        namespace,
        // Sedna's buildS3SecretEnvs reads the endpoint of a credentialName Secret from these.
        annotations: { 's3-endpoint': host, 's3-usehttps': protocol === 'https:' ? '1' : '0' },
        labels: {},
      },
      data: { ACCESS_KEY_ID: settings.accessKeyId, SECRET_ACCESS_KEY: settings.secretAccessKey },
      source: { file: spec.from, document: 0, line: 0 },
    }));
    return { ...settings, secrets, stop };
  } catch (err) {
    await stop(1_000);
    throw err;
  }
}
