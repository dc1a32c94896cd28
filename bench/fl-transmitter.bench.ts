/**
 * One federated round, 2 clients × 10M float32 parameters, over the WebSocket transmitter and over
 * the S3 transmitter (against the real Swift s3api server), in the same run.
 *
 *   npx tsx bench/fl-transmitter.bench.ts [params]      (default 10000000)
 *
 * Server and both clients live in this process; the updates are made before the clock starts.
 * Prints each round's time (both clients send, both hold the aggregate), the S3/WS ratio, and the
 * peak RSS growth during the round in units of one update (P × 4 bytes): with server and clients in
 * one process that counts the server's read of both updates and both clients' aggregates, so the
 * number to compare is S3's against WS's. Not pass/fail: Swift's Python proxy is the likely ceiling.
 */
import { AggregationClient } from '../src/service/client/aggregation-client.js';
import { AggregationServer } from '../src/service/server/aggregation-server.js';
import { S3Transmitter, type Transmitter } from '../src/service/transmitter.js';
import { configureLogger } from '../src/common/logger.js';
import type { WeightRecord } from '../src/backend/weights.js';
import { layerWeights } from './lib/fl-weights.js';
import { startS3Server } from '../scripts/s3-server-launch.mjs';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
configureLogger({ level: 'warn', name: 'bench' });

const P = Number(process.argv[2] ?? 10_000_000);
const UPDATE_BYTES = P * 4;

interface RoundResult {
  ms: number;
  peakGrowthUpdates: number;
  correct: boolean;
}

async function round(updates: WeightRecord[][], transmitter: () => Transmitter | undefined): Promise<RoundResult> {
  const serverTransmitter = transmitter();
  const server = await AggregationServer.create({
    host: '127.0.0.1',
    port: 0,
    participantsCount: 2,
    exitRound: 1,
    ...(serverTransmitter === undefined ? {} : { transmitter: serverTransmitter }),
  });
  await server.start();
  const clients = await Promise.all(
    updates.map((_, i) => {
      const t = transmitter();
      return AggregationClient.create({
        url: server.wsUrl,
        clientId: `c${i}`,
        ...(t === undefined ? {} : { transmitter: t }),
      });
    }),
  );
  global.gc?.();
  const base = process.memoryUsage().rss;
  let peak = base;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 5);
  const started = performance.now();
  const aggregates = await Promise.all(
    clients.map(async (client, i) => {
      await client.sendUpdate(updates[i]!, 1);
      return client.nextAggregate();
    }),
  );
  const ms = performance.now() - started;
  clearInterval(sampler);
  // FedAvg of two equal-weight updates: spot-check a few elements.
  const a = updates[0]![0]!.data as Float32Array;
  const b = updates[1]![0]!.data as Float32Array;
  const got = aggregates[0]!.weights[0]!.data as Float32Array;
  let correct = got.length === a.length;
  for (let i = 0; correct && i < a.length; i += 99_991) {
    correct = got[i] === Math.fround((a[i]! + b[i]!) / 2);
  }
  await Promise.all(clients.map((c) => c.close()));
  await server.close();
  return { ms, peakGrowthUpdates: (peak - base) / UPDATE_BYTES, correct };
}

const s3 = await startS3Server({ buckets: ['bench'] });
try {
  console.log(`Swift s3api at ${s3.endpoint}; 2 clients × ${P.toLocaleString('en')} float32 parameters`);
  const updates = [layerWeights(P, 1), layerWeights(P, 2)];
  const made: S3Transmitter[] = [];
  // The server and its clients share one AGG_DATA_PATH; each round writes under its own.
  const viaS3 = (prefix: string) => (): Transmitter => {
    const t = new S3Transmitter(s3.endpoint, s3.accessKeyId, s3.secretAccessKey, `s3://bench/${prefix}`);
    made.push(t);
    return t;
  };
  const ws: RoundResult[] = [];
  const overS3: RoundResult[] = [];
  for (let run = 1; run <= 3; run++) {
    ws.push(await round(updates, () => undefined));
    overS3.push(await round(updates, viaS3(`run-${run}`)));
    console.log(
      `run ${run}: WS ${ws.at(-1)!.ms.toFixed(0)} ms (peak +${ws.at(-1)!.peakGrowthUpdates.toFixed(2)} updates), ` +
        `S3 ${overS3.at(-1)!.ms.toFixed(0)} ms (peak +${overS3.at(-1)!.peakGrowthUpdates.toFixed(2)} updates)`,
    );
  }
  await Promise.all(made.map((t) => t.close()));
  const best = (xs: RoundResult[]): RoundResult => xs.reduce((m, x) => (x.ms < m.ms ? x : m));
  const bw = best(ws);
  const bs = best(overS3);
  console.log(
    `best WS round ${bw.ms.toFixed(0)} ms, best S3 round ${bs.ms.toFixed(0)} ms: S3/WS time ${(bs.ms / bw.ms).toFixed(2)}×`,
  );
  console.log(
    `peak RSS growth during a round, in updates of ${(UPDATE_BYTES / 1e6).toFixed(0)} MB (server + 2 clients in this process): ` +
      `WS max ${Math.max(...ws.map((r) => r.peakGrowthUpdates)).toFixed(2)}, S3 max ${Math.max(...overS3.map((r) => r.peakGrowthUpdates)).toFixed(2)}`,
  );
  console.log(`aggregates correct: WS ${ws.every((r) => r.correct)}, S3 ${overS3.every((r) => r.correct)}`);
} finally {
  await s3.stop();
}
