/**
 * `sedna run` of the examples' job YAML through the local control plane (issue 17, "Done when"):
 * federated learning to completion, joint inference to a steady state, incremental learning
 * through two train-eval-deploy cycles, the second one triggered by adding samples to the
 * dataset file while the job runs.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { CycleRow, RunSnapshot } from '../../src/cli/run/status.js';
import { containerOf, documentOf, editedExample, setEnv } from '../helpers/job-yaml.js';
import { jobOf, runCli, startRun, tempStateDir } from '../helpers/sedna-run.js';
import { runNode } from '../helpers/child.js';
import { ROOT } from '../helpers/paths.js';

const FL = 'examples/federated-learning/federated-learning-job.yaml';
const JI = 'examples/joint-inference/joint-inference-service.yaml';
const IL = 'examples/incremental-learning/incremental-learning-job.yaml';

let dir: string;
beforeEach(async () => {
  dir = await tempStateDir();
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function filesUnder(root: string, name: string): Promise<string[]> {
  const entries = await fs.readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile() && e.name === name).map((e) => path.join(e.parentPath, e.name));
}

test('federated learning: the example YAML, unchanged, trains and exits 0', async () => {
  const result = await runCli(['run', FL, '--json', '--state-dir', dir], { timeoutMs: 240_000 });
  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
  const out = JSON.parse(result.stdout) as { ok: boolean; status: RunSnapshot };
  const job = jobOf(out.status);
  expect(out.ok).toBe(true);
  expect(job.phase).toBe('Succeeded');
  // The aggregator and three trainers, each on its own node, all completed.
  expect(job.workers.map((w) => [w.role, w.phase])).toEqual([
    ['aggregator', 'Succeeded'],
    ['trainer 1', 'Succeeded'],
    ['trainer 2', 'Succeeded'],
    ['trainer 3', 'Succeeded'],
  ]);
  for (const trainer of job.workers.slice(1))
    expect(trainer.lastReport).toMatchObject({ kind: 'train', status: 'completed' });
  // The trainers' reports give one point per round (the CRD's exit round: 5), and it learned.
  const rounds = job.charts.fl;
  expect(rounds.map((r) => r.round)).toEqual([1, 2, 3, 4, 5]);
  const first = rounds[0]?.accuracy ?? 1;
  const last = rounds[4]?.accuracy ?? 0;
  expect(last).toBeGreaterThan(0.9);
  expect(last).toBeGreaterThan(first);
  // Each trainer saved the aggregated model on its own node.
  for (const node of ['edge-node-1', 'edge-node-2', 'edge-node-3']) {
    const model = path.join(dir, 'nodes', node, 'models', 'digits-fl');
    expect((await fs.stat(path.join(model, 'model.json'))).size).toBeGreaterThan(0);
    expect((await fs.stat(path.join(model, 'weights.bin'))).size).toBeGreaterThan(0);
  }
}, 300_000);

test('joint inference: cloud then edge, reports reach the status, a second run of it is refused, Ctrl-C stops both', async () => {
  // The example reports every 30 s (LC_PERIOD); the test wants reports sooner.
  const file = await editedExample(JI, dir, (docs) => {
    setEnv(containerOf(documentOf(docs, 'JointInferenceService'), 'edgeWorker'), 'LC_PERIOD', '1');
  });
  const stateDir = path.join(dir, 'state');
  const run = startRun([file, '--local', 'examples/joint-inference/sedna.local.yaml'], stateDir);
  try {
    const point = await run.until('an edge report with inference counters', (s) => {
      const p = jobOf(s).charts.ji.find((x) => x.inferenceNumber > 0 && x.hardExampleNumber > 0);
      return p;
    });
    expect(point.ratio).toBeGreaterThan(0);
    expect(point.ratio).toBeLessThan(1);
    const s = await run.status();
    const job = jobOf(s);
    expect(job.phase).toBe('Running');
    expect(job.stage).toBe('serving');
    expect(job.workers.map((w) => [w.role, w.phase])).toEqual([
      ['cloud', 'Running'],
      ['edge', 'Running'],
    ]);
    const edge = job.workers[1];
    expect(edge?.lastReport?.kind).toBe('inference');
    // WORKER_NAME with its suffix, as the GlobalManager names workers.
    expect(edge?.workerName).toMatch(/^edgeworker-[a-z0-9]{5}$/);
    // The cloud's log is there for the page.
    const cloud = job.workers[0]?.pod ?? '';
    const logs = (await (await fetch(`${await run.api()}/api/logs/${cloud}`)).json()) as { text: string }[];
    expect(logs.map((l) => l.text).join('\n')).toContain('big model serving at');

    // The same job again, on the same machine: refused while this one runs.
    const second = await runCli([
      'run',
      file,
      '--local',
      'examples/joint-inference/sedna.local.yaml',
      '--state-dir',
      stateDir,
    ]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('SEDNA_ERR_JOB_RUNNING');
    expect(second.stderr).toContain('digits-inference');

    // `sedna status` finds the running job through its API.
    const status = await runCli(['status', '--state-dir', stateDir]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('JointInferenceService default/digits-inference · Running');
  } finally {
    run.child.kill('SIGINT');
  }
  const exit = await run.exited;
  expect(exit.code).toBe(130);
  expect(run.stdout()).toContain('cloud worker');
  expect(run.stdout()).toMatch(/digits-inference-edge-\w+ +edgeworker-\w+ +edge +edge-node +Stopped/);
  const after = await runCli(['status', '--state-dir', stateDir, '--json']);
  const ended = JSON.parse(after.stdout) as RunSnapshot[];
  expect(ended.map((e) => jobOf(e).phase)).toEqual(['Stopped']);
}, 180_000);

test('incremental learning: the example YAML, unchanged; adding samples to the dataset starts each cycle', async () => {
  const run = startRun([IL, '--check-period', '0.2'], dir);
  const nodeRoot = path.join(dir, 'nodes', 'edge-node');
  const decided = (c: CycleRow | undefined): boolean => c?.outcome !== undefined || c?.deployedAt !== undefined;
  const addSamples = async (): Promise<number> => {
    const added = Date.now();
    const result = await runNode(['examples/incremental-learning/add-samples.mjs', '260', '--node-root', nodeRoot], {
      cwd: ROOT,
    });
    expect(result.stdout).toContain('added 260 labelled samples');
    return added;
  };
  const cycleAfter = async (n: number, added: number): Promise<CycleRow> => {
    const cycle = await run.until(
      `cycle ${n} to end`,
      (s) => {
        const job = jobOf(s);
        const row = job.charts.cycles[n - 1];
        // The stage workers' processes exit just after their last report.
        const stageWorkersDone = job.workers.every((w) => w.role === 'inference' || w.phase !== 'Running');
        return decided(row) && job.stage.endsWith('train/waiting') && stageWorkersDone ? row : undefined;
      },
      240_000,
    );
    // Triggered by the samples just added: trained after they were, never before.
    expect(Date.parse(cycle.trainedAt ?? '')).toBeGreaterThan(added);
    const trigger = (await run.status()).timeline.find(
      (e) => e.message.includes('train trigger fired') && e.message.endsWith(`round ${n}`),
    );
    expect(Date.parse(trigger?.t ?? '')).toBeGreaterThanOrEqual(added - 1000);
    expect(cycle.newMetrics?.accuracy?.[0]).toBeGreaterThan(0.5);
    expect(cycle.oldMetrics?.accuracy?.[0]).toBeGreaterThan(0);
    expect(cycle.trigger).toContain('accuracy_delta > 0.05');
    // The deploy decision follows the trigger on the eval metrics: deployed exactly when delta > 0.05.
    const delta = cycle.deltas?.accuracy_delta?.[0];
    expect(typeof delta).toBe('number');
    expect(cycle.deployedAt !== undefined).toBe((delta ?? 0) > 0.05);
    return cycle;
  };
  try {
    // The node starts with 60 labelled samples: below the train trigger (num_of_samples > 200).
    await run.until('the LC to count the dataset', (s) =>
      s.timeline.some((e) => e.message.includes('dataset digits-dataset: 60 new samples')),
    );
    expect(jobOf(await run.status()).charts.cycles).toHaveLength(0);

    // Someone labels 260 more samples: the LC sees them at its next check and starts a cycle.
    const first = await cycleAfter(1, await addSamples());
    // 320 samples at trainProb 0.8.
    expect(first.trainSamples).toBe(256);
    expect(jobOf(await run.status()).charts.cycles).toHaveLength(1);

    const second = await cycleAfter(2, await addSamples());
    expect(second.trainSamples).toBe(208);
    const s = await run.status();
    // Two train workers and two eval workers ran to completion beside the inference worker.
    const roles = jobOf(s).workers.map((w) => `${w.role}:${w.phase}`);
    expect(roles.filter((r) => r === 'train:Succeeded')).toHaveLength(2);
    expect(roles.filter((r) => r === 'eval:Succeeded')).toHaveLength(2);
    expect(roles).toContain('inference:Running');
    // Each cycle's trained model is in the job's outputDir on the edge node.
    const models = await filesUnder(path.join(nodeRoot, 'output', 'digits-il'), 'model.json');
    expect(models.length).toBeGreaterThanOrEqual(2);
  } finally {
    run.child.kill('SIGINT');
  }
  expect((await run.exited).code).toBe(130);
}, 600_000);
