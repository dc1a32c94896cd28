/**
 * Proof by repetition (issue 19): runs a conformance job again and again through Sedna's real
 * LocalController (../shared/tools/real-lc) while CPU hogs compete for the cores, and reports the
 * stalls (a worker its kill timer had to end), the failures and the distribution of job times.
 *
 *   npm run stress:fl -- --runs 50      # aggregator + 2 trainers, 3 rounds (the FL conformance job)
 *   npm run stress:il                   # the incremental-learning train then eval workers (20 runs)
 *   npm run stress:ji                   # the joint-inference cloud and edge workers (20 runs)
 *   npm run stress -- --job fl --runs 5 --hogs 4 --timeout 120 --keep
 *
 * --runs N     runs (default: 50 for fl, 20 for il and ji)
 * --hogs N     busy-loop processes beside the job (default: one per core)
 * --timeout S  each worker's kill timer, seconds (default 120); a worker it kills is a stall
 * --keep       keep the work folder (the LC's logs, the models)
 *
 * Exits 1 when any run stalled or failed. Long by design: not part of `npm test` or CI.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { MLP_TFJS, loadDigits } from '../test/helpers/backend-fixtures.js';
import { runNode, tail, type ChildResult } from '../test/helpers/child.js';
import { runFederatedJob, writeFederatedShards } from '../test/helpers/fl-example.js';
import { writeTxtDataset } from '../test/helpers/il.js';
import { JI_EXAMPLE, edgeWorkerEnv, startCloudWorker } from '../test/helpers/ji-example.js';
import { ROOT } from '../test/helpers/paths.js';
import { REAL_LC_DIR, RealLC, type GmMessage } from '../test/conformance/real-lc.js';

type JobName = 'fl' | 'il' | 'ji';

interface RunOutcome {
  readonly results: readonly ChildResult[];
  /** What is wrong besides the workers' exits (reports the LC did not forward). */
  readonly problem: string | undefined;
}

interface Job {
  readonly describe: string;
  /** Runs when --runs is not given. */
  readonly runs: number;
  /** GM inserts the LC needs to forward this job's reports. */
  readonly inserts: readonly object[];
  run(lc: RealLC, work: string, run: number, timeoutMs: number): Promise<RunOutcome>;
}

const FL_ROUNDS = 3;

/** Waits (bounded) until the LC forwarded what `enough` looks for; the problem when it did not. */
async function forwarded(lc: RealLC, enough: (m: GmMessage[]) => boolean, what: string): Promise<string | undefined> {
  try {
    await lc.waitFor(enough, 15_000);
    return undefined;
  } catch {
    return `the LC did not forward ${what}`;
  }
}

const JOBS: Record<JobName, Job> = {
  fl: {
    describe: `federated learning: aggregator + 2 trainers, ${FL_ROUNDS} rounds`,
    runs: 50,
    inserts: [],
    async run(lc, work, run, timeoutMs) {
      const hostData = path.join(work, `fl-${run}`);
      const jobName = `digits-fl-${run}`;
      const results = await runFederatedJob({
        lcServer: lc.lcServer,
        hostData,
        shards: writeFederatedShards(hostData),
        jobName,
        rounds: FL_ROUNDS,
        timeoutMs,
      });
      const ours = (m: GmMessage[]): GmMessage[] => m.filter((x) => x.header.resourceName === jobName);
      const ok = results.every((r) => r.code === 0);
      return {
        results,
        problem: ok
          ? await forwarded(lc, (m) => ours(m).length >= 2 * FL_ROUNDS, `${2 * FL_ROUNDS} train reports`)
          : undefined,
      };
    },
  },
  il: {
    describe: 'incremental learning: the train worker, then the eval worker',
    runs: 20,
    inserts: [
      JSON.parse(fs.readFileSync(path.join(REAL_LC_DIR, 'example-insert-incrementallearningjob.json'), 'utf8')),
    ] as object[],
    async run(lc, work, run, timeoutMs) {
      const hostData = path.join(work, `il-${run}`);
      const data = path.join(hostData, 'datasets', 'digits');
      const train = loadDigits('train');
      const test = loadDigits('test');
      const trainIndex = await writeTxtDataset(data, 'train', train.x.slice(0, 200), train.y.slice(0, 200));
      const testIndex = await writeTxtDataset(data, 'test', test.x.slice(0, 120), test.y.slice(0, 120));
      const round = path.join(hostData, 'models', 'helmet-il', 'train', '1');
      const env = (worker: string, extra: Record<string, string>): NodeJS.ProcessEnv => ({
        NAMESPACE: 'default',
        JOB_NAME: 'helmet-il', // the job the GM inserted: the LC forwards only its reports
        WORKER_NAME: worker,
        LC_SERVER: lc.lcServer,
        DATA_PATH_PREFIX: hostData,
        LOG_LEVEL: 'error',
        ...extra,
      });
      const ours = (m: GmMessage[]): GmMessage[] => m.filter((x) => x.header.resourceName === 'helmet-il');
      const before = ours(lc.messages()).length;
      const example = path.join(ROOT, 'examples', 'incremental-learning');
      const trained = await runNode([path.join(example, 'train.mjs')], {
        name: 'train-worker',
        cwd: ROOT,
        timeoutMs,
        env: env(`train-worker-${run}`, {
          BASE_MODEL_URL: MLP_TFJS,
          MODEL_URL: round,
          TRAIN_DATASET_URL: trainIndex,
          ORIGINAL_DATASET_URL: trainIndex,
          epochs: '2',
        }),
      });
      if (trained.code !== 0) return { results: [trained], problem: undefined };
      const evaluated = await runNode([path.join(example, 'eval.mjs')], {
        name: 'eval-worker',
        cwd: ROOT,
        timeoutMs,
        env: env(`eval-worker-${run}`, {
          MODEL_URLS: `${path.join(round, 'model', 'model.json')};${path.join(MLP_TFJS, 'model.json')}`,
          TEST_DATASET_URL: testIndex,
          ORIGINAL_DATASET_URL: testIndex,
        }),
      });
      const results = [trained, evaluated];
      return {
        results,
        problem:
          evaluated.code === 0
            ? await forwarded(lc, (m) => ours(m).length >= before + 2, 'the train and eval reports')
            : undefined,
      };
    },
  },
  ji: {
    describe: 'joint inference: the cloud worker, then the edge worker over the digits test split',
    runs: 20,
    inserts: [],
    async run(lc, work, run, timeoutMs) {
      const out = path.join(work, `ji-${run}`);
      fs.mkdirSync(out, { recursive: true });
      const before = lc.messages().length;
      const cloud = await startCloudWorker();
      try {
        const edge = await runNode([path.join(JI_EXAMPLE, 'edge.mjs')], {
          name: 'edge-worker',
          cwd: ROOT,
          timeoutMs,
          env: {
            ...edgeWorkerEnv({ lcServer: lc.lcServer, cloudPort: cloud.port, outputDir: out }),
            LOG_LEVEL: 'error',
          },
        });
        return {
          results: [edge],
          problem: edge.code === 0 ? await forwarded(lc, (m) => m.length > before, 'an inference report') : undefined,
        };
      } finally {
        cloud.child.kill('SIGTERM');
      }
    },
  },
};

/** The q-quantile (nearest rank) of ascending `sorted`. */
function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

function startHogs(count: number): ChildProcess[] {
  // Plain busy loops at normal priority: each takes a core's worth of time slices from the job.
  return Array.from({ length: count }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      job: { type: 'string', default: 'fl' },
      runs: { type: 'string' },
      hogs: { type: 'string', default: String(os.cpus().length) },
      timeout: { type: 'string', default: '120' },
      keep: { type: 'boolean', default: false },
    },
  });
  const name = values.job as JobName;
  const job = JOBS[name] as Job | undefined;
  const runs = Number(values.runs ?? job?.runs);
  const hogCount = Number(values.hogs);
  const timeoutMs = Number(values.timeout) * 1000;
  if (job === undefined) throw new Error(`--job must be one of ${Object.keys(JOBS).join(', ')}`);
  if (!Number.isSafeInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');
  if (!Number.isSafeInteger(hogCount) || hogCount < 0) throw new Error('--hogs must be a non-negative integer');
  if (!(timeoutMs > 0)) throw new Error('--timeout must be a positive number of seconds');

  const work = fs.mkdtempSync(path.join(os.tmpdir(), `stress-${name}-`));
  console.log(
    `stress ${name} (${job.describe}): ${runs} runs, ${hogCount} CPU hog(s), kill timer ${seconds(timeoutMs)}`,
  );
  const lc = await RealLC.start({ inserts: job.inserts });
  const hogs = startHogs(hogCount);
  const stop = (): void => {
    for (const hog of hogs) hog.kill('SIGKILL');
  };
  process.once('SIGINT', () => {
    stop();
    process.exit(130);
  });
  const times: number[] = [];
  let stalls = 0;
  let failures = 0;
  try {
    for (let run = 1; run <= runs; run++) {
      const started = Date.now();
      const { results, problem } = await job.run(lc, work, run, timeoutMs);
      const elapsed = Date.now() - started;
      const stalled = results.filter((r) => r.timedOut);
      const failed = results.filter((r) => !r.timedOut && r.code !== 0);
      const label = `run ${String(run).padStart(String(runs).length)}/${runs}`;
      if (stalled.length > 0) {
        stalls++;
        // (runNode has printed each killed worker's name and output tail on stderr.)
        console.log(`${label}  STALL   ${seconds(elapsed)}  killed: ${stalled.map((r) => r.name).join(', ')}`);
        for (const r of failed) console.log(`--- ${r.name} exited ${r.code} ---\n${tail(r.stderr)}`);
      } else if (failed.length > 0 || problem !== undefined) {
        failures++;
        console.log(
          `${label}  FAILED  ${seconds(elapsed)}  ${problem ?? failed.map((r) => `${r.name} exited ${r.code}`).join(', ')}`,
        );
        for (const r of failed) console.log(`--- ${r.name} stderr (tail) ---\n${tail(r.stderr)}`);
      } else {
        times.push(elapsed);
        console.log(`${label}  ok      ${seconds(elapsed)}`);
      }
    }
  } finally {
    stop();
    await lc.stop();
    if (values.keep) console.log(`work folder kept: ${work}`);
    else fs.rmSync(work, { recursive: true, force: true });
  }
  const sorted = [...times].sort((a, b) => a - b);
  console.log(
    `\n${runs} runs: ${runs - stalls - failures} ok, ${stalls} stalls, ${failures} failed` +
      ` (${hogCount} CPU hog(s), ${os.cpus().length} cores, load average ${os.loadavg()[0]!.toFixed(1)})`,
  );
  if (sorted.length > 0) {
    console.log(
      `job time of the runs that finished: min ${seconds(sorted[0]!)}, p50 ${seconds(quantile(sorted, 0.5))}, ` +
        `p90 ${seconds(quantile(sorted, 0.9))}, max ${seconds(sorted.at(-1)!)}`,
    );
  }
  return stalls + failures === 0 ? 0 : 1;
}

process.exitCode = await main();
