/**
 * `sedna run`'s claims on Sedna's fixed ports: one live runner (or job) holds a port at a time, a
 * dead runner's claim is taken over, and releasing removes only one's own claim.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { claimPort } from '../../src/cli/run/port-claims.js';

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'port-claims-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** The pid of a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

test('a claimed port is refused to the next claim until released', async () => {
  const release = await claimPort(5000, dir);
  expect(release).toBeDefined();
  expect(await fs.readFile(path.join(dir, '5000.pid'), 'utf8')).toBe(String(process.pid));
  expect(await claimPort(5000, dir)).toBeUndefined();
  expect(await claimPort(5001, dir)).toBeDefined();
  await release!();
  expect(await claimPort(5000, dir)).toBeDefined();
});

test("a live runner's claim holds; a dead runner's claim is taken over", async () => {
  await fs.writeFile(path.join(dir, '5000.pid'), String(process.ppid));
  expect(await claimPort(5000, dir)).toBeUndefined();
  await fs.writeFile(path.join(dir, '5000.pid'), String(deadPid()));
  const release = await claimPort(5000, dir);
  expect(release).toBeDefined();
  expect(await fs.readFile(path.join(dir, '5000.pid'), 'utf8')).toBe(String(process.pid));
});

test("releasing leaves another runner's claim alone", async () => {
  const release = await claimPort(5000, dir);
  await fs.writeFile(path.join(dir, '5000.pid'), String(process.ppid)); // taken over meanwhile
  await release!();
  expect(await fs.readFile(path.join(dir, '5000.pid'), 'utf8')).toBe(String(process.ppid));
});
