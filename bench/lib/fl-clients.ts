/**
 * Trainers for bench/fl-round.bench.ts, in their own process (as on real edge nodes):
 *   tsx bench/lib/fl-clients.ts <ws url> <binary|json> <rounds> <params>
 * Two clients send an update each round and wait for the aggregate; prints the round times (ms)
 * as one JSON line.
 */
import { AggregationClient } from '../../src/service/client/aggregation-client.js';
import { configureLogger } from '../../src/common/logger.js';
import { layerWeights } from './fl-weights.js';

configureLogger({ level: 'warn', name: 'bench-clients' });
const [url, encoding, rounds, params] = process.argv.slice(2) as [string, 'binary' | 'json', string, string];
const P = Number(params);

const clients = await Promise.all(['a', 'b'].map((id) => AggregationClient.create({ url, clientId: id, encoding })));
const updates = [layerWeights(P, 1), layerWeights(P, 2)];
const times: number[] = [];
for (let r = 0; r < Number(rounds); r++) {
  const t = performance.now();
  await Promise.all(clients.map((c, k) => c.sendUpdate(updates[k]!, 10 + k)));
  await Promise.all(clients.map((c) => c.nextAggregate()));
  times.push(performance.now() - t);
}
await Promise.all(clients.map((c) => c.close()));
console.log(JSON.stringify(times));
