/**
 * `sedna run`'s local pod network: each run takes a 127.a.b.0/24 range derived from its pid, and
 * skips one where a process already listens (a worker left by an earlier run with the same pid
 * had taken a pod's fixed port, and the pod crashed in a loop on EADDRINUSE).
 */
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { LocalMesh } from '../../src/cli/run/edgemesh.js';

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'edgemesh-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const listen = (host: string, port: number): Promise<net.Server> =>
  new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host, port }, () => resolve(server));
  });
const rangeOf = (ip: string): string => ip.split('.').slice(0, 3).join('.');

test('a run takes the range its pid names when nothing listens there', async () => {
  const seed = 3 * 256 + 77;
  const mesh = await LocalMesh.create(dir, '127.0.0.1', seed);
  expect(mesh.shared).toBe(false); // Linux routes all of 127.0.0.0/8 to lo
  expect(rangeOf(mesh.podIp())).toBe('127.4.77');
});

test('a range where some process listens is skipped for another', async () => {
  const seed = 5 * 256 + 123;
  const squatter = await listen('127.6.123.2', 0);
  try {
    const mesh = await LocalMesh.create(dir, '127.0.0.1', seed);
    const ip = mesh.podIp();
    expect(rangeOf(ip)).not.toBe('127.6.123');
    expect(ip).toMatch(/^127\.\d+\.\d+\.1$/);
  } finally {
    await new Promise((resolve) => squatter.close(resolve));
  }
});
