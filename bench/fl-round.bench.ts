/**
 * Federated rounds over real WebSockets on 127.0.0.1 (server and clients in this process).
 *
 *   npx tsx bench/fl-round.bench.ts
 *
 * 1. One round, 2 clients × 1M float32 parameters: binary mode vs Sedna's JSON mode, from both
 *    clients sending their update to both holding the aggregate (median of several rounds). The
 *    two trainers run in their own process (bench/lib/fl-clients.ts), the server in this one.
 *    Target: binary ≥ 50× faster than JSON, same run.
 * 2. A 200 MB update (50M float32 parameters) round-trips in binary mode: sent, aggregated,
 *    received back identical (FedAvg of one client is that client's weights). Time, throughput and
 *    this process's peak RSS.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { AggregationServer } from '../src/service/server/aggregation-server.js';
import { AggregationClient } from '../src/service/client/aggregation-client.js';
import { configureLogger } from '../src/common/logger.js';
import { layerWeights } from './lib/fl-weights.js';

configureLogger({ level: 'warn', name: 'bench' });

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Runs `rounds` rounds with two trainers in their own process; returns the round times (ms). */
async function roundTimes(encoding: 'binary' | 'json', rounds: number, params: number): Promise<number[]> {
  const server = await AggregationServer.create({
    host: '127.0.0.1',
    port: 0,
    participantsCount: 2,
    exitRound: rounds,
  });
  await server.start();
  const tsx = path.join(import.meta.dirname, '..', 'node_modules', '.bin', 'tsx');
  const child = spawn(
    tsx,
    [path.join(import.meta.dirname, 'lib', 'fl-clients.ts'), server.wsUrl, encoding, String(rounds), String(params)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const [code] = (await once(child, 'close')) as [number];
  await server.close();
  if (code !== 0) throw new Error(`the clients exited with ${code}`);
  return JSON.parse(out.trim().split('\n').at(-1)!) as number[];
}

// 1. Binary vs JSON.
const P1 = 1_000_000;
const binary = median((await roundTimes('binary', 9, P1)).slice(2)); // the first rounds warm up
const json = median(await roundTimes('json', 3, P1));
console.log(
  `one round, 2 clients × 1M params: binary ${binary.toFixed(1)} ms, JSON ${json.toFixed(1)} ms → binary is ${(json / binary).toFixed(1)}× faster (target ≥ 50×)`,
);

// 2. A 200 MB update.
const P2 = 50_000_000;
const big = layerWeights(P2, 7);
const bytes = P2 * 4;
let peakRss = process.memoryUsage().rss;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 20);
const baseRss = process.memoryUsage().rss;
const server = await AggregationServer.create({ host: '127.0.0.1', port: 0, participantsCount: 1, exitRound: 1 });
await server.start();
const client = await AggregationClient.create({ url: server.wsUrl, clientId: 'big' });
const t0 = performance.now();
await client.sendUpdate(big, 1);
const t1 = performance.now();
const aggregate = await client.nextAggregate();
const t2 = performance.now();
clearInterval(sampler);
const back = aggregate.weights;
const identical =
  back.length === 2 &&
  back.every((w, i) =>
    Buffer.from((w.data as Float32Array).buffer, w.data.byteOffset, w.data.byteLength).equals(
      Buffer.from((big[i]!.data as Float32Array).buffer),
    ),
  );
console.log(
  `200 MB update round trip (binary): ${(t2 - t0).toFixed(0)} ms (send ${(t1 - t0).toFixed(0)} ms), ${((2 * bytes) / ((t2 - t0) / 1000) / 1e6).toFixed(0)} MB/s both ways;` +
    ` aggregate identical: ${identical}; peak RSS above start ${((peakRss - baseRss) / 1e6).toFixed(0)} MB (client + server in one process)`,
);
await client.close();
await server.close();
console.log(
  JSON.stringify({
    binaryMs: binary,
    jsonMs: json,
    speedup: json / binary,
    bigRoundTripMs: t2 - t0,
    bigIdentical: identical,
    bigPeakRssMB: (peakRss - baseRss) / 1e6,
  }),
);
