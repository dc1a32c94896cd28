import { spawn } from 'node:child_process';
import path from 'node:path';

export interface ChildResult {
  /** The worker's name (`options.name`, else the script). */
  name: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Killed by the timer (`timeoutMs`), not ended by itself. */
  timedOut: boolean;
  durationMs: number;
}

/** Lines of a worker's output shown when its timer kills it. */
const TAIL_LINES = 40;

/** The last `lines` lines of `text`, each cut to 400 characters. */
export function tail(text: string, lines = TAIL_LINES): string {
  const all = text.trimEnd().split('\n');
  const shown = all.slice(-lines).map((l) => (l.length > 400 ? `${l.slice(0, 400)}…` : l));
  return (all.length > lines ? [`… (${all.length - lines} earlier lines)`, ...shown] : shown).join('\n');
}

/** What a test prints when its timer kills a worker: which one, and where its output stopped. */
export function describeKill(result: ChildResult, timeoutMs: number): string {
  return [
    `worker "${result.name}" was killed by the test's timer after ${timeoutMs} ms (it had not exited)`,
    `--- ${result.name} stdout (tail) ---`,
    result.stdout === '' ? '(empty)' : tail(result.stdout),
    `--- ${result.name} stderr (tail) ---`,
    result.stderr === '' ? '(empty)' : tail(result.stderr),
  ].join('\n');
}

/**
 * Runs `node <args>` to completion and collects its output, bounded by `timeoutMs`. A worker the
 * timer kills is named on stderr with the tail of its stdout and stderr, so a stalled run says
 * where it stopped.
 */
export function runNode(
  args: readonly string[],
  options: { name?: string; cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {},
): Promise<ChildResult> {
  const name = options.name ?? path.basename(args.find((a) => /\.(m?js|ts)$/.test(a)) ?? args[0] ?? 'node');
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result: ChildResult = { name, code, signal, stdout, stderr, timedOut, durationMs: Date.now() - started };
      // Straight to stderr (not console): it shows even when the test then fails on an assertion.
      if (timedOut) process.stderr.write(`\n${describeKill(result, timeoutMs)}\n\n`);
      resolve(result);
    });
    child.stdin.end(options.input ?? '');
  });
}
