/**
 * Runs Sedna's real LocalController (../shared/tools/real-lc, built unmodified from v0.6.0) with
 * its GlobalManager stand-in, and reads what the LC forwards to the GM (gm.jsonl).
 *
 * If the launcher cannot start the LC, start() rejects with the launcher's own message: the
 * conformance suite must never pass without having talked to the real LC.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { ROOT } from '../helpers/paths.js';

export const REAL_LC_DIR = path.resolve(ROOT, '..', 'shared', 'tools', 'real-lc');
export const REAL_LC_LAUNCHER = path.join(REAL_LC_DIR, 'start.mjs');

/** One line of gm.jsonl: a message the LC sent to the GlobalManager. */
export interface GmMessage {
  t: string;
  header: { namespace: string; resourceKind: string; resourceName: string; operation: string };
  content: {
    phase: string;
    status: string;
    output: { models: unknown[] | null; ownerInfo: Record<string, unknown> | null };
  };
}

export interface RealLcOptions {
  /** GM insert messages ({header, content}) sent when the LC connects (jobs the LC should know). */
  inserts?: readonly object[];
  startTimeoutMs?: number;
  /** The launcher script (default ../shared/tools/real-lc/start.mjs); tests of this harness swap it. */
  launcher?: string;
}

export class RealLC {
  private constructor(
    readonly lcServer: string,
    readonly gmLog: string,
    readonly lcLog: string,
    readonly workdir: string,
    private readonly child: ChildProcess,
  ) {}

  static async start(options: RealLcOptions = {}): Promise<RealLC> {
    const launcher = options.launcher ?? REAL_LC_LAUNCHER;
    if (!fs.existsSync(launcher)) {
      throw new Error(
        `the real LocalController launcher is missing: ${launcher} (the conformance suite needs ../shared beside the repository)`,
      );
    }
    const workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'real-lc-'));
    const inserts = (options.inserts ?? []).map((insert, i) => {
      const file = path.join(workdir, `insert-${i}.json`);
      fs.writeFileSync(file, JSON.stringify(insert));
      return file;
    });
    const child = spawn(process.execPath, [launcher, path.join(workdir, 'lc')], {
      cwd: ROOT, // the launcher loads `ws` from the project
      env: { ...process.env, GM_INSERTS: inserts.join(':') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const ready = await new Promise<{ lcServer: string; gmLog: string; lcLog: string }>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`the real LC did not start within ${options.startTimeoutMs ?? 30_000} ms: ${stderr}`));
      }, options.startTimeoutMs ?? 30_000);
      readline.createInterface({ input: child.stdout }).once('line', (line) => {
        clearTimeout(timer);
        resolve(JSON.parse(line) as { lcServer: string; gmLog: string; lcLog: string });
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the real LC launcher exited with ${code}: ${stderr.trim()}`));
      });
    });
    child.removeAllListeners('exit');
    return new RealLC(ready.lcServer, ready.gmLog, ready.lcLog, workdir, child);
  }

  /** Everything the LC forwarded to the GM so far. */
  messages(): GmMessage[] {
    const text = fs.readFileSync(this.gmLog, 'utf8');
    return text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as GmMessage);
  }

  /** Resolves once `predicate` holds for the forwarded messages (watching the log file). */
  waitFor(predicate: (messages: GmMessage[]) => boolean, timeoutMs = 15_000): Promise<GmMessage[]> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const messages = this.messages();
        if (!predicate(messages)) return false;
        cleanup();
        resolve(messages);
        return true;
      };
      const watcher = fs.watch(this.gmLog, () => check());
      // fs.watch can miss a change made between the first check and the watch starting.
      const fallback = setInterval(check, 200);
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(
            `the GM stand-in did not receive the expected messages within ${timeoutMs} ms; got ${JSON.stringify(this.messages())}`,
          ),
        );
      }, timeoutMs);
      const cleanup = (): void => {
        watcher.close();
        clearInterval(fallback);
        clearTimeout(timer);
      };
      check();
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.kill('SIGTERM');
    });
  }
}
