/**
 * Worker processes: each container of a pod runs as a local process in its own process group
 * (so a stop reaches everything it started, as a container's PID namespace would), its output
 * kept in a log file and a ring of recent lines, restarted by the pod's restart policy with
 * exponential backoff. A reaper process (reaper-main.ts) kills every registered group if
 * `sedna run` itself dies.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { builtFile } from './built-file.js';

export type RestartPolicy = 'Always' | 'OnFailure' | 'Never';
/** Kubernetes' pod phases, plus Stopped: ended because the run stopped it. */
export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Stopped';

export interface ContainerLaunch {
  readonly name: string;
  /** Program and arguments, already resolved (command/args, or the image's ENTRYPOINT/CMD). */
  readonly argv: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
}

export interface PodLaunch {
  /** The pod name, `<job>-<worker type>-<suffix>` as the GlobalManager names pods. */
  readonly name: string;
  /** WORKER_NAME of its containers. */
  readonly workerName: string;
  /** `edge`, `cloud`, `train`, `eval`, `inference`, `aggregator`, `trainer`... */
  readonly role: string;
  readonly node: string;
  readonly restartPolicy: RestartPolicy;
  readonly containers: readonly ContainerLaunch[];
}

export interface RestartSettings {
  /** First delay before a restart (k8s: 10 s; here 1 s by default). */
  readonly initialBackoffMs: number;
  /** Largest delay (k8s: 5 min; here 30 s). */
  readonly maxBackoffMs: number;
  /** Restarts after which the pod gives up and is Failed (k8s never gives up; a laptop should). */
  readonly maxRestarts: number;
  /** A container that ran this long before exiting starts the backoff afresh. */
  readonly resetAfterMs: number;
}

export const DEFAULT_RESTART: RestartSettings = Object.freeze({
  initialBackoffMs: 1_000,
  maxBackoffMs: 30_000,
  maxRestarts: 5,
  resetAfterMs: 60_000,
});

/** The delay before restart number `attempt` (1-based): initial × 2^(attempt-1), capped. */
export function backoffDelay(attempt: number, settings: RestartSettings): number {
  return Math.min(settings.maxBackoffMs, settings.initialBackoffMs * 2 ** Math.max(0, attempt - 1));
}

/** Whether a container that exited with `code` is started again under `policy`. */
export function shouldRestart(policy: RestartPolicy, code: number | null): boolean {
  if (policy === 'Always') return true;
  if (policy === 'OnFailure') return code !== 0;
  return false;
}

export interface LogLine {
  readonly pod: string;
  readonly container: string;
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
  readonly t: number;
}

/** Keeps the last `size` lines. */
class Ring<T> {
  private readonly items: T[] = [];
  constructor(private readonly size: number) {}
  push(item: T): void {
    this.items.push(item);
    if (this.items.length > this.size) this.items.shift();
  }
  last(n: number): T[] {
    return this.items.slice(-n);
  }
}

/** The reaper's pipe; one per `sedna run`. */
export class Reaper {
  private constructor(private readonly child: ChildProcess) {}

  static start(): Reaper {
    const script = builtFile('reaper-main.js');
    const child = spawn(process.execPath, [script], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
    child.unref();
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    return new Reaper(child);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  watch(pgid: number): void {
    this.child.stdin?.write(`+${pgid}\n`);
  }

  forget(pgid: number): void {
    this.child.stdin?.write(`-${pgid}\n`);
  }

  /** Ends the reaper after a clean stop (nothing left to reap). */
  close(): void {
    this.child.stdin?.end();
  }
}

interface PodEvents {
  phase: [phase: PodPhase];
  log: [line: LogLine];
  started: [container: string, pid: number];
  exited: [container: string, code: number | null, signal: NodeJS.Signals | null, restartInMs: number | undefined];
}

interface ContainerState {
  readonly launch: ContainerLaunch;
  child: ChildProcess | undefined;
  exited: Promise<void>;
  restarts: number;
  /** Failures in a row (reset by a long run). */
  crashes: number;
  startedAt: number;
  terminated: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  timer: NodeJS.Timeout | undefined;
}

/** A running pod: its containers as process groups, restarted per its policy. */
export class Pod extends EventEmitter<PodEvents> {
  phase: PodPhase = 'Pending';
  /** Why the pod failed, with the failing container's last lines. */
  failure: string | undefined;
  private readonly containers: ContainerState[];
  private readonly logs = new Ring<LogLine>(400);
  private readonly logFile: fs.WriteStream;
  private stopping = false;

  constructor(
    readonly spec: PodLaunch,
    private readonly reaper: Reaper,
    logDir: string,
    private readonly restart: RestartSettings = DEFAULT_RESTART,
  ) {
    super();
    fs.mkdirSync(logDir, { recursive: true });
    this.logFile = fs.createWriteStream(path.join(logDir, `${spec.name}.log`), { flags: 'a' });
    this.containers = spec.containers.map((launch) => ({
      launch,
      child: undefined,
      exited: Promise.resolve(),
      restarts: 0,
      crashes: 0,
      startedAt: 0,
      terminated: undefined,
      timer: undefined,
    }));
  }

  get name(): string {
    return this.spec.name;
  }

  get restarts(): number {
    return this.containers.reduce((n, c) => n + c.restarts, 0);
  }

  get pids(): number[] {
    return this.containers.flatMap((c) =>
      c.child?.pid === undefined || c.terminated !== undefined ? [] : [c.child.pid],
    );
  }

  /** The last `n` lines of output of every container, oldest first. */
  lastLines(n = 20): LogLine[] {
    return this.logs.last(n);
  }

  start(): void {
    for (const c of this.containers) this.run(c);
    this.setPhase('Running');
  }

  /** SIGTERM to every container's group, SIGKILL after `graceMs`; resolves when all have exited. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    for (const c of this.containers) {
      if (c.timer !== undefined) clearTimeout(c.timer);
      c.timer = undefined;
    }
    const live = this.containers.filter((c) => c.child !== undefined && c.terminated === undefined);
    for (const c of live) killGroup(c.child?.pid, 'SIGTERM');
    const killer = setTimeout(() => {
      for (const c of live) if (c.terminated === undefined) killGroup(c.child?.pid, 'SIGKILL');
    }, graceMs);
    await Promise.all(live.map((c) => c.exited));
    clearTimeout(killer);
    if (this.phase === 'Running' || this.phase === 'Pending') this.setPhase('Stopped');
    await new Promise<void>((resolve) => this.logFile.end(resolve));
  }

  private run(c: ContainerState): void {
    const [program = '', ...args] = c.launch.argv;
    c.terminated = undefined;
    c.startedAt = Date.now();
    const child = spawn(program, args, {
      cwd: c.launch.cwd,
      env: c.launch.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group: a stop reaches its children too
    });
    c.child = child;
    c.exited = new Promise<void>((resolve) => {
      let settled = false;
      const settle = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (settled) return;
        settled = true;
        this.onExit(c, code, signal);
        resolve();
      };
      child.once('close', settle);
      child.once('error', (err) => {
        this.record(c, 'stderr', `sedna run: cannot start ${program}: ${err.message}`);
        if (child.pid === undefined) settle(127, null); // never started: no 'close' to wait for
      });
    });
    if (child.pid !== undefined) {
      this.reaper.watch(child.pid);
      this.emit('started', c.launch.name, child.pid);
    }
    for (const stream of ['stdout', 'stderr'] as const) {
      readline.createInterface({ input: child[stream], crlfDelay: Infinity }).on('line', (line) => {
        this.record(c, stream, line);
      });
    }
  }

  private record(c: ContainerState, stream: LogLine['stream'], text: string): void {
    const line: LogLine = { pod: this.name, container: c.launch.name, stream, text, t: Date.now() };
    this.logs.push(line);
    this.logFile.write(`${new Date(line.t).toISOString()} ${c.launch.name} ${stream} ${text}\n`);
    this.emit('log', line);
  }

  private onExit(c: ContainerState, code: number | null, signal: NodeJS.Signals | null): void {
    const pid = c.child?.pid;
    if (pid !== undefined) {
      // A container's leftover children die with it, as in its PID namespace.
      killGroup(pid, 'SIGKILL');
      this.reaper.forget(pid);
    }
    c.terminated = { code, signal };
    const ranMs = Date.now() - c.startedAt;
    if (ranMs >= this.restart.resetAfterMs) c.crashes = 0;
    const failed = code !== 0;
    const restart = !this.stopping && shouldRestart(this.spec.restartPolicy, code);
    if (restart && c.crashes >= this.restart.maxRestarts) {
      this.emit('exited', c.launch.name, code, signal, undefined);
      this.fail(c, `crashed ${c.crashes + 1} times in a row (restart limit ${this.restart.maxRestarts})`);
      return;
    }
    if (restart) {
      c.crashes += 1;
      c.restarts += 1;
      const delay = backoffDelay(c.crashes, this.restart);
      this.emit('exited', c.launch.name, code, signal, delay);
      c.timer = setTimeout(() => {
        c.timer = undefined;
        if (!this.stopping) this.run(c);
      }, delay);
      return;
    }
    this.emit('exited', c.launch.name, code, signal, undefined);
    if (this.stopping) return;
    if (failed) {
      this.fail(c, signal === null ? `exited with code ${code}` : `was killed by ${signal}`);
      return;
    }
    if (this.containers.every((x) => x.terminated?.code === 0 && x.timer === undefined)) this.setPhase('Succeeded');
  }

  private fail(c: ContainerState, why: string): void {
    const lines = this.logs
      .last(400)
      .filter((l) => l.container === c.launch.name)
      .slice(-15)
      .map((l) => `  | ${l.text}`);
    this.failure = `container ${c.launch.name} of pod ${this.name} ${why}${lines.length > 0 ? `; its last lines:\n${lines.join('\n')}` : ' (no output)'}`;
    for (const other of this.containers)
      if (other !== c && other.child !== undefined && other.terminated === undefined)
        killGroup(other.child.pid, 'SIGTERM');
    this.setPhase('Failed');
  }

  private setPhase(phase: PodPhase): void {
    if (this.phase === phase) return;
    this.phase = phase;
    this.emit('phase', phase);
  }
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone already
  }
}
