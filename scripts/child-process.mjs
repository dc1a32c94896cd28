/**
 * Start and stop plumbing shared by the launchers of helper servers that run as child processes
 * (s3-server-launch.mjs, kafka-mock.mjs). Plain JavaScript, as they are.
 */

/** How much of a child's output is kept for readiness checks and error messages. */
const OUTPUT_TAIL_CHARS = 20_000;

/**
 * Stops a child with SIGTERM; resolves once it has exited (at once if it already had).
 * @param {import('node:child_process').ChildProcess} child
 * @returns {Promise<void>}
 */
export function stopChild(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(undefined);
    child.once('exit', () => resolve(undefined));
    child.kill('SIGTERM');
  });
}

/**
 * Waits until a child's output says it is ready. The child's stderr (when piped) and the watched
 * stream are read to the end, also after it is ready: a child whose pipe fills up blocks.
 * @template T
 * @param {import('node:child_process').ChildProcess} child
 * @param {{
 *   stream: 'stdout' | 'stderr',
 *   ready: (output: string) => T | undefined,
 *   timeoutMs: number,
 *   timeoutSignal?: NodeJS.Signals,
 *   failure: (reason: 'timeout' | 'exit' | 'spawn', detail: { stderr: string, code?: number | null, signal?: NodeJS.Signals | null, error?: Error }) => Error,
 * }} options `ready` gets the watched stream's output so far (its last 20,000 characters) and
 *   returns the value to resolve with once there is one; `failure` builds the error for a child that
 *   is not ready in time (it gets `timeoutSignal`, default SIGTERM), exits first, or cannot start.
 * @returns {Promise<T>}
 */
export function waitForReady(child, options) {
  const { stream, ready, timeoutMs, timeoutSignal = 'SIGTERM', failure } = options;
  return new Promise((resolve, reject) => {
    let output = '';
    let stderr = '';
    let settled = false;
    const settle = (action) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      action();
    };
    const timer = setTimeout(() => {
      child.kill(timeoutSignal);
      settle(() => reject(failure('timeout', { stderr })));
    }, timeoutMs);
    child.stderr?.setEncoding('utf8').on('data', (text) => {
      if (!settled) stderr = (stderr + text).slice(-OUTPUT_TAIL_CHARS);
    });
    child[stream].setEncoding('utf8').on('data', (text) => {
      if (settled) return;
      output = (output + text).slice(-OUTPUT_TAIL_CHARS);
      const value = ready(output);
      if (value !== undefined) settle(() => resolve(value));
    });
    child.once('exit', (code, signal) => settle(() => reject(failure('exit', { stderr, code, signal }))));
    child.once('error', (error) => settle(() => reject(failure('spawn', { stderr, error }))));
  });
}
