/**
 * One `sedna run` per job on a machine: a lock file per job in the state folder,
 * `jobs/<namespace>.<kind>.<name>.json`, holding the runner's pid and status API. A second run of
 * the same job fails with SEDNA_ERR_JOB_RUNNING while the first is alive; a stale lock (its
 * process is gone) is taken over. `sedna status` reads these files.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { SednaError } from '../../common/errors.js';
import type { SednaResource } from './resources.js';
import type { RunSnapshot } from './status.js';

export interface LockRecord {
  pid: number;
  kind: string;
  namespace: string;
  name: string;
  startedAt: string;
  api: string | undefined;
  files: string[];
}

export interface JobLock {
  readonly file: string;
  /** Writes the API URL once known. */
  update(): Promise<void>;
  /** Removes the lock and keeps the run's last status beside it (`.last.json`). */
  release(snapshot: RunSnapshot): Promise<void>;
}

export function jobsDir(stateDir: string): string {
  return path.join(stateDir, 'jobs');
}

/** Whether a process with this pid exists (one of another user's counts). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Lock records of runs that are alive. */
export async function runningJobs(stateDir: string): Promise<LockRecord[]> {
  const dir = jobsDir(stateDir);
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  const records: LockRecord[] = [];
  for (const name of names.filter((n) => n.endsWith('.json') && !n.endsWith('.last.json'))) {
    const record = JSON.parse(await fs.readFile(path.join(dir, name), 'utf8').catch(() => 'null')) as LockRecord | null;
    if (record !== null && processAlive(record.pid)) records.push(record);
  }
  return records;
}

export async function acquireJobLock(
  stateDir: string,
  job: SednaResource,
  api: () => string | undefined,
): Promise<JobLock> {
  const dir = jobsDir(stateDir);
  await fs.mkdir(dir, { recursive: true });
  const base = `${job.metadata.namespace}.${job.kind.toLowerCase()}.${job.metadata.name}`;
  const file = path.join(dir, `${base}.json`);
  const record = (): LockRecord => ({
    pid: process.pid,
    kind: job.kind,
    namespace: job.metadata.namespace,
    name: job.metadata.name,
    startedAt: new Date().toISOString(),
    api: api(),
    files: [job.source.file],
  });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fs.writeFile(file, JSON.stringify(record()), { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const held = JSON.parse(await fs.readFile(file, 'utf8').catch(() => 'null')) as LockRecord | null;
      if (held !== null && held.pid !== process.pid && processAlive(held.pid))
        throw new SednaError(
          'SEDNA_ERR_JOB_RUNNING',
          `${job.kind} ${job.metadata.namespace}/${job.metadata.name} is already running under sedna run (pid ${held.pid}` +
            `${held.api === undefined ? '' : `, status ${held.api}`}, since ${held.startedAt}); see sedna status, or stop it first`,
          { details: { pid: held.pid, lock: file } },
        );
      await fs.rm(file, { force: true }); // stale: its run is gone
    }
  }
  return {
    file,
    update: () => fs.writeFile(file, JSON.stringify(record())),
    release: async (snapshot) => {
      await fs.writeFile(path.join(dir, `${base}.last.json`), JSON.stringify(snapshot));
      await fs.rm(file, { force: true });
    },
  };
}
