/**
 * Property tests for task-aware batch inference (MultiTaskLearning.predict with the built-in
 * TaskMiningByDataAttr, DefaultTaskRemodeling and DefaultInferenceIntegrate): on random tables
 * (random column orders, attribute values the index knows and values it never saw, one task's
 * rows anywhere in the batch, in runs or scattered, array and Float64Array rows, now and then a
 * bad feature cell) the engine gives exactly what a straightforward reference gives: each row's
 * task, attribute values, features and prediction, the rows each model answered, and the same
 * error when a model refuses its rows. The reference builds every row's feature array and calls
 * `predict` on each model's rows; the engine lets the classical models read their features from
 * the input rows.
 */
import fc from 'fast-check';
import {
  MAX_REMEMBERED_COMBINATIONS,
  MultiTaskLearning,
  TaskMiningByDataAttr,
  type Cell,
  type DeployedModels,
  type Row,
} from '../../src/algorithms/multi-task-learning/index.js';
import { ClassicalEstimator } from '../../src/backend/classical.js';
import type { Estimator } from '../../src/backend/estimator.js';
import { asEstimator } from '../../src/backend/registry.js';
import { SednaError } from '../../src/common/errors.js';

/** Attribute values: spellings that meet in one entry (1 and "1", "a_b" and "a-b", "x y" and "xy"), 0 and -0, NaN. */
const POOL: readonly Cell[] = ['summer', 'winter', 'a_b', 'a-b', 'x y', 'xy', '1', 1, 0, -0, 2.5, NaN, 'NaN', ''];
const MAX_FEATURES = 4;
const GROUPS = 4;

/** Sedna's entry rule, written out again here: values as strings, "_" → "-", joined by "_", no spaces. */
function referenceEntry(values: readonly Cell[]): string {
  return values
    .map((v) => String(v).replaceAll('_', '-'))
    .join('_')
    .replaceAll(' ', '');
}

/** The same text in a new string object (rows parsed from a file never share their strings). */
function fresh(value: Cell): Cell {
  return typeof value === 'string' ? value.split('').join('') : value;
}

function showNumber(v: unknown): string {
  return Object.is(v, -0) ? '-0' : String(v);
}

/** A model that answers the features it was given, to see that each row reaches it intact. */
const echo: Estimator = asEstimator({
  train: () => ({}),
  predict: (x: unknown) => (x as ArrayLike<unknown>[]).map((row) => Array.from(row, showNumber).join('|')),
  evaluate: () => ({}),
  save: () => undefined,
  load: () => undefined,
});

type ModelName = 'tree0' | 'tree1' | 'echo' | 'none';
const trees = new Map<string, ClassicalEstimator>();

beforeAll(async () => {
  let seed = 11;
  const rand = (): number => {
    seed = (seed * 16807) % 2147483647;
    return seed / 2147483647;
  };
  for (let width = 1; width <= MAX_FEATURES; width++) {
    const x = Array.from({ length: 200 }, () => Array.from({ length: width }, () => (rand() - 0.5) * 2e6));
    const tree0 = await ClassicalEstimator.create({ maxDepth: 4 });
    await tree0.train({ x, y: x.map((r) => (r[0]! > 0 ? 1 : 0)) });
    const tree1 = await ClassicalEstimator.create({ maxDepth: 4 });
    await tree1.train({ x, y: x.map((r) => (r[width - 1]! + r[0]! > 1000 ? 'hi' : 'lo')) });
    trees.set(`tree0/${width}`, tree0);
    trees.set(`tree1/${width}`, tree1);
  }
});

afterAll(async () => {
  for (const tree of trees.values()) await tree.close();
});

function modelOf(name: ModelName, width: number): Estimator | undefined {
  if (name === 'none') return undefined;
  if (name === 'echo') return echo;
  return trees.get(`${name}/${width}`);
}

interface RowSpec {
  readonly attrs: readonly number[];
  readonly features: readonly Cell[];
  readonly repeat: number;
  readonly typed: boolean;
}

interface TableSpec {
  readonly order: readonly string[];
  readonly rows: readonly RowSpec[];
}

interface Scenario {
  readonly attrCount: number;
  readonly featureCount: number;
  /** The attribute order of the index's extractor. */
  readonly attribute: readonly string[];
  /** Combinations the index knows (value positions in POOL) and the group of each (-1: none). */
  readonly known: readonly (readonly [readonly number[], number])[];
  readonly groups: readonly ModelName[];
  readonly fallback: ModelName;
  /** Fill the step's memory of combinations first, so the tables' combinations are not remembered. */
  readonly fillMemory: boolean;
  readonly tables: readonly TableSpec[];
}

const featureCell: fc.Arbitrary<Cell> = fc.oneof(
  { arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true, min: -2e6, max: 2e6 }), weight: 300 },
  { arbitrary: fc.constantFrom<Cell>('7', Number.NaN, Number.POSITIVE_INFINITY), weight: 1 },
);

const scenario: fc.Arbitrary<Scenario> = fc
  .record({ attrCount: fc.integer({ min: 1, max: 3 }), featureCount: fc.integer({ min: 1, max: MAX_FEATURES }) })
  .chain(({ attrCount, featureCount }) => {
    const attrNames = Array.from({ length: attrCount }, (_, k) => `a${k}`);
    const names = [...attrNames, ...Array.from({ length: featureCount }, (_, k) => `f${k}`)];
    const value = fc.integer({ min: 0, max: POOL.length - 1 });
    const combination = fc.array(value, { minLength: attrCount, maxLength: attrCount });
    const row = fc.record({
      attrs: combination,
      features: fc.array(featureCell, { minLength: featureCount, maxLength: featureCount }),
      repeat: fc.integer({ min: 1, max: 4 }),
      typed: fc.boolean(),
    });
    const table = fc.record({
      order: fc.shuffledSubarray(names, { minLength: names.length, maxLength: names.length }),
      rows: fc.array(row, { maxLength: 24 }),
    });
    return fc.record({
      attrCount: fc.constant(attrCount),
      featureCount: fc.constant(featureCount),
      attribute: fc.shuffledSubarray(attrNames, { minLength: attrCount, maxLength: attrCount }),
      known: fc.array(fc.tuple(combination, fc.integer({ min: -1, max: GROUPS - 1 })), { maxLength: 10 }),
      groups: fc.array(fc.constantFrom<ModelName>('tree0', 'tree1', 'echo', 'none'), {
        minLength: GROUPS,
        maxLength: GROUPS,
      }),
      fallback: fc.constantFrom<ModelName>('tree0', 'tree1', 'echo'),
      fillMemory: fc.integer({ min: 0, max: 7 }).map((k) => k === 0),
      tables: fc.array(table, { minLength: 1, maxLength: 3 }),
    });
  });

/** The table a spec describes: each row `repeat` times (new row objects, new strings), cells in `order`. */
function buildTable(spec: TableSpec, attribute: readonly string[]): { columns: string[]; rows: Row[] } {
  const columns = [...spec.order];
  const rows: Row[] = [];
  for (const r of spec.rows) {
    for (let k = 0; k < r.repeat; k++) {
      const cells = columns.map((name) =>
        fresh(name.startsWith('a') ? POOL[r.attrs[attribute.indexOf(name)]!]! : r.features[Number(name.slice(1))]!),
      );
      rows.push(r.typed && cells.every((c) => typeof c === 'number') ? Float64Array.from(cells) : cells);
    }
  }
  return { columns, rows };
}

interface Answer {
  readonly entry: string;
  readonly group: number;
  readonly rows: readonly number[];
  readonly predictions: readonly unknown[];
}

interface Routed {
  readonly result: readonly unknown[];
  readonly tasks: readonly Answer[];
  readonly allocation: {
    readonly tasks: readonly (string | undefined)[];
    readonly metaAttr: readonly unknown[];
    readonly rowsByTask: readonly (readonly [string | undefined, readonly number[]])[];
    readonly columns: readonly string[];
    readonly rows: readonly unknown[][];
  };
}

/** The straightforward routing: every row's entry, features and group; `predict` on each model's rows. */
async function reference(
  table: { columns: readonly string[]; rows: readonly Row[] },
  attribute: readonly string[],
  entries: ReadonlySet<string>,
  deployed: DeployedModels,
): Promise<Routed> {
  const attrs = attribute.map((name) => table.columns.indexOf(name));
  const keep = table.columns.map((_, c) => c).filter((c) => !attrs.includes(c));
  const tasks: (string | undefined)[] = [];
  const metaAttr: Cell[][] = [];
  const rowsByTask = new Map<string | undefined, number[]>();
  const features: Cell[][] = [];
  const byGroup = new Map<number, number[]>();
  table.rows.forEach((row, i) => {
    const values = attrs.map((c) => row[c]!);
    const entry = referenceEntry(values);
    const task = entries.has(entry) ? entry : undefined;
    tasks.push(task);
    metaAttr.push(values);
    features.push(keep.map((c) => row[c]!));
    if (rowsByTask.has(task)) rowsByTask.get(task)!.push(i);
    else rowsByTask.set(task, [i]);
    const group = task === undefined ? -1 : (deployed.groupOfTask.get(task) ?? -1);
    if (byGroup.has(group)) byGroup.get(group)!.push(i);
    else byGroup.set(group, [i]);
  });
  const answers: Answer[] = [];
  const result = new Array<unknown>(table.rows.length);
  for (const group of [...byGroup.keys()].sort((a, b) => a - b)) {
    const rows = byGroup.get(group)!;
    const own = group >= 0 ? deployed.groups[group] : undefined;
    const model = own?.estimator === undefined ? deployed.fallback! : { entry: own.entry, estimator: own.estimator };
    const predictions = (await model.estimator.predict(rows.map((r) => features[r]))) as unknown[];
    rows.forEach((r, k) => (result[r] = predictions[k]));
    answers.push({ entry: model.entry, group: own?.estimator === undefined ? -1 : group, rows, predictions });
  }
  return {
    result,
    tasks: answers,
    allocation: {
      tasks,
      metaAttr,
      rowsByTask: [...rowsByTask.entries()],
      columns: keep.map((c) => table.columns[c]!),
      rows: features,
    },
  };
}

async function outcomeOf(run: () => Promise<Routed>): Promise<Routed | { error: SednaError }> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof SednaError) return { error: err };
    throw err;
  }
}

function errorShape(outcome: Routed | { error: SednaError }): unknown {
  return 'error' in outcome
    ? { code: outcome.error.code, message: outcome.error.message, details: outcome.error.details }
    : outcome;
}

describe('task-aware batch inference against a straightforward reference', () => {
  test('same tasks, attribute values, features, answering models, predictions and errors', async () => {
    const engine = new MultiTaskLearning();
    let checked = 0;
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const known = s.known.map(
          ([combination, group]) => [referenceEntry(combination.map((v) => POOL[v]!)), group] as const,
        );
        const entries = new Set(known.map(([entry]) => entry));
        const groupOfTask = new Map<string, number>();
        for (const [entry, group] of known) if (group >= 0) groupOfTask.set(entry, group);
        const mining = new TaskMiningByDataAttr({
          task_extractor: {
            method: 'TaskDefinitionByDataAttr',
            attribute: [...s.attribute],
            entries: Object.fromEntries(known.map(([entry], i) => [entry, i])),
          },
        });
        const deployed: DeployedModels = {
          allocation: mining,
          groupOfTask,
          groups: s.groups.map((name, g) => ({ entry: `group${g}`, estimator: modelOf(name, s.featureCount) })),
          fallback: { entry: 'global', estimator: modelOf(s.fallback, s.featureCount)! },
        };
        if (s.fillMemory) {
          const fill = Array.from({ length: MAX_REMEMBERED_COMBINATIONS }, (_, i) =>
            s.attribute.map((_, k) => (k === 0 ? `fill${i}` : 0)),
          );
          mining.allocate({ columns: [...s.attribute], rows: fill });
        }
        // One mining step answers every table in turn, whatever its column order.
        for (const spec of s.tables) {
          const table = buildTable(spec, s.attribute);
          const want = await outcomeOf(() => reference(table, s.attribute, entries, deployed));
          const got = await outcomeOf(async () => {
            const out = await engine.predict(table, deployed);
            const samples = out.allocation.samples;
            return {
              result: out.result,
              tasks: out.tasks.map((t) => ({
                entry: t.entry,
                group: t.group,
                rows: t.rows,
                predictions: t.predictions,
              })),
              allocation: {
                tasks: out.allocation.tasks,
                metaAttr: out.allocation.metaAttr,
                rowsByTask: [...(out.allocation.rowsByTask ?? new Map()).entries()],
                columns: samples.columns,
                rows: samples.rows.map((row) => Array.from(row)),
              },
            };
          });
          expect(errorShape(got)).toEqual(errorShape(want));
          checked += table.rows.length;
        }
      }),
      { numRuns: 300 },
    );
    expect(checked).toBeGreaterThan(1000);
  });

  test('the classical task models read their features from the input rows: no feature row is built for them', async () => {
    const tree = trees.get('tree0/2')!;
    const mining = new TaskMiningByDataAttr({
      task_extractor: { method: 'TaskDefinitionByDataAttr', attribute: ['task'], entries: { t0: 0, t1: 1 } },
    });
    const deployed: DeployedModels = {
      allocation: mining,
      groupOfTask: new Map([
        ['t0', 0],
        ['t1', 1],
      ]),
      groups: [
        { entry: 't0', estimator: tree },
        { entry: 't1', estimator: echo },
      ],
      fallback: { entry: 'global', estimator: tree },
    };
    const rows = [
      [5, 't0', -7],
      [3e5, 't1', 2],
      [-4e5, 't0', 9],
      [1, 'new', 1],
    ];
    // Count the calls of the model's own predict (an own property shadows the method for this test).
    let predictCalls = 0;
    const predict = tree.predict.bind(tree);
    Object.defineProperty(tree, 'predict', {
      configurable: true,
      value: (...args: Parameters<ClassicalEstimator['predict']>) => {
        predictCalls++;
        return predict(...args);
      },
    });
    try {
      const out = await new MultiTaskLearning().predict({ columns: ['f0', 'task', 'f1'], rows }, deployed);
      expect(predictCalls).toBe(0);
      const [first, third, unseen] = tree.predictSync([
        [5, -7],
        [-4e5, 9],
        [1, 1],
      ]);
      expect(out.result).toEqual([first, '300000|2', third, unseen]);
      // The rows as the task models see them are still there for whoever reads them (a spread, JSON).
      const seen = {
        columns: ['f0', 'f1'],
        rows: [
          [5, -7],
          [3e5, 2],
          [-4e5, 9],
          [1, 1],
        ],
      };
      expect({ ...out.allocation.samples }).toEqual({ ...seen, y: undefined });
      expect(JSON.parse(JSON.stringify(out.allocation.samples))).toEqual(seen);
      // The same rows through the model's own predict: the same answers.
      expect(await tree.predict([[5, -7]])).toEqual([first]);
      expect(predictCalls).toBe(1);
    } finally {
      delete (tree as { predict?: unknown }).predict;
    }
  });
});
