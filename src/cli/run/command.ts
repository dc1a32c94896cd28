/**
 * `sedna run FILE...` and `sedna status`: the commands over the local control plane.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { SednaServer } from '../../service/server/base.js';
import { startApiServer } from './api-server.js';
import { LocalRun, type RunResult } from './control-plane.js';
import { jobsDir, runningJobs } from './locks.js';
import type { RunSnapshot } from './status.js';
import { runSummary, timelineLine } from './summary.js';

export interface RunCommandIo {
  env: Readonly<Record<string, string | undefined>>;
  stdout: (text: string) => void;
  /** A terminal: the summary is redrawn in place. */
  isTTY?: boolean;
  cwd?: string;
}

interface RunFlags {
  ui?: boolean;
  uiHost: string;
  uiPort: number;
  stateDir: string;
  local: string[];
  image: string[];
  nodePath: string[];
  checkPeriod?: number;
  maxRestarts: number;
  backoff: number;
  stopGrace: number;
  live: boolean;
  json?: boolean;
  timeout?: number;
  metrics?: boolean;
  flToken: boolean;
  serviceToken: boolean;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

function numberFlag(name: string, min: number, integer = false) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n)))
      throw new InvalidArgumentError(`${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}`);
    return n;
  };
}

/** Exit code of a run: 0 when every job succeeded (or a service ran until stopped), 1 on failure. */
export function exitCodeOf(result: RunResult): number {
  return result.jobs.some((j) => j.phase === 'Failed') ? 1 : 0;
}

async function fetchSnapshot(api: string): Promise<RunSnapshot | undefined> {
  try {
    const res = await fetch(`${api}/api/status`, { signal: AbortSignal.timeout(3_000) });
    return res.ok ? ((await res.json()) as RunSnapshot) : undefined;
  } catch {
    return undefined;
  }
}

export function registerRunCommands(program: Command, io: RunCommandIo): void {
  program
    .command('run')
    .description(
      'run Sedna job YAML on this machine: workers as local processes, the LocalController and GlobalManager in this process',
    )
    .argument('<files...>', 'YAML files with the job and its Datasets, Models (and Secrets)')
    .option('--ui', 'serve the status page (timeline, workers, logs, charts)')
    .option('--ui-host <host>', 'address of the status page and API', '127.0.0.1')
    .option('--ui-port <port>', 'port of the status page and API (0: a free one)', numberFlag('--ui-port', 0, true), 0)
    .option('--state-dir <dir>', 'where nodes, logs and run state live', '.sedna')
    .option(
      '--local <file>',
      'a sedna.local.yaml to read besides those next to the job files (repeatable)',
      collect,
      [],
    )
    .option(
      '--image <image=dockerfile>',
      'run an image from its Dockerfile, with the current folder as context (repeatable)',
      collect,
      [],
    )
    .option('--node-path <[node:]/path=local>', "map a node's path to a local folder (repeatable)", collect, [])
    .option('--check-period <seconds>', "override the triggers' check period", numberFlag('--check-period', 0.05))
    .option(
      '--max-restarts <n>',
      'crashes in a row after which a worker gives up and its job fails',
      numberFlag('--max-restarts', 0, true),
      5,
    )
    .option(
      '--backoff <ms>',
      'first restart delay, doubled at each crash (at most 30 s)',
      numberFlag('--backoff', 0),
      1000,
    )
    .option(
      '--stop-grace <seconds>',
      'time between SIGTERM and SIGKILL when stopping workers',
      numberFlag('--stop-grace', 0),
      10,
    )
    .option('--no-live', 'print events line by line instead of a live summary')
    .option('--json', 'print the final result as one JSON object')
    .option(
      '--timeout <seconds>',
      'stop the run after this long (a service otherwise runs until Ctrl-C)',
      numberFlag('--timeout', 0),
    )
    .option('--metrics', 'serve Prometheus metrics of the run at /metrics')
    .option(
      '--no-fl-token',
      'no per-job token for a federated round (Python trainers, which send none, can join; else AGG_TOKEN_FILE)',
    )
    .option(
      '--no-service-token',
      'no per-run token for the REST services (Python workers, which send none, can call them; else SERVICE_TOKEN_FILE)',
    )
    .action(async (files: string[], flags: RunFlags) => {
      const cwd = io.cwd ?? process.cwd();
      const say = io.stdout;
      let api: SednaServer | undefined;
      const run = await LocalRun.start({
        files,
        cwd,
        env: io.env,
        stateDir: flags.stateDir,
        localFiles: flags.local,
        imageFlags: flags.image,
        nodePathFlags: flags.nodePath,
        ...(flags.checkPeriod === undefined ? {} : { checkPeriodSeconds: flags.checkPeriod }),
        restart: { maxRestarts: flags.maxRestarts, initialBackoffMs: flags.backoff },
        stopGraceMs: flags.stopGrace * 1000,
        flToken: flags.flToken,
        serviceToken: flags.serviceToken,
        api: async (store, localRun) => {
          api = await startApiServer(store, localRun, {
            host: flags.uiHost,
            port: flags.uiPort,
            page: flags.ui === true,
            ...(flags.metrics === true ? { metrics: true } : {}),
          });
          if (flags.ui === true) store.ui = `${api.url}/`;
          return api.url;
        },
      }).catch(async (err: unknown) => {
        // A run that could not start still closes its status server (it would keep the process alive).
        await api?.close();
        throw err;
      });
      const store = run.status;
      const live = flags.live && io.isTTY === true && flags.json !== true;
      let drawn = 0;
      const draw = (): void => {
        const text = runSummary(store.snapshot());
        const clear = drawn > 0 ? `\x1b[${drawn}F\x1b[0J` : '';
        say(clear + text);
        drawn = text.split('\n').length - 1;
      };
      if (flags.json !== true) {
        if (store.ui !== undefined) say(`status page: ${store.ui}\n`);
        if (live) {
          draw();
          store.on('change', draw);
        } else {
          for (const e of store.timeline) say(`${timelineLine(e)}\n`);
          store.on('event', (e) => {
            say(`${timelineLine(e)}\n`);
          });
        }
      }
      const ticker = live ? setInterval(draw, 1000) : undefined;
      let signalled: NodeJS.Signals | undefined;
      const onSignal = (sig: NodeJS.Signals): void => {
        if (signalled !== undefined) {
          // A second Ctrl-C: no more waiting; the reaper ends what is left when this process exits.
          process.exit(130);
        }
        signalled = sig;
        if (!live && flags.json !== true) say(`${sig}: stopping every worker (again to force)\n`);
        void run.stop(`interrupted (${sig})`);
      };
      const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
      for (const sig of signals) process.on(sig, onSignal);
      const timer =
        flags.timeout === undefined
          ? undefined
          : setTimeout(() => void run.stop(`--timeout ${flags.timeout} s`), flags.timeout * 1000);
      try {
        await run.finished;
        const result = await run.stop('the jobs ended');
        if (ticker !== undefined) clearInterval(ticker);
        store.off('change', draw);
        if (flags.json === true) say(`${JSON.stringify({ ...result, status: store.snapshot() })}\n`);
        else {
          if (live) draw();
          else say(runSummary(store.snapshot()));
        }
        process.exitCode =
          signalled === undefined
            ? exitCodeOf(result)
            : 128 + (signalled === 'SIGINT' ? 2 : signalled === 'SIGTERM' ? 15 : 1);
      } finally {
        if (timer !== undefined) clearTimeout(timer);
        if (ticker !== undefined) clearInterval(ticker);
        for (const sig of signals) process.off(sig, onSignal);
        await api?.close();
      }
    });

  program
    .command('status')
    .description('show the jobs `sedna run` is running on this machine (or how the last run ended)')
    .option('--state-dir <dir>', 'the state folder of the runs', '.sedna')
    .option('--json', 'print the status snapshots as JSON')
    .action(async (flags: { stateDir: string; json?: boolean }) => {
      const stateDir = path.resolve(io.cwd ?? process.cwd(), flags.stateDir);
      const running = await runningJobs(stateDir);
      const apis = [...new Set(running.map((r) => r.api).filter((a): a is string => a !== undefined))];
      const snapshots: RunSnapshot[] = [];
      for (const a of apis) {
        const s = await fetchSnapshot(a);
        if (s !== undefined) snapshots.push(s);
      }
      if (snapshots.length === 0) {
        const dir = jobsDir(stateDir);
        const last = (await fs.readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.last.json'));
        const ended: RunSnapshot[] = [];
        for (const name of last) ended.push(JSON.parse(await fs.readFile(path.join(dir, name), 'utf8')) as RunSnapshot);
        if (ended.length === 0) {
          if (flags.json === true) io.stdout('[]\n');
          else io.stdout(`no job is running, and none ran with state folder ${stateDir}\n`);
          return;
        }
        if (flags.json !== true) io.stdout(`no job is running; how the last runs ended (state folder ${stateDir}):\n`);
        snapshots.push(...ended);
      }
      if (flags.json === true) io.stdout(`${JSON.stringify(snapshots)}\n`);
      else for (const s of snapshots) io.stdout(runSummary(s, { recent: 8 }));
    });
}
