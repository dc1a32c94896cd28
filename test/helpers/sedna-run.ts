/**
 * Drives `sedna run` as a user does: the built CLI (dist/cli/main.js) in a child process, from the
 * repository root, with its own state folder. `until()` polls the run's API (`/api/status`) for a
 * condition with a deadline, so tests wait for what they assert, never for a fixed time.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { JobState, RunSnapshot } from '../../src/cli/run/status.js';
import { runNode, type ChildResult } from './child.js';
import { ROOT as REPO_ROOT } from './paths.js';

export const CLI = path.join(REPO_ROOT, 'dist', 'cli', 'main.js');

export interface RunnerProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly stateDir: string;
  stdout(): string;
  stderr(): string;
  /** The run's API base URL (printed as `status page: URL/` with --ui). */
  api(): Promise<string>;
  status(): Promise<RunSnapshot>;
  /** Polls the status until `check` returns a value other than undefined/false. */
  until<T>(what: string, check: (s: RunSnapshot) => T | undefined | false, timeoutMs?: number): Promise<T>;
  /** Resolves with the exit code (or signal) once the runner ends. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The run's one job (the tests run one job per run). */
export function jobOf(s: RunSnapshot): JobState {
  const job = s.jobs[0];
  if (job === undefined) throw new Error('the run has no job');
  return job;
}

export async function tempStateDir(prefix = 'sedna-run-'): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

/** Starts `sedna run ARGS --ui --no-live --state-dir DIR` (the API on a free loopback port). */
export function startRun(args: readonly string[], stateDir: string, env: NodeJS.ProcessEnv = {}): RunnerProcess {
  const child = spawn(process.execPath, [CLI, 'run', ...args, '--ui', '--no-live', '--state-dir', stateDir], {
    cwd: REPO_ROOT,
    // Workers log at info (their lines are what the status page shows); the tests set silent.
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => {
      resolve({ code, signal });
    });
  });
  const state = { ended: false };
  void exited.then(() => (state.ended = true));
  const hasEnded = (): boolean => state.ended;
  const api = async (): Promise<string> => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const match = /status page: (http:\/\/[^\s/]+)\//.exec(out);
      if (match?.[1] !== undefined) return match[1];
      if (state.ended || Date.now() > deadline)
        throw new Error(`sedna run printed no status page address\nstdout:\n${out}\nstderr:\n${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const status = async (): Promise<RunSnapshot> => {
    const res = await fetch(`${await api()}/api/status`);
    return (await res.json()) as RunSnapshot;
  };
  return {
    child,
    stateDir,
    stdout: () => out,
    stderr: () => err,
    api,
    status,
    exited,
    async until(what, check, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      let last: RunSnapshot | undefined;
      for (;;) {
        if (state.ended)
          throw new Error(`sedna run ended before ${what}\nstdout:\n${out.slice(-4000)}\nstderr:\n${err}`);
        try {
          last = await status();
          const value = check(last);
          if (value !== undefined && value !== false) return value;
        } catch (e) {
          // The run ending while we asked is reported at the top of the loop.
          if (!hasEnded()) throw e;
          continue;
        }
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for ${what}; last status:\n${JSON.stringify(last, null, 1).slice(-6000)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
  };
}

/** Runs `sedna ARGS` to completion (a run that is expected to end by itself). */
export function runCli(
  args: readonly string[],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<ChildResult> {
  return runNode([CLI, ...args], {
    cwd: REPO_ROOT,
    timeoutMs: options.timeoutMs ?? 120_000,
    ...(options.env ? { env: options.env } : {}),
  });
}

/** Whether a process with this pid exists (and is not a zombie we could still see). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // A zombie (ended, not yet reaped by its parent) still answers kill(0): read its state.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** A worker process's environment, as the kernel holds it (Linux's /proc/PID/environ). */
export async function environOf(pid: number | undefined): Promise<Record<string, string>> {
  if (pid === undefined) throw new Error('the worker has no process');
  const raw = await fs.readFile(`/proc/${pid}/environ`, 'utf8');
  return Object.fromEntries(
    raw
      .split('\0')
      .filter((e) => e.includes('='))
      .map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
  );
}
