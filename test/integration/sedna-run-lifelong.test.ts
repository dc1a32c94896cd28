/**
 * `sedna run` of the lifelong-learning example, unchanged and with no flag: the control plane
 * starts the knowledge base (a worker of the job), the train trigger fires on the Dataset the
 * edge node was given, then eval, then deploy: the inference worker answers the stream of birds
 * with the evaluated index, flagging the birds of the unseen task (Torgersen island).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { RunSnapshot } from '../../src/cli/run/status.js';
import { startRun, tempStateDir } from '../helpers/sedna-run.js';

let dir: string;
beforeAll(async () => {
  dir = await tempStateDir('sedna-run-lifelong-');
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

test('lifelong learning: the example YAML runs train, eval and deploy with the knowledge base the runner starts', async () => {
  const stateDir = path.join(dir, 'state');
  const out = path.join(stateDir, 'nodes', 'edge-node', 'data', 'penguins', 'infer.csv_out.csv');
  const rows = async (): Promise<string[][]> =>
    (await fs.readFile(out, 'utf8').catch(() => ''))
      .trim()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => l.split(','));
  const run = startRun(['examples/lifelong-learning/lifelong-learning-job.yaml'], stateDir);
  let snapshot: RunSnapshot;
  try {
    // The cycle is over once deployed and its stage workers' processes have exited too (each exits
    // just after its last report).
    snapshot = await run.until(
      'the first cycle deployed',
      (s) => {
        const job = s.jobs[0];
        const stagesDone = job?.workers
          .filter((w) => w.role === 'train' || w.role === 'eval')
          .every((w) => w.phase === 'Succeeded');
        return (
          job?.charts.cycles[0]?.deployedAt !== undefined && job.stage.endsWith('train/waiting') && stagesDone && s
        );
      },
      240_000,
    );
    const job = snapshot.jobs[0];
    if (job === undefined) throw new Error('no job');
    expect(job.kind).toBe('LifelongLearningJob');
    expect(job.phase).toBe('Running');
    expect(job.facts['knowledge base']).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // The KB takes the run's SERVICE_TOKEN: the cycle above went through with it (train, eval and
    // inference workers' KB calls); a request without it is refused.
    const refused = await fetch(`${job.facts['knowledge base'] ?? ''}/knowledgebase/update/status`, { method: 'POST' });
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { code: string }).code).toBe('SEDNA_ERR_UNAUTHORIZED');
    const cycle = job.charts.cycles[0];
    expect(cycle?.trainSamples).toBeGreaterThan(100); // the trigger: num_of_samples > 100
    expect(cycle?.evalSamples).toBeGreaterThan(0);
    expect(cycle?.deployed).toBe(true);
    expect(job.workers.map((w) => [w.role, w.phase])).toEqual([
      ['knowledge base', 'Running'],
      ['train', 'Succeeded'],
      ['eval', 'Succeeded'],
      ['inference', 'Running'],
    ]);
    expect(job.workers[1]?.workerName).toMatch(/^train-worker-[a-z0-9]{5}$/);
    // The deployed index, where the GM points the inference worker's MODEL_URLS.
    const deployed = path.join(stateDir, 'nodes', 'edge-node', 'output', 'penguins-ll', 'deploy', 'index.pkl');
    expect((await fs.stat(deployed)).size).toBeGreaterThan(0);
    // The inference worker answers the whole stream (105 birds), each Torgersen bird as unseen.
    const deadline = Date.now() + 120_000;
    while ((await rows()).length < 106 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
  } finally {
    run.child.kill('SIGINT');
  }
  expect((await run.exited).code).toBe(130);
  const [header, ...answers] = await rows();
  const island = header?.indexOf('Island') ?? -1;
  const unseen = header?.indexOf('unseen') ?? -1;
  expect(answers).toHaveLength(105);
  for (const row of answers) expect(row[unseen]).toBe(String(row[island] === 'Torgersen'));
}, 420_000);
