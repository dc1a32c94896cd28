/**
 * The LC emulator in its own process, as the real LocalController is: `tsx bench/lib/lc-emulator-process.ts`
 * prints `{"url"}` on its first line; on SIGTERM it prints `{"reports": [[kind, status], ...]}` and exits.
 */
import { LCEmulator } from '../../src/testing/lc-emulator.js';

const lc = await LCEmulator.start({
  knownJobs: [{ kind: 'incrementallearningjob', namespace: 'default', name: process.argv[2] ?? 'bench-il' }],
});
process.stdout.write(`${JSON.stringify({ url: lc.url })}\n`);
process.once('SIGTERM', () => {
  const reports = lc.accepted().map((r) => [r.kind, r.status]);
  process.stdout.write(`${JSON.stringify({ reports })}\n`, () => {
    void lc.close().then(() => process.exit(0));
  });
});
