/**
 * WebSocket transfer of 4 MB binary frames vs a raw TCP echo of the same bytes, same run.
 *
 *   npx tsx bench/ws-transfer.bench.ts
 *
 * An echo server (TCP and ws) runs in its own process (bench/lib/echo-server.mjs); this process
 * sends 64 × 4 MB and waits for all of it back, over TCP and over ws. Reported: MB/s one way and
 * ws / TCP (target ≥ 0.5 with `bufferutil`, an optional dependency). The ws run is repeated in a
 * child with WS_NO_BUFFER_UTIL=1 to show what bufferutil buys.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';

const FRAME = 4 * 1024 * 1024;
const COUNT = 64;
const payload = Buffer.alloc(FRAME, 7);

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function tcpRun(port: number): Promise<number> {
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await new Promise((resolve) => socket.once('connect', resolve));
  const total = FRAME * COUNT;
  let received = 0;
  const t = performance.now();
  const done = new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received >= total) resolve();
    });
  });
  for (let i = 0; i < COUNT; i++) socket.write(payload);
  await done;
  const ms = performance.now() - t;
  socket.destroy();
  return total / (ms / 1000) / 1e6;
}

async function wsRun(port: number): Promise<number> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
  await new Promise((resolve) => socket.once('open', resolve));
  let received = 0;
  const t = performance.now();
  const done = new Promise<void>((resolve) => {
    socket.on('message', () => {
      if (++received === COUNT) resolve();
    });
  });
  for (let i = 0; i < COUNT; i++) socket.send(payload, { binary: true });
  await done;
  const ms = performance.now() - t;
  socket.close();
  return (FRAME * COUNT) / (ms / 1000) / 1e6;
}

const ports = await new Promise<{ tcp: number; ws: number; kill: () => void }>((resolve, reject) => {
  const child = spawn(process.execPath, [path.join(import.meta.dirname, 'lib', 'echo-server.mjs')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  child.stdout.once('data', (d: Buffer) => {
    const p = JSON.parse(d.toString()) as { tcp: number; ws: number };
    resolve({ ...p, kill: () => child.kill('SIGTERM') });
  });
  child.once('error', reject);
});

if (process.argv[2] === '--ws-only') {
  await wsRun(ports.ws);
  console.log(median([await wsRun(ports.ws), await wsRun(ports.ws), await wsRun(ports.ws)]));
  ports.kill();
  process.exit(0);
}

// ws loads bufferutil by itself when it is installed (an optional dependency).
const hasBufferutil = (() => {
  try {
    createRequire(import.meta.url).resolve('bufferutil');
    return true;
  } catch {
    return false;
  }
})();
await tcpRun(ports.tcp); // warm-up
await wsRun(ports.ws);
const tcp: number[] = [];
const ws: number[] = [];
for (let r = 0; r < 5; r++) {
  tcp.push(await tcpRun(ports.tcp));
  ws.push(await wsRun(ports.ws));
}
ports.kill();
const tcpMBs = median(tcp);
const wsMBs = median(ws);
const plain = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--ws-only'], {
  env: { ...process.env, WS_NO_BUFFER_UTIL: '1' },
  encoding: 'utf8',
});
const plainMBs = Number(plain.stdout.trim().split('\n').at(-1));
console.log(`raw TCP echo, 64 × 4 MB: ${tcpMBs.toFixed(0)} MB/s one way`);
console.log(
  `ws echo, 64 × 4 MB binary frames: ${wsMBs.toFixed(0)} MB/s with bufferutil (${hasBufferutil ? 'loaded' : 'NOT installed'}) = ${(wsMBs / tcpMBs).toFixed(2)} × TCP (target ≥ 0.5);` +
    ` without bufferutil ${plainMBs.toFixed(0)} MB/s = ${(plainMBs / tcpMBs).toFixed(2)} × TCP`,
);
console.log(JSON.stringify({ tcpMBs, wsMBs, wsPlainMBs: plainMBs, ratio: wsMBs / tcpMBs, bufferutil: hasBufferutil }));
