/**
 * Sedna's fixed ports (the JI cloud's 5000, say) among the `sedna run`s of one machine. Checking
 * that a port is free and then starting the worker that binds it leaves seconds in between: two
 * runs started together both saw 5000 free, one worker lost the bind, and the other run's edge
 * then talked to the first run's cloud (with per-run tokens, a 401 on every hard example). A run
 * claims a port with a file created exclusively in a shared folder before it hands the port out;
 * a claim whose runner is gone (killed) is taken over.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { processAlive } from './locks.js';

/** Where the claims live: one `<port>.pid` file per claimed port, holding the runner's pid. */
export const PORT_CLAIMS_DIR = path.join(os.tmpdir(), 'sedna-run-ports');

/**
 * Claims `port` for this process; resolves with the function that releases it, or undefined when
 * another live runner holds it.
 */
export async function claimPort(port: number, dir = PORT_CLAIMS_DIR): Promise<(() => Promise<void>) | undefined> {
  await fs.mkdir(dir, { recursive: true, mode: 0o1777 });
  const file = path.join(dir, `${port}.pid`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fs.writeFile(file, String(process.pid), { flag: 'wx', mode: 0o644 });
      return async () => {
        // Only our own claim: a runner that took a stale one over has its pid there.
        if ((await fs.readFile(file, 'utf8').catch(() => '')) === String(process.pid))
          await fs.rm(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return async () => {}; // no shared folder: no claims
    }
    const holder = Number(await fs.readFile(file, 'utf8').catch(() => 'NaN'));
    // A live holder keeps it, this process included (a second job of the same run).
    if (Number.isInteger(holder) && processAlive(holder)) return undefined;
    await fs.rm(file, { force: true }); // the runner that claimed it is gone
  }
  return undefined;
}
