/**
 * The LifelongLearning job against a real knowledge base server (SQLite file) and the LC emulator:
 * train → eval (a weak task is dropped) → edge inference with unseen-task detection → hot update
 * (a good one swaps, a bad one keeps the old state).
 */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ClassicalEstimator } from '../../src/backend/classical.js';
import { loadConfig } from '../../src/common/config.js';
import { LifelongLearning } from '../../src/core/lifelong-learning/index.js';
import { parseKBIndex } from '../../src/datasources/kb-index.js';
import { KBServer } from '../../src/service/server/kb-server.js';
import { LCEmulator } from '../../src/testing/lc-emulator.js';
import { rejectionOf } from '../helpers/errors.js';
import { seasonDataset as dataset } from '../helpers/lifelong.js';

const columns = ['season', 'strategy', 't', 'h'];

let tmp: string;
let kb: KBServer;
let lc: LCEmulator;
beforeEach(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'll-test-'));
  kb = await KBServer.create({
    dir: path.join(tmp, 'kb'),
    dbUrl: `sqlite:///${path.join(tmp, 'kb.sqlite3')}`,
    port: 0,
    host: '127.0.0.1',
  });
  await kb.listen();
  lc = await LCEmulator.start({ knownJobs: [{ kind: 'lifelonglearningjob', namespace: 'default', name: 'atcii' }] });
});
afterEach(async () => {
  await kb.close();
  await lc.close();
  await fsp.rm(tmp, { recursive: true, force: true });
});

const env = (worker: string, extra: Record<string, string> = {}) =>
  loadConfig({
    NAMESPACE: 'default',
    JOB_NAME: 'atcii',
    WORKER_NAME: worker,
    LC_SERVER: lc.url,
    KB_SERVER: kb.url,
    DATA_PATH_PREFIX: tmp,
    OUTPUT_URL: path.join(tmp, 'output'),
    MIN_TRAIN_SAMPLE: '10',
    LOG_LEVEL: 'silent',
    ...extra,
  });
const createEstimator = () => ClassicalEstimator.create({ maxDepth: 5 });
const job = (worker: string, extra: Record<string, string> = {}, more = {}) =>
  LifelongLearning.create({
    createEstimator,
    config: env(worker, extra),
    taskDefinition: { method: 'TaskDefinitionByDataAttr', param: '{"attribute": ["season", "strategy"]}' },
    edgeDir: path.join(tmp, 'edge'),
    unseenSaveDir: path.join(tmp, 'unseen'),
    hotUpdate: true,
    pollPeriodMs: 3_600_000,
    ...more,
  });

it('trains, evaluates, drops the weak task, infers with unseen-task detection, and hot-updates', async () => {
  // train
  const trainer = await job('train-worker-abcde');
  const trained = await trainer.train(dataset(1, 120));
  await trainer.close();
  expect(trained.index.seen_task.task_groups.map((g) => [g.entry, g.model.entry, g.sample_num])).toEqual([
    ['autumn_AC', 'global', 5],
    ['spring_MM', 'spring_MM', 120],
    ['summer_AC', 'summer_AC', 120],
    ['winter_NV', 'winter_NV', 120],
  ]);
  expect(trained.index.seen_task.global_model?.model).toMatch(/\/knowledgebase\/file\/download\?files=global\.model/);
  expect(trained.kbIndexUrl).toBe(`${kb.url}/knowledgebase/file/download?files=index.pkl&name=index.pkl`);
  expect(kb.db.rows('ll_task_grp').map((r) => r.name)).toEqual(['autumn_AC', 'spring_MM', 'summer_AC', 'winter_NV']);
  const trainReport = lc.reports.at(-1)!.body as Record<string, unknown>;
  expect(trainReport).toEqual({
    name: 'train-worker-abcde',
    namespace: 'default',
    ownerName: 'atcii',
    ownerKind: 'lifelonglearningjob',
    kind: 'train',
    status: 'completed',
    results: [{ format: 'pkl', url: '/output/index.pkl', metrics: null }],
  });

  // eval: accuracy below 0.65 drops a task (the CRD's operator "<" and model_threshold)
  const evaluator = await job('eval-worker-fghij', {
    operator: '<',
    model_threshold: '0.65',
    metrics: 'precision_score',
    metric_param: '{"average": "micro"}',
  });
  const evaluated = await evaluator.evaluate(dataset(2, 60));
  await evaluator.close();
  expect(evaluated.dropped).toEqual(['spring_MM']);
  expect(evaluated.tasks.find((t) => t.entry === 'summer_AC')!.scores.precision_score).toBeGreaterThan(0.85);
  const evalReport = lc.reports.at(-1)!.body as {
    kind: string;
    results: { format: string; url: string; metrics: Record<string, number> }[];
  };
  expect(evalReport.kind).toBe('eval');
  expect(evalReport.results).toEqual([
    { format: 'pkl', url: '/output/index.pkl', metrics: { precision_score: evaluated.metrics.precision_score } },
  ]);
  expect(kb.db.rows('ll_task_grp').map((r) => [r.name, r.deploy])).toEqual([
    ['autumn_AC', 1],
    ['spring_MM', 0],
    ['summer_AC', 1],
    ['winter_NV', 1],
  ]);
  const kbIndex = parseKBIndex(await (await fetch(trained.kbIndexUrl!)).arrayBuffer().then((b) => new Uint8Array(b)));
  expect(kbIndex.seen_task.task_groups.find((g) => g.entry === 'spring_MM')!.deploy).toBe(false);

  // inference at the edge, from the eval worker's index
  const edge = await job('inferworker-klmno', { MODEL_URLS: path.join(tmp, 'output', 'index.pkl') });
  const updates: string[] = [];
  edge.on('indexUpdate', (u) => updates.push(u.version));
  const out = await edge.inference({
    columns,
    rows: [
      ['summer', 'AC', 30, 40],
      ['winter', 'NV', 30, 70],
      ['spring', 'MM', 30, 70],
      ['polar', 'NV', 30, 70],
    ],
  });
  expect(out.result.slice(0, 2)).toEqual([1, 1]);
  expect(out.unseen).toEqual([false, false, false, true]);
  expect(out.isUnseenTask).toBe(true);
  expect(out.tasks.map((t) => [t.entry, t.rows])).toEqual([
    ['global', [3]],
    ['global', [2]],
    ['summer_AC', [0]],
    ['winter_NV', [1]],
  ]);
  const saved = JSON.parse(await fsp.readFile(out.unseenSavedTo!, 'utf8')) as { samples: { sample: unknown[] }[] };
  expect(saved.samples.map((s) => s.sample)).toEqual([['polar', 'NV', 30, 70]]);
  const firstVersion = edge.version;

  // a broken index keeps the old models serving; a new good one swaps and is announced
  await fsp.writeFile(path.join(tmp, 'output', 'index.pkl'), '{"format": "sedna-sdk/kb-index", "version": 1');
  const failed = await edge.pollIndex();
  expect(failed.kind).toBe('failed');
  expect(edge.version).toBe(firstVersion);
  expect((await edge.inference({ columns, rows: [['summer', 'AC', 30, 40]] })).result).toEqual([1]);
  const retrainer = await job('train-worker-pqrst');
  await retrainer.train(dataset(3, 80));
  await retrainer.close();
  const updated = await edge.pollIndex();
  expect(updated.kind).toBe('updated');
  expect(updates).toHaveLength(1);
  expect(edge.version).not.toBe(firstVersion);
  expect((await edge.inference({ columns, rows: [['winter', 'NV', 10, 75]] })).version).toBe(edge.version);
  await edge.close();
});

it('updates: stored samples join the new data, touched groups retrain, the others keep model and deploy flag', async () => {
  const trainer = await job('train-worker-abcde');
  const first = await trainer.train(dataset(1, 120));
  await trainer.close();
  expect(first.action).toBe('initial');
  // Each task's samples are in the KB, named by Sedna's pattern, and the index points at them.
  const summerTask = first.index.seen_task.task_groups.find((g) => g.entry === 'summer_AC')!.tasks[0]!;
  expect(summerTask.samples.data_url).toBe(
    `${kb.url}/knowledgebase/file/download?files=train_summer_AC.sample.json&name=train_summer_AC.sample.json`,
  );
  expect(kb.db.rows('ll_samples').map((r) => r.data_url)).toContain(summerTask.samples.data_url);
  const evaluator = await job('eval-worker-fghij', { operator: '<', model_threshold: '0.65' });
  expect((await evaluator.evaluate(dataset(2, 60))).dropped).toEqual(['spring_MM']);
  await evaluator.close();
  const winterModel = path.join(tmp, 'kb', 'winter_NV.model');
  const winterWritten = (await fsp.stat(winterModel)).mtimeMs;

  // New samples: summer_AC only, three more of the rare autumn_AC, and a new task autumn_NV.
  const fresh = dataset(4, 40);
  const summer = fresh.rows.flatMap((r, i) => (r[0] === 'summer' ? [i] : []));
  const autumn = fresh.rows.flatMap((r, i) => (r[0] === 'autumn' ? [i] : [])).slice(0, 3);
  const picked = [...summer, ...autumn];
  const update = {
    columns,
    rows: [...picked.map((i) => fresh.rows[i]!), ...Array.from({ length: 30 }, (_, i) => ['autumn', 'NV', 20, 30 + i])],
    y: [...picked.map((i) => fresh.y[i]!), ...Array.from({ length: 30 }, (_, i) => (i >= 15 ? 1 : 0))],
  };
  const updater = await job('train-worker-uvwxy', { HAS_COMPLETED_INITIAL_TRAINING: 'true' });
  const second = await updater.train(update);
  await updater.close();
  expect(second.action).toBe('update');
  expect(second.retrained).toEqual(['autumn_NV', 'summer_AC']);
  expect(second.kept).toEqual(['spring_MM', 'winter_NV']);
  const groups = new Map(second.index.seen_task.task_groups.map((g) => [g.entry, g]));
  expect([...groups].map(([e, g]) => [e, g.sample_num, g.model.entry, g.deploy])).toEqual([
    ['autumn_AC', 8, 'global', true],
    ['autumn_NV', 30, 'autumn_NV', true],
    ['spring_MM', 120, 'spring_MM', false],
    ['summer_AC', 160, 'summer_AC', true],
    ['winter_NV', 120, 'winter_NV', true],
  ]);
  const before = first.index.seen_task.task_groups.find((g) => g.entry === 'winter_NV')!;
  // The same model file and training result; only its position in the index moved (a new group sorts before it).
  expect(groups.get('winter_NV')!.model).toEqual({ ...before.model, index: 4 });
  expect((await fsp.stat(winterModel)).mtimeMs).toBe(winterWritten);
  // The drop survives the update in the KB too; the retrained group is deployed.
  expect(kb.db.rows('ll_task_grp').map((r) => [r.name, r.deploy, r.sample_num])).toEqual([
    ['autumn_AC', 1, 8],
    ['spring_MM', 0, 120],
    ['summer_AC', 1, 160],
    ['winter_NV', 1, 120],
    ['autumn_NV', 1, 30],
  ]);
  const stored = JSON.parse(await fsp.readFile(path.join(tmp, 'kb', 'train_summer_AC.sample.json'), 'utf8')) as {
    rows: unknown[];
    columns: string[];
  };
  expect(stored.rows).toHaveLength(160);
  expect(stored.columns).toEqual(['t', 'h']);

  // An update in other columns, or without an index to build on, is refused and reported failed.
  const wrong = await job('train-worker-z', {}, {});
  const err = await rejectionOf(
    wrong.train({ columns: ['season', 'strategy', 't'], rows: [['summer', 'AC', 1]], y: [0] }, { action: 'update' }),
  );
  expect(err.code).toBe('SEDNA_ERR_TASK_DATA');
  expect(err.message).toContain('"h"');
  await fsp.rm(path.join(tmp, 'output', 'index.pkl'));
  expect((await rejectionOf(wrong.train(update, { action: 'update' }))).code).toBe('SEDNA_ERR_KB_NO_INDEX');
  expect((lc.reports.at(-1)!.body as { status: string }).status).toBe('failed');
  await wrong.close();
});

it('reports a failed train when the data lacks the attribute columns, and refuses a Python index at the edge', async () => {
  const trainer = await job('train-worker-abcde');
  const err = await rejectionOf(trainer.train({ columns: ['t', 'h'], rows: [[1, 2]], y: [0] }));
  expect(err.code).toBe('SEDNA_ERR_TASK_DATA');
  expect((lc.reports.at(-1)!.body as { kind: string; status: string }).status).toBe('failed');
  await trainer.close();
  await fsp.mkdir(path.join(tmp, 'py'), { recursive: true });
  await fsp.writeFile(path.join(tmp, 'py', 'index.pkl'), Buffer.from('80047d942e', 'hex'));
  const edge = await job('inferworker-x', { MODEL_URLS: path.join(tmp, 'py', 'index.pkl') });
  expect((await rejectionOf(edge.inference({ columns, rows: [['a', 'b', 1, 2]] }))).code).toBe('SEDNA_ERR_KB_INDEX');
  await edge.close();
  expect((await rejectionOf(job('x', {}, { unseenTaskDetect: { method: 'NoSuchFilter', param: {} } }))).code).toBe(
    'SEDNA_ERR_UNKNOWN_ALGORITHM',
  );
});
