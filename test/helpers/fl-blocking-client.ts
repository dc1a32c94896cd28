/**
 * A federated-learning client in its own process that blocks its event loop with synchronous CPU
 * work before it sends its update (as a pure-JS training loop would). Usage:
 *   node --import tsx test/helpers/fl-blocking-client.ts <ws url> <client id> <block ms>
 * Prints one JSON line: {"ok": true} when its update, sent after the block, was aggregated and the
 * connection was never lost.
 */
import { AggregationClient } from '../../src/service/client/aggregation-client.js';
import { configureLogger } from '../../src/common/logger.js';

configureLogger({ level: 'silent', name: 'blocking-client' });
const [url, clientId, blockMs] = process.argv.slice(2) as [string, string, string];
const client = await AggregationClient.create({ url, clientId, connectTimeoutMs: 10_000 });
let disconnects = 0;
client.on('disconnected', () => disconnects++);
const until = Date.now() + Number(blockMs);
let spins = 0;
while (Date.now() < until) spins++; // the event loop is blocked: no pong can be sent meanwhile
await client.sendUpdate([{ name: 'w', dtype: 'float32', shape: [1], data: Float32Array.from([spins % 2]) }], 1);
await client.nextAggregate(); // the update went out and the aggregate came back: the connection survived
const lost = disconnects;
await client.close();
console.log(JSON.stringify({ ok: lost === 0 }));
