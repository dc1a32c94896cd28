/**
 * The knowledge base's SQLite database (spec §6.5): Sedna's six tables, same names and columns,
 * in a real SQLite file through better-sqlite3 (an optional peer, loaded on first use).
 *
 * Where Sedna's server did not do what its schema says, this one does, and docs/interop.md says so:
 * `update/status` commits the `deploy` flag; `ll_samples.data_url` holds the task's sample URL;
 * `data_type` is the documented number (train 0, eval/test 1, hard examples 2); a group's
 * `sample_num`/`task_num` are its current counts (Sedna added them up on every update, so sending
 * the same index twice doubled them); the model of the latest index is `is_current`.
 */
import fs from 'node:fs';
import path from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { SednaError, invalidConfig, messageOf, missingDependency } from '../../common/errors.js';
import type { JsonValue, PyGroupView } from '../../datasources/kb-index.js';

export interface GroupSummary {
  readonly name: string;
  readonly deploy: boolean;
  readonly sample_num: number;
  readonly task_num: number;
  readonly model_url: string;
  readonly tasks: readonly { readonly name: string; readonly task_attr: JsonValue }[];
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS ll_task_grp (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name VARCHAR(100) NOT NULL UNIQUE,
  deploy BOOLEAN DEFAULT 0,
  sample_num INTEGER DEFAULT 0,
  task_num INTEGER DEFAULT 0
);
CREATE TABLE IF NOT EXISTS ll_tasks (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name VARCHAR(100) NOT NULL UNIQUE,
  task_attr TEXT DEFAULT '{}',
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  updated_at DATETIME DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE IF NOT EXISTS ll_task_models (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  task_id INTEGER NOT NULL REFERENCES ll_task_grp(id),
  model_url TEXT DEFAULT '',
  is_current BOOLEAN DEFAULT 0,
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX IF NOT EXISTS ix_ll_task_models_task_id ON ll_task_models(task_id);
CREATE TABLE IF NOT EXISTS ll_task_relation (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  grp_id INTEGER REFERENCES ll_task_grp(id),
  task_id INTEGER REFERENCES ll_tasks(id),
  transfer_radio FLOAT DEFAULT 0
);
-- Not in Sedna's schema: relations are looked up by group on every update (no full scans).
CREATE INDEX IF NOT EXISTS ix_ll_task_relation_grp_task ON ll_task_relation(grp_id, task_id);
CREATE TABLE IF NOT EXISTS ll_samples (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  data_url TEXT,
  descr TEXT,
  data_type SMALLINT DEFAULT 0,
  updated_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  sample_num INTEGER DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ix_ll_samples_data_type ON ll_samples(data_type);
CREATE TABLE IF NOT EXISTS ll_task_sample (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  sample_id INTEGER REFERENCES ll_samples(id),
  task_id INTEGER REFERENCES ll_tasks(id)
);
`;

/** The documented `ll_samples.data_type` numbers; other names are stored as given. */
const DATA_TYPES: Readonly<Record<string, number>> = { train: 0, eval: 1, test: 1, hard: 2, hard_example: 2 };

type Database = BetterSqlite3.Database;
type DatabaseClass = new (file: string, options?: BetterSqlite3.Options) => Database;

let driver: Promise<DatabaseClass> | undefined;
const SQLITE = 'better-sqlite3';

function loadDriver(): Promise<DatabaseClass> {
  driver ??= (import(SQLITE) as Promise<{ default: DatabaseClass }>)
    .then((m) => m.default)
    .catch((err: unknown) => {
      driver = undefined;
      throw missingDependency(SQLITE, 'the knowledge-base server', err);
    });
  return driver;
}

/**
 * The file of a SQLAlchemy SQLite URL (`KB_URL`): `sqlite:///rel/path` (relative to `cwd`),
 * `sqlite:////abs/path`, or `sqlite://` / `sqlite:///:memory:` for an in-memory database.
 */
export function sqlitePathOf(url: string, cwd = process.cwd()): string {
  const match = /^sqlite(?:\+pysqlite)?:\/\/(\/?)(.*)$/i.exec(url.trim());
  if (match === null)
    throw invalidConfig('KB_URL', url, 'a SQLite URL such as sqlite:///lifelong_kb.sqlite3 (only SQLite is supported)');
  const rest = (match[2] ?? '').replace(/\?.*$/, '');
  if (rest === '' || rest === ':memory:') return ':memory:';
  return rest.startsWith('/') ? rest : path.resolve(cwd, rest);
}

export function databaseError(file: string, err: unknown): SednaError {
  return new SednaError(
    'SEDNA_ERR_KB_DATABASE',
    `the knowledge-base database ${file} cannot be used: ${messageOf(err)}; it was left as it is`,
    { cause: err, details: { file } },
  );
}

export class KBDatabase {
  private constructor(
    private readonly db: Database,
    readonly file: string,
  ) {}

  /** Opens (creating when missing) the database and its tables. A corrupt file is refused, untouched. */
  static async open(file: string): Promise<KBDatabase> {
    const Driver = await loadDriver();
    if (file !== ':memory:') {
      try {
        fs.mkdirSync(path.dirname(file), { recursive: true });
      } catch (err) {
        throw databaseError(file, err);
      }
    }
    let db: Database | undefined;
    try {
      db = new Driver(file);
      // The first statement reads the header: a file that is not SQLite fails here, unchanged.
      db.pragma('schema_version');
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      db.exec(SCHEMA);
      return new KBDatabase(db, file);
    } catch (err) {
      db?.close();
      throw databaseError(file, err);
    }
  }

  /**
   * Records a new index: groups, tasks, samples, models and relations, in one transaction that
   * also runs `commitFile` (the rename that publishes the index file), so the tables and the file
   * change together or not at all.
   */
  applyIndex(groups: readonly PyGroupView[], commitFile: () => void): void {
    const sql = this.statements();
    this.write(() => {
      for (const group of groups) {
        const { id: grp } = sql.upsertGroup.get(group.entry, group.sampleNum, group.tasks.length) as { id: number };
        for (const task of group.tasks) {
          const { id: taskId } = sql.upsertTask.get(task.entry, JSON.stringify(task.metaAttr ?? {})) as { id: number };
          const dataType = DATA_TYPES[task.dataType] ?? task.dataType;
          const { id: sample } = sql.insertSample.get(task.dataUrl, null, dataType, task.sampleNum) as { id: number };
          sql.linkSample.run(sample, taskId);
          if (sql.findRelation.get(grp, taskId) === undefined) sql.insertRelation.run(grp, taskId);
        }
        const relations = (sql.countRelations.get(grp) as { n: number }).n;
        sql.setRadio.run(relations === 0 ? 0 : 1 / relations, grp);
        sql.clearCurrent.run(grp);
        const existing = sql.findModel.get(grp, group.modelUrl) as { id: number } | undefined;
        if (existing === undefined) sql.insertModel.run(grp, group.modelUrl);
        else sql.markModel.run(existing.id);
      }
      commitFile();
    });
  }

  private prepared: ReturnType<KBDatabase['prepareUpdate']> | undefined;

  /** The statements of `applyIndex`, prepared once per database. */
  private statements(): ReturnType<KBDatabase['prepareUpdate']> {
    this.prepared ??= this.prepareUpdate();
    return this.prepared;
  }

  private prepareUpdate() {
    const db = this.db;
    return {
      upsertGroup: db.prepare(
        `INSERT INTO ll_task_grp (name, deploy, sample_num, task_num) VALUES (?, 1, ?, ?)
         ON CONFLICT(name) DO UPDATE SET deploy = 1, sample_num = excluded.sample_num, task_num = excluded.task_num
         RETURNING id`,
      ),
      upsertTask: db.prepare(
        `INSERT INTO ll_tasks (name, task_attr) VALUES (?, ?)
         ON CONFLICT(name) DO UPDATE SET task_attr = excluded.task_attr, updated_at = CURRENT_TIMESTAMP
         RETURNING id`,
      ),
      insertSample: db.prepare(
        'INSERT INTO ll_samples (data_url, descr, data_type, sample_num) VALUES (?, ?, ?, ?) RETURNING id',
      ),
      linkSample: db.prepare('INSERT INTO ll_task_sample (sample_id, task_id) VALUES (?, ?)'),
      clearCurrent: db.prepare('UPDATE ll_task_models SET is_current = 0 WHERE task_id = ?'),
      findModel: db.prepare('SELECT id FROM ll_task_models WHERE task_id = ? AND model_url = ?'),
      markModel: db.prepare('UPDATE ll_task_models SET is_current = 1 WHERE id = ?'),
      insertModel: db.prepare('INSERT INTO ll_task_models (task_id, model_url, is_current) VALUES (?, ?, 1)'),
      findRelation: db.prepare('SELECT id FROM ll_task_relation WHERE grp_id = ? AND task_id = ?'),
      insertRelation: db.prepare('INSERT INTO ll_task_relation (grp_id, task_id) VALUES (?, ?)'),
      setRadio: db.prepare('UPDATE ll_task_relation SET transfer_radio = ? WHERE grp_id = ?'),
      countRelations: db.prepare('SELECT COUNT(*) AS n FROM ll_task_relation WHERE grp_id = ?'),
    };
  }

  /** Names of the groups the database knows, of those asked. */
  knownGroups(names: readonly string[]): Set<string> {
    const find = this.db.prepare('SELECT name FROM ll_task_grp WHERE name = ?');
    return new Set(names.filter((n) => find.get(n) !== undefined));
  }

  /** Sets `deploy` for the named groups and publishes the rewritten index, in one transaction. */
  setDeploy(names: readonly string[], deploy: boolean, commitFile: () => void): void {
    const set = this.db.prepare('UPDATE ll_task_grp SET deploy = ? WHERE name = ?');
    this.write(() => {
      for (const name of names) set.run(deploy ? 1 : 0, name);
      commitFile();
    });
  }

  /** Whether each named group is deployed (unknown names: absent). */
  deployed(): Map<string, boolean> {
    const rows = this.db.prepare('SELECT name, deploy FROM ll_task_grp').all() as { name: string; deploy: number }[];
    return new Map(rows.map((r) => [r.name, r.deploy === 1]));
  }

  /** Every group with its current model and tasks (what `POST /knowledgebase/query` returns). */
  groups(): GroupSummary[] {
    const groups = this.db
      .prepare('SELECT id, name, deploy, sample_num, task_num FROM ll_task_grp ORDER BY id')
      .all() as { id: number; name: string; deploy: number; sample_num: number; task_num: number }[];
    const model = this.db.prepare(
      'SELECT model_url FROM ll_task_models WHERE task_id = ? ORDER BY is_current DESC, id DESC LIMIT 1',
    );
    const tasks = this.db.prepare(
      'SELECT t.name, t.task_attr FROM ll_task_relation r JOIN ll_tasks t ON t.id = r.task_id WHERE r.grp_id = ? ORDER BY t.id',
    );
    return groups.map((g) => ({
      name: g.name,
      deploy: g.deploy === 1,
      sample_num: g.sample_num,
      task_num: g.task_num,
      model_url: (model.get(g.id) as { model_url: string } | undefined)?.model_url ?? '',
      tasks: (tasks.all(g.id) as { name: string; task_attr: string }[]).map((t) => ({
        name: t.name,
        task_attr: parseAttr(t.task_attr),
      })),
    }));
  }

  /** Raw rows of a table, for tests and operators (table names are fixed, never user input). */
  rows(
    table: 'll_task_grp' | 'll_tasks' | 'll_task_models' | 'll_task_relation' | 'll_samples' | 'll_task_sample',
  ): Record<string, unknown>[] {
    return this.db.prepare(`SELECT * FROM ${table} ORDER BY id`).all() as Record<string, unknown>[];
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private write(fn: () => void): void {
    try {
      this.db.transaction(fn)();
    } catch (err) {
      if (err instanceof SednaError) throw err;
      throw databaseError(this.file, err);
    }
  }
}

function parseAttr(text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    return text;
  }
}
