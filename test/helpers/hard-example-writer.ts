/**
 * A worker that saves hard examples as fast as it can, for the crash test: run it with
 * `node --import tsx test/helpers/hard-example-writer.ts <dir>`, SIGKILL it at any moment.
 * Big samples keep the process inside a write almost all the time. Prints one line per saved sample.
 */
import { randomBytes } from 'node:crypto';
import { configureLogger } from '../../src/common/logger.js';
import { HardExampleStore } from '../../src/core/incremental-learning/hard-example-store.js';

configureLogger({ level: 'silent', name: 'writer' });
const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: hard-example-writer.ts <dir>');
const store = await HardExampleStore.create({ dir });
process.stdout.write(`ready ${store.stats.cleaned}\n`);
const noise = randomBytes(4 * 1024 * 1024);
for (let i = 0; ; i++) {
  // Mostly raw bytes made without work, so the time goes into the writes; every fourth one JSON.
  const data = i % 4 === 3 ? { frame: i, pixels: Array.from(noise.subarray(0, 4096)) } : noise.subarray(i % 1024);
  const record = await store.save(data, { prediction: [0.4, 0.6], modelVersion: 'v1', meta: { frame: i } });
  process.stdout.write(`saved ${record?.id ?? 'dropped'}\n`);
}
