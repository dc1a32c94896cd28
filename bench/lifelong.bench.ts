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
import { KBClient } from '../src/service/client/kb-client.js';
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

// 2. inference
const done = trained as NonNullable<typeof trained>;
const deployed: DeployedModels = {
  allocation: new TaskMiningByDataAttr({ task_extractor: done.extractor }),
  groupOfTask: new Map(done.groups.map((g, i) => [g.entry, i])),
  groups: done.groups.map((g) => ({ entry: g.entry, estimator: g.estimator })),
  fallback: undefined,
};
const bare = done.groups[0]!.estimator as ClassicalEstimator;
const batch = rows.slice(0, 1000);
const features = batch.map((r) => r.slice(1) as number[]);
const bareBatch = await best(20, () => bare.predict(features));
const llBatch = await best(20, () => mtl.predict({ columns, rows: batch }, deployed));
console.log(
  `batch of 1000: bare predict ${bareBatch.toFixed(2)} ms, task-aware ${llBatch.toFixed(2)} ms, ratio ${(llBatch / bareBatch).toFixed(3)} (goal ≤ 1.1)`,
);
const single = async (fn: (i: number) => Promise<unknown>): Promise<number> => {
  for (let i = 0; i < 2000; i++) await fn(i % 1000);
  const t0 = performance.now();
  for (let i = 0; i < 20000; i++) await fn(i % 1000);
  return ((performance.now() - t0) * 1000) / 20000;
};
const bareOne = await single((i) => bare.predict([features[i]!]));
const llOne = await single((i) => mtl.predict({ columns, rows: [batch[i]!] }, deployed));
console.log(
  `single sample: bare ${bareOne.toFixed(1)} µs, task-aware ${llOne.toFixed(1)} µs, added ${(llOne - bareOne).toFixed(1)} µs (goal ≤ 20)`,
);

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
const copy = await best(3, () => fsp.copyFile(big, path.join(tmp, 'copy.bin')));
let peak = 0;
const base = process.memoryUsage().rss;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss - base)), 20);
const upload = await best(3, () => client.uploadFile(big, 'model.bin'));
clearInterval(sampler);
const mb = 200;
console.log(
  `upload ${mb} MB: disk copy ${(mb / (copy / 1000)).toFixed(0)} MB/s, KB upload ${(mb / (upload / 1000)).toFixed(0)} MB/s, ratio ${(copy / upload).toFixed(3)} (goal ≥ 0.5); RSS growth ${(peak / 1048576).toFixed(1)} MB (goal ≤ 32)`,
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
