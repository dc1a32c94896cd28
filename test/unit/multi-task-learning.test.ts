/**
 * Multi-task learning, unseen-task detection and the classification metrics, against hand-computed
 * cases and Sedna's edge cases (spec §3.5, §3.7, §11.1 items 11-13).
 */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  DefaultInferenceIntegrate,
  DefaultTaskRemodeling,
  MultiTaskLearning,
  TaskDefinitionByDataAttr,
  TaskDefinitionBySVC,
  TaskMiningByDataAttr,
  TaskMiningBySVC,
  MAX_REMEMBERED_COMBINATIONS,
  attributeEntry,
  createStep,
  evaluateTasks,
  toTaskTable,
  type DeployedModels,
  type TaskAllocation,
} from '../../src/algorithms/multi-task-learning/index.js';
import { ModelProbeFilter, TaskAttrFilter } from '../../src/algorithms/unseen-task-detect/index.js';
import { ClassicalEstimator } from '../../src/backend/classical.js';
import { classificationMetric } from '../../src/backend/classification-metrics.js';
import { asEstimator } from '../../src/backend/registry.js';
import type { Estimator } from '../../src/backend/estimator.js';
import { ClassFactory, ClassType } from '../../src/common/class-factory.js';
import { CSVDataParse } from '../../src/datasources/csv.js';
import { errorOf, rejectionOf } from '../helpers/errors.js';

const columns = ['season', 'strategy', 't', 'h'];
// Two tasks: summer_AC (label = t > 25), winter_NV (label = h > 50); one row of a third, rare task.
const rows: (string | number)[][] = [];
const y: number[] = [];
for (let i = 0; i < 40; i++) {
  const t = 18 + (i % 14);
  const h = 30 + ((i * 7) % 40);
  rows.push(['summer', 'AC', t, h]);
  y.push(t > 25 ? 1 : 0);
  rows.push(['winter', 'NV', t, h]);
  y.push(h > 50 ? 1 : 0);
}
rows.push(['spring', 'MM', 20, 40]);
y.push(0);
const table = { columns, rows, y };

/** A user model that answers its own name for every row (to see which model answered). */
function named(name: string): Estimator {
  return asEstimator({
    train: () => ({}),
    predict: (x: unknown) => (x as unknown[]).map(() => name),
    evaluate: () => ({}),
    save: () => undefined,
    load: () => undefined,
  });
}

describe('TaskDefinitionByDataAttr', () => {
  it('builds entries as Sedna does: values as strings, "_" → "-", joined by "_", spaces removed', () => {
    expect(attributeEntry(['a_b c', 3, 'x'])).toBe('a-bc_3_x');
  });

  it('reads a parsed CSVDataParse: its columns, its samples and labels', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'mtl-csv-'));
    try {
      const file = path.join(dir, 'data.csv');
      await fsp.writeFile(file, 'season,t,label\nsummer,30,1\nwinter,10,0\n');
      const parsed = await new CSVDataParse('train', { label: 'label' }).parse(file);
      const out = new TaskDefinitionByDataAttr({ attribute: ['season'] }).define(toTaskTable(parsed));
      expect(out.tasks.map((t) => [t.entry, t.samples.columns, t.samples.rows, t.samples.y])).toEqual([
        ['summer', ['t'], [[30]], [1]],
        ['winter', ['t'], [[10]], [0]],
      ]);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it('splits by attribute values, drops the attribute columns, and records the extractor', () => {
    const def = new TaskDefinitionByDataAttr({ attribute: '["season", "strategy"]' });
    const out = def.define(table);
    expect(out.tasks.map((t) => [t.entry, t.rows.length, t.metaAttr])).toEqual([
      ['spring_MM', 1, ['spring', 'MM']],
      ['summer_AC', 40, ['summer', 'AC']],
      ['winter_NV', 40, ['winter', 'NV']],
    ]);
    expect(out.samples.columns).toEqual(['t', 'h']);
    expect(out.tasks[1]!.samples.rows[0]).toEqual([18, 30]);
    // Labels follow the rows by position (Sedna's iloc-by-label bug does not apply).
    expect(out.tasks[2]!.samples.y).toEqual(y.filter((_, i) => i % 2 === 1 && i < 80));
    expect(out.extractor).toEqual({
      method: 'TaskDefinitionByDataAttr',
      attribute: ['season', 'strategy'],
      entries: { spring_MM: 0, summer_AC: 1, winter_NV: 2 },
    });
  });

  it('accepts the attribute list as a list, a JSON string or comma-separated names', () => {
    for (const attribute of [['season', 'strategy'], '["season","strategy"]', 'season, strategy']) {
      expect(new TaskDefinitionByDataAttr({ attribute }).attribute).toEqual(['season', 'strategy']);
    }
    expect(errorOf(() => new TaskDefinitionByDataAttr({ attribute: '[1, 2' })).code).toBe(
      'SEDNA_ERR_INVALID_ALGORITHM_PARAM',
    );
    expect(errorOf(() => new TaskDefinitionByDataAttr({})).code).toBe('SEDNA_ERR_INVALID_ALGORITHM_PARAM');
  });

  it('names the attribute columns a training set lacks', () => {
    const err = errorOf(() => new TaskDefinitionByDataAttr({ attribute: ['season', 'city'] }).define(table));
    expect(err.code).toBe('SEDNA_ERR_TASK_DATA');
    expect(err.message).toContain('"city"');
  });
});

describe('task mining and remodeling', () => {
  const defined = new TaskDefinitionByDataAttr({ attribute: ['season', 'strategy'] }).define(table);

  it('maps an unknown combination to no task (Sedna: silently task 0)', () => {
    const mining = new TaskMiningByDataAttr({ task_extractor: defined.extractor });
    const out = mining.allocate({
      columns,
      rows: [
        ['winter', 'NV', 1, 2],
        ['autumn', 'AC', 1, 2],
      ],
    });
    expect(out.tasks).toEqual(['winter_NV', undefined]);
    expect(out.metaAttr).toEqual([
      ['winter', 'NV'],
      ['autumn', 'AC'],
    ]);
    expect(out.samples.rows).toEqual([
      [1, 2],
      [1, 2],
    ]);
  });

  it('groups rows by task while allocating; two spellings of one value are one task, rows in order', () => {
    const mining = new TaskMiningByDataAttr({
      task_extractor: { method: 'TaskDefinitionByDataAttr', attribute: ['zone'], entries: { '1': 0, north_x: 1 } },
    });
    const out = mining.allocate({
      columns: ['v', 'zone'],
      rows: [
        [0, 1],
        [1, 'north_x'],
        [2, '1'],
        [3, 'south'],
        [4, 1],
        [5, 'north x'],
      ],
    });
    // Sedna's entry rule: "_" becomes "-", spaces vanish: "north_x" → "north-x" (unknown), "north x" → "northx".
    expect(out.tasks).toEqual(['1', undefined, '1', undefined, '1', undefined]);
    expect(out.rowsByTask).toEqual(
      new Map<string | undefined, number[]>([
        ['1', [0, 2, 4]],
        [undefined, [1, 3, 5]],
      ]),
    );
    expect(out.samples).toEqual({ columns: ['v'], rows: [[0], [1], [2], [3], [4], [5]], y: undefined });
    const subsets = new DefaultTaskRemodeling().remodel(out, new Map([['1', 0]]));
    expect(subsets.map((s) => [s.group, s.rows])).toEqual([
      [-1, [1, 3, 5]],
      [0, [0, 2, 4]],
    ]);
  });

  it('stays right past the remembered combinations, and after a row that fails', () => {
    const mining = new TaskMiningByDataAttr({
      task_extractor: { method: 'TaskDefinitionByDataAttr', attribute: ['a', 'b'], entries: { x_1: 0 } },
    });
    const many = Array.from({ length: MAX_REMEMBERED_COMBINATIONS + 50 }, (_, i) => [`u${i}`, i, 0]);
    const out = mining.allocate({ columns: ['a', 'b', 'f'], rows: [...many, ['x', 1, 7]] });
    expect(out.tasks.at(-1)).toBe('x_1');
    expect(out.tasks.filter((t) => t === undefined)).toHaveLength(many.length);
    expect(out.rowsByTask?.get('x_1')).toEqual([many.length]);
    const hostile = {
      toString(): string {
        throw new Error('no');
      },
    };
    expect(() =>
      mining.allocate({
        columns: ['a', 'b', 'f'],
        rows: [
          ['x', 1, 0],
          [hostile as never, 2, 0],
        ],
      }),
    ).toThrow();
    // The failed call left nothing behind: the next one groups only its own rows.
    const again = mining.allocate({ columns: ['a', 'b', 'f'], rows: [['x', 1, 0]] });
    expect(again.rowsByTask?.get('x_1')).toEqual([0]);
  });

  it('refuses an extractor of another definition', () => {
    expect(errorOf(() => new TaskMiningBySVC({ task_extractor: defined.extractor })).code).toBe(
      'SEDNA_ERR_INVALID_ALGORITHM_PARAM',
    );
  });

  it('remodels rows by answering group, unknown rows to the fallback subset -1', () => {
    const subsets = new DefaultTaskRemodeling().remodel(
      {
        tasks: ['b', undefined, 'a', 'b'],
        metaAttr: [null, null, null, null],
        samples: { columns: ['v'], rows: [[0], [1], [2], [3]] },
      },
      new Map([
        ['a', 0],
        ['b', 1],
      ]),
    );
    expect(subsets.map((s) => [s.group, s.rows, s.samples.rows])).toEqual([
      [-1, [1], [[1]]],
      [0, [2], [[2]]],
      [1, [0, 3], [[0], [3]]],
    ]);
    expect(
      new DefaultInferenceIntegrate().integrate(4, [
        { rows: [1], predictions: ['x'] },
        { rows: [0, 3], predictions: ['y', 'z'] },
        { rows: [2], predictions: ['w'] },
      ]),
    ).toEqual(['y', 'x', 'w', 'z']);
  });
});

describe('the engine', () => {
  const classical = () => ClassicalEstimator.create({ maxDepth: 4 });

  it('trains one model per group and a global model for rare groups (samples <= MIN_TRAIN_SAMPLE)', async () => {
    const mtl = new MultiTaskLearning({
      taskDefinition: { method: 'TaskDefinitionByDataAttr', param: { attribute: ['season', 'strategy'] } },
      minTrainSample: 10,
    });
    const out = await mtl.train(table, { createEstimator: classical });
    expect(out.groups.map((g) => [g.entry, g.rare, g.estimator === undefined])).toEqual([
      ['spring_MM', true, true],
      ['summer_AC', false, false],
      ['winter_NV', false, false],
    ]);
    expect(out.global).toBeDefined();
    expect(out.mining).toEqual({ method: 'TaskMiningByDataAttr', param: { attribute: ['season', 'strategy'] } });
    // Each task model learned its own rule: the summer model splits on t, the winter one on h.
    const summer = out.groups[1]!.estimator!;
    expect(
      await summer.predict([
        [30, 31],
        [20, 69],
      ]),
    ).toEqual([1, 0]);
    const winter = out.groups[2]!.estimator!;
    expect(
      await winter.predict([
        [30, 31],
        [20, 69],
      ]),
    ).toEqual([0, 1]);
  });

  it('keeps the models keepModel names (never a rare group), and trains the rest', async () => {
    const mtl = new MultiTaskLearning({
      taskDefinition: new TaskDefinitionByDataAttr({ attribute: ['season', 'strategy'] }),
      minTrainSample: 10,
    });
    const asked: string[] = [];
    const trainedModels: string[] = [];
    const out = await mtl.train(table, {
      createEstimator: classical,
      keepModel: (g) => {
        asked.push(`${g.entry}:${g.tasks.join('+')}`);
        return g.entry === 'winter_NV' || g.entry === 'spring_MM';
      },
      onModel: (entry) => trainedModels.push(entry),
    });
    expect(asked).toEqual(['summer_AC:summer_AC', 'winter_NV:winter_NV']);
    expect(out.groups.map((g) => [g.entry, g.rare, g.kept, g.estimator === undefined])).toEqual([
      ['spring_MM', true, false, true],
      ['summer_AC', false, false, false],
      ['winter_NV', false, true, true],
    ]);
    expect(trainedModels).toEqual(['summer_AC', 'global']);
  });

  it('trains no global model when no group is rare (globalModel auto), and one when asked', async () => {
    const mtl = new MultiTaskLearning({
      taskDefinition: new TaskDefinitionByDataAttr({ attribute: ['season', 'strategy'] }),
      minTrainSample: 0,
    });
    expect((await mtl.train(table, { createEstimator: classical })).global).toBeUndefined();
    expect((await mtl.train(table, { createEstimator: classical, globalModel: 'always' })).global).toBeDefined();
  });

  it('routes every row to its group model, unknown and rare ones to the fallback, and scores per model', async () => {
    const mtl = new MultiTaskLearning();
    const extractor = {
      method: 'TaskDefinitionByDataAttr',
      attribute: ['season'],
      entries: { summer: 0, winter: 1, spring: 2 },
    };
    const deployed: DeployedModels = {
      allocation: new TaskMiningByDataAttr({ task_extractor: extractor }),
      groupOfTask: new Map([
        ['summer', 0],
        ['winter', 1],
        ['spring', 2],
      ]),
      groups: [
        { entry: 'summer', estimator: named('S') },
        { entry: 'winter', estimator: named('W') },
        { entry: 'spring', estimator: undefined },
      ],
      fallback: { entry: 'global', estimator: named('G') },
    };
    const data = {
      columns: ['season', 'v'],
      rows: [
        ['winter', 1],
        ['summer', 2],
        ['autumn', 3],
        ['spring', 4],
      ],
      y: ['W', 'S', 'x', 'G'],
    };
    const out = await mtl.predict(data, deployed);
    expect(out.result).toEqual(['W', 'S', 'G', 'G']);
    expect(out.tasks.map((t) => [t.entry, t.group, t.rows])).toEqual([
      ['global', -1, [2]],
      ['summer', 0, [1]],
      ['winter', 1, [0]],
      ['global', -1, [3]],
    ]);
    const scored = await evaluateTasks(mtl, data, deployed, { accuracy: classificationMetric('accuracy') });
    expect(scored.metrics.accuracy).toBe(0.75);
    expect(scored.tasks.map((t) => [t.entry, t.scores.accuracy])).toEqual([
      ['global', 0],
      ['summer', 1],
      ['winter', 1],
      ['global', 1],
    ]);
    const noFallback = { ...deployed, fallback: undefined };
    expect((await rejectionOf(mtl.predict(data, noFallback))).code).toBe('SEDNA_ERR_MODEL_NOT_LOADED');
  });

  it('refuses training data without labels or columns, and unknown step names', async () => {
    const mtl = new MultiTaskLearning({ taskDefinition: new TaskDefinitionByDataAttr({ attribute: ['season'] }) });
    expect((await rejectionOf(mtl.train({ columns, rows }, { createEstimator: classical }))).code).toBe(
      'SEDNA_ERR_TASK_DATA',
    );
    expect((await rejectionOf(mtl.train({ x: rows, y }, { createEstimator: classical }))).code).toBe(
      'SEDNA_ERR_TASK_DATA',
    );
    expect(errorOf(() => new MultiTaskLearning({ taskDefinition: { method: 'TaskDefinitionByMagic' } })).code).toBe(
      'SEDNA_ERR_UNKNOWN_ALGORITHM',
    );
    expect(
      errorOf(() => createStep<TaskAllocation>({ method: 'TaskMiningByDataAttr', param: '{oops' }, 'x', 'allocate'))
        .code,
    ).toBe('SEDNA_ERR_INVALID_ALGORITHM_PARAM');
  });

  it('accepts records and CSV-like tables (columns from table.columns)', async () => {
    const mtl = new MultiTaskLearning({
      taskDefinition: new TaskDefinitionByDataAttr({ attribute: ['season', 'strategy'] }),
      minTrainSample: 0,
    });
    const records = rows.map((r) => Object.fromEntries(columns.map((c, i) => [c, r[i]!])));
    const a = await mtl.train({ x: records, y }, { createEstimator: classical });
    const b = await mtl.train({ table: { columns }, x: rows, y }, { createEstimator: classical });
    expect(a.groups.map((g) => g.entry)).toEqual(b.groups.map((g) => g.entry));
  });
});

describe('TaskDefinitionBySVC', () => {
  // Two well-separated clouds; a string column that the SVC must ignore.
  const cloud = (cx: number, n: number) =>
    Array.from({ length: n }, (_, i) => ['tag', cx + Math.sin(i) * 0.5, cx + Math.cos(i * 1.7) * 0.5]);
  const svcTable = {
    columns: ['tag', 'a', 'b'],
    rows: [...cloud(0, 30), ...cloud(10, 30)],
    y: Array.from({ length: 60 }, (_, i) => i % 2),
  };

  it('clusters the numeric columns into n_class tasks and the stored SVC recognises new samples', async () => {
    const def = new TaskDefinitionBySVC({ n_class: '2' });
    const out = await def.define(svcTable);
    expect(out.tasks.map((t) => [t.entry, t.rows.length])).toEqual([
      ['svc_0', 30],
      ['svc_1', 30],
    ]);
    expect(out.samples.columns).toEqual(['a', 'b']);
    expect(typeof out.extractor.model).toBe('string');
    const mining = new TaskMiningBySVC({ task_extractor: out.extractor });
    const allocated = await mining.allocate({
      columns: ['b', 'a', 'tag'],
      rows: [
        [0.2, 0.1, 'x'],
        [9.8, 10.3, 'y'],
      ],
    });
    expect(allocated.tasks).toEqual(['svc_0', 'svc_1']);
    await mining.close();
  });

  it('n_class below 2 becomes 2 (Sedna), and non-numeric data is refused with the columns named', async () => {
    expect(new TaskDefinitionBySVC({ n_class: 1 }).nClass).toBe(2);
    const err = await rejectionOf(
      Promise.resolve().then(() => new TaskDefinitionBySVC().define({ columns: ['s'], rows: [['a']], y: [0] })),
    );
    expect(err.code).toBe('SEDNA_ERR_TASK_DATA');
    const mining = new TaskMiningBySVC({
      task_extractor: (await new TaskDefinitionBySVC().define(svcTable)).extractor,
    });
    expect(
      (await rejectionOf(Promise.resolve().then(() => mining.allocate({ columns: ['a'], rows: [[1]] })))).code,
    ).toBe('SEDNA_ERR_TASK_DATA');
  });
});

describe('unseen task detection', () => {
  it('TaskAttrFilter flags exactly the samples of no known task', () => {
    const flags = new TaskAttrFilter().detect({
      tasks: ['a', undefined, 'b'],
      metaAttr: [['x'], ['y'], ['z']],
      predictions: [0, 0, 0],
      probabilities: [],
    });
    expect(flags).toEqual([false, true, false]);
  });

  it('ModelProbeFilter flags the samples the answering model is unsure of (max probability < threshold)', () => {
    const filter = new ModelProbeFilter({ threshold: '0.6' });
    expect(
      filter.detect({
        tasks: ['a', 'a', 'a'],
        metaAttr: [null, null, null],
        predictions: [[0.9, 0.1], 1, 0],
        probabilities: [undefined, [0.55, 0.45], [0.2, 0.8]],
      }),
    ).toEqual([false, true, false]);
    expect(
      errorOf(() => filter.detect({ tasks: ['a'], metaAttr: [null], predictions: [1], probabilities: [undefined] }))
        .code,
    ).toBe('SEDNA_ERR_INVALID_ARGUMENT');
    expect(errorOf(() => new ModelProbeFilter({ threshold: 2 })).code).toBe('SEDNA_ERR_INVALID_ALGORITHM_PARAM');
  });

  it('registers Sedna names for every step and detector', () => {
    expect(ClassFactory.names(ClassType.MTL)).toEqual(
      expect.arrayContaining([
        'TaskDefinitionByDataAttr',
        'TaskDefinitionBySVC',
        'DefaultTaskRelationDiscover',
        'TaskMiningByDataAttr',
        'TaskMiningBySVC',
        'TaskAllocationByDataAttr',
        'TaskAllocationBySVC',
        'DefaultTaskRemodeling',
        'DefaultInferenceIntegrate',
      ]),
    );
    expect(ClassFactory.names(ClassType.UTD)).toEqual(expect.arrayContaining(['TaskAttrFilter', 'ModelProbeFilter']));
  });
});

describe('classification metrics (scikit-learn names)', () => {
  const t = [0, 0, 1, 1, 2, 2];
  const p = [0, 1, 1, 1, 0, 2];

  it('micro precision is accuracy; macro and weighted average the per-class scores', () => {
    expect(classificationMetric('precision_score')(t, p)).toBeCloseTo(4 / 6);
    // per class precision: 0 → 1/2, 1 → 2/3, 2 → 1/1
    expect(classificationMetric('precision_score', { average: 'macro' })(t, p)).toBeCloseTo((1 / 2 + 2 / 3 + 1) / 3);
    // per class recall: 0 → 1/2, 1 → 2/2, 2 → 1/2; weights equal (2 each)
    expect(classificationMetric('recall_score', { average: 'weighted' })(t, p)).toBeCloseTo((0.5 + 1 + 0.5) / 3);
    expect(classificationMetric('f1_score', { average: 'micro' })(t, p)).toBeCloseTo(4 / 6);
    expect(classificationMetric('accuracy_score')(['a', 'b'], ['a', 'a'])).toBe(0.5);
    expect(errorOf(() => classificationMetric('log_loss')).code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
    expect(errorOf(() => classificationMetric('precision_score', { average: 'samples' })).code).toBe(
      'SEDNA_ERR_INVALID_ARGUMENT',
    );
  });
});

describe('the classical estimator', () => {
  const x = Array.from({ length: 60 }, (_, i) => [i % 10, (i * 3) % 7]);
  const labels = x.map(([a]) => (a! >= 5 ? 'high' : 'low'));

  it.each(['decision-tree', 'random-forest'] as const)(
    '%s: trains, predicts classes and probabilities, saves JSON and loads it',
    async (algorithm) => {
      const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'classical-'));
      const est = await ClassicalEstimator.create({ algorithm, nEstimators: 5 });
      const metrics = await est.train({ x, y: labels });
      expect(metrics.accuracy).toBeGreaterThan(0.95);
      expect(
        await est.predict([
          [9, 0],
          [1, 0],
        ]),
      ).toEqual(['high', 'low']);
      const proba = await est.predictProba([[9, 0]]);
      expect(proba[0]![est.classes.indexOf('high')]).toBeGreaterThan(0.5);
      const file = await est.save(path.join(dir, 'm.json'));
      const text = await fsp.readFile(file, 'utf8');
      expect(JSON.parse(text)).toMatchObject({
        format: 'sedna-sdk/classical-model',
        version: 1,
        algorithm,
        classes: ['low', 'high'],
      });
      const again = await ClassicalEstimator.create({ algorithm, modelUrl: file });
      expect(await again.predict(x)).toEqual(await est.predict(x));
      await fsp.writeFile(path.join(dir, 'bad.json'), '{"format": "nope"}');
      expect((await rejectionOf(again.load(path.join(dir, 'bad.json')))).code).toBe('SEDNA_ERR_MODEL_INVALID');
      expect(await again.predict(x.slice(0, 2))).toHaveLength(2); // the failed load kept the model
      await fsp.rm(dir, { recursive: true });
    },
  );

  it('refuses non-numeric cells, ragged rows and missing labels with coded errors', async () => {
    const est = await ClassicalEstimator.create();
    expect((await rejectionOf(est.train({ x: [[1, 'a' as unknown as number]], y: [0] }))).code).toBe(
      'SEDNA_ERR_DATA_FORMAT',
    );
    expect((await rejectionOf(est.train({ x: [[1, 2], [1]], y: [0, 1] }))).code).toBe('SEDNA_ERR_DATA_FORMAT');
    expect((await rejectionOf(est.train({ x: [[1, 2]] }))).code).toBe('SEDNA_ERR_DATA_FORMAT');
    expect((await rejectionOf(est.predict([[1, 2]]))).code).toBe('SEDNA_ERR_MODEL_NOT_LOADED');
    await est.train({ x, y: labels });
    expect((await rejectionOf(est.predict([[1, 2, 3]]))).code).toBe('SEDNA_ERR_DATA_FORMAT');
  });
});
