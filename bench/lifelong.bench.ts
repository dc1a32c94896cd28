/**
 * Lifelong learning benchmarks (issue 14), each a ratio against a baseline measured in this run:
 * 1. multi-task training vs training the same task models directly with the estimator;
 * 2. task-aware inference vs a bare model predict (batch ratio; added µs per single-sample call);
 * 3. the knowledge base: `file/upload` of a 200 MB model vs a local disk copy (and RSS growth),
 *    `update` of an index with 1,000 task groups.
 * Run: npm run bench -- lifelong
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  MultiTaskLearning,
  TaskDefinitionByDataAttr,
  TaskMiningByDataAttr,
  type DeployedModels,
} from '../src/algorithms/multi-task-learning/index.js';
import { ClassicalEstimator } from '../src/backend/classical.js';
import { configureLogger } from '../src/common/logger.js';
import type { KBIndex } from '../src/datasources/kb-index.js';
import { KBClient, multipartFile } from '../src/service/client/kb-client.js';
import { KBServer } from '../src/service/server/kb-server.js';

configureLogger({ level: 'silent' });
const TASKS = 6;
const PER_TASK = 300;

let seed = 7;
const rand = (): number => {
  seed = (seed * 16807) % 2147483647;
  return seed / 2147483647;
};
const columns = ['task', 'a', 'b', 'c', 'd'];
const rows: (string | number)[][] = [];
const y: number[] = [];
for (let t = 0; t < TASKS; t++) {
  for (let i = 0; i < PER_TASK; i++) {
    const f = [rand(), rand(), rand(), rand()];
    rows.push([`task${t}`, ...f]);
    y.push((f[t % 4] as number) > 0.5 ? 1 : 0);
  }
}
const create = () => ClassicalEstimator.create({ maxDepth: 6 });
const best = async (runs: number, fn: () => Promise<unknown>): Promise<number> => {
  let min = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    min = Math.min(min, performance.now() - t0);
  }
  return min;
};

// 1. training
const mtl = new MultiTaskLearning({
  taskDefinition: new TaskDefinitionByDataAttr({ attribute: ['task'] }),
  minTrainSample: 10,
});
const direct = await best(3, async () => {
  for (let t = 0; t < TASKS; t++) {
    const e = await create();
    await e.train({
      x: rows.slice(t * PER_TASK, (t + 1) * PER_TASK).map((r) => r.slice(1) as number[]),
      y: y.slice(t * PER_TASK, (t + 1) * PER_TASK),
    });
  }
});
let trained: Awaited<ReturnType<typeof mtl.train>> | undefined;
const multi = await best(3, async () => {
  trained = await mtl.train({ columns, rows, y }, { createEstimator: create });
});
console.log(
  `train ${TASKS} tasks × ${PER_TASK}: direct ${direct.toFixed(0)} ms, LifelongLearning engine ${multi.toFixed(0)} ms, ratio ${(multi / direct).toFixed(3)} (goal ≤ 1.2)`,
);

// 2. inference. The baseline is the same task models predicting their own rows, already split and
// without the attribute column (built outside the timing): what remains is the routing (task
// lookup, splitting, merging; the classical models read their features from the input rows, so no
// feature rows are built on the task-aware side either). Baseline and task-aware runs alternate,
// so load hits both alike.
const batch = rows.slice(0, 1000);
const features = batch.map((r) => r.slice(1) as number[]);
const shuffled = batch.slice();
for (let i = shuffled.length - 1; i > 0; i--) {
  const j = Math.floor(rand() * (i + 1));
  [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
}
const alternate = async (
  runs: number,
  a: () => Promise<unknown>,
  b: () => Promise<unknown>,
): Promise<[number, number]> => {
  let bestA = Infinity;
  let bestB = Infinity;
  for (let i = 0; i < runs; i++) {
    let t0 = performance.now();
    await a();
    bestA = Math.min(bestA, performance.now() - t0);
    t0 = performance.now();
    await b();
    bestB = Math.min(bestB, performance.now() - t0);
  }
  return [bestA, bestB];
};
async function inference(label: string, outcome: Awaited<ReturnType<typeof mtl.train>>): Promise<void> {
  const deployed: DeployedModels = {
    allocation: new TaskMiningByDataAttr({ task_extractor: outcome.extractor }),
    groupOfTask: new Map(outcome.groups.map((g, i) => [g.entry, i])),
    groups: outcome.groups.map((g) => ({ entry: g.entry, estimator: g.estimator })),
    fallback: undefined,
  };
  const modelOf = (row: number) => outcome.groups[Math.floor(row / PER_TASK)]!.estimator as ClassicalEstimator;
  const parts = outcome.groups
    .map((g, t) => ({ model: g.estimator as ClassicalEstimator, x: features.slice(t * PER_TASK, (t + 1) * PER_TASK) }))
    .filter((p) => p.x.length > 0);
  // In task order (each task's rows together, as the data was generated), then the same rows
  // shuffled: every task's rows scattered through the batch, so no row finds its task by matching
  // the row before it. The baseline is the same either way (the models' own rows).
  for (const [order, rows] of [
    [`batch of 1000 (${parts.length} tasks)`, batch],
    ['the same batch shuffled', shuffled],
  ] as const) {
    const [bare, routed] = await alternate(
      200,
      async () => {
        for (const p of parts) await p.model.predict(p.x);
      },
      () => mtl.predict({ columns, rows }, deployed),
    );
    console.log(
      `${label}, ${order}: the task models directly ${bare.toFixed(3)} ms, task-aware ${routed.toFixed(3)} ms, ratio ${(routed / bare).toFixed(3)} (goal ≤ 1.1); added ${(((routed - bare) * 1e6) / rows.length).toFixed(0)} ns/sample`,
    );
  }
  const CALLS = 5000;
  const [bareOne, routedOne] = await alternate(
    9,
    async () => {
      for (let i = 0; i < CALLS; i++) await modelOf(i % 1000).predict([features[i % 1000]!]);
    },
    async () => {
      for (let i = 0; i < CALLS; i++) await mtl.predict({ columns, rows: [batch[i % 1000]!] }, deployed);
    },
  );
  const us = (ms: number): number => (ms * 1000) / CALLS;
  console.log(
    `${label}, single sample: the task model directly ${us(bareOne).toFixed(2)} µs, task-aware ${us(routedOne).toFixed(2)} µs, added ${(us(routedOne) - us(bareOne)).toFixed(2)} µs (goal ≤ 20)`,
  );
}
await inference('decision tree (depth 6)', trained as NonNullable<typeof trained>);
// A model of the size tabular jobs use (Sedna's thermal-comfort example: 600 boosted trees): the
// same routing against a 20-tree forest.
const forests = await mtl.train(
  { columns, rows, y },
  { createEstimator: () => ClassicalEstimator.create({ algorithm: 'random-forest', nEstimators: 20, maxDepth: 6 }) },
);
await inference('random forest (20 trees)', forests);

// 3. the knowledge base
const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'll-bench-'));
const kb = await KBServer.create({
  dir: path.join(tmp, 'kb'),
  dbUrl: `sqlite:///${path.join(tmp, 'kb.sqlite3')}`,
  port: 0,
  host: '127.0.0.1',
});
const client = new KBClient({ kbServer: await kb.listen() });
const big = path.join(tmp, 'model.bin');
const chunk = Buffer.alloc(8 * 1024 * 1024, 3);
const fd = fs.openSync(big, 'w');
for (let i = 0; i < 25; i++) fs.writeSync(fd, chunk);
fs.closeSync(fd);
// The KB makes an upload durable (fsync before the rename), so the baseline is a durable copy
// (copyFile, then fsync); a plain copyFile (page cache only) is printed beside it. Copies and
// uploads alternate; RSS is sampled from after a small warm-up upload.
const durableCopy = async (): Promise<void> => {
  const target = path.join(tmp, 'copy.bin');
  await fsp.copyFile(big, target);
  const handle = await fsp.open(target, 'r+');
  await handle.sync();
  await handle.close();
};
// The warm-up is a small file: it loads the code paths without leaving a 200 MB heap behind that
// would hide a buffered upload.
const small = path.join(tmp, 'small.bin');
await fsp.writeFile(small, chunk);
await client.uploadFile(small, 'small.bin');
let peak = 0;
const base = process.memoryUsage().rss;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss - base)), 10);
const [copy, upload] = await alternate(3, durableCopy, () => client.uploadFile(big, 'model.bin'));
clearInterval(sampler);
const plainCopy = await best(3, () => fsp.copyFile(big, path.join(tmp, 'copy.bin')));
// The server alone: the same multipart body from a bare node:http request.
const rawUpload = (): Promise<void> =>
  new Promise((resolve, reject) => {
    const { body, headers } = multipartFile('file', 'raw.bin', {
      size: fs.statSync(big).size,
      stream: () => fs.createReadStream(big, { highWaterMark: 1 << 20 }),
    });
    const req = http.request(`${client.base}/file/upload`, { method: 'POST', headers }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
    });
    req.on('error', reject);
    body.pipe(req);
  });
const raw = await best(3, rawUpload);
const mb = 200;
const rate = (ms: number): string => (mb / (ms / 1000)).toFixed(0);
console.log(
  `upload ${mb} MB: durable disk copy ${rate(copy)} MB/s (plain copyFile ${rate(plainCopy)} MB/s), KB upload ${rate(upload)} MB/s, ratio ${(copy / upload).toFixed(3)} (goal ≥ 0.5; ${(plainCopy / upload).toFixed(3)} against the plain copy); raw node:http client ${rate(raw)} MB/s; RSS growth ${(peak / 1048576).toFixed(1)} MB (goal ≤ 32)`,
);
const index: KBIndex = {
  format: 'sedna-sdk/kb-index',
  version: 1,
  create_time: '1',
  seen_task: {
    extractor: { method: 'TaskDefinitionByDataAttr', attribute: ['task'], entries: {} },
    task_groups: Array.from({ length: 1000 }, (_, i) => ({
      entry: `task${i}`,
      tasks: [
        { entry: `task${i}`, meta_attr: [`task${i}`], samples: { data_type: 'train', data_url: '', sample_num: 100 } },
      ],
      sample_num: 100,
      model: {
        index: i,
        entry: `task${i}`,
        model: `/models/task${i}.model`,
        format: 'json',
        result: { accuracy: 0.9 },
        meta_attr: [[`task${i}`]],
      },
      deploy: true,
    })),
    global_model: null,
  },
  unseen_task: { extractor: null, task_groups: [] },
};
const update = await best(3, () => client.updateDb(index));
console.log(`update with 1,000 task groups: ${update.toFixed(0)} ms (goal < 1000)`);
client.close();
await kb.close();
await fsp.rm(tmp, { recursive: true, force: true });
