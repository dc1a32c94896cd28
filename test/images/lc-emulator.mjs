// The LocalController for the image suite, run in a container of the sedna-sdk-core image: the
// SDK's LC emulator (sedna-sdk/testing) on 0.0.0.0:9100, printing one JSON line per report it
// receives, with what the real LC would forward to the GlobalManager. KNOWN_JOBS lists the
// incremental/lifelong-learning jobs the GM "inserted" (`kind/namespace/name`, comma-separated).
import { LCEmulator } from 'sedna-sdk/testing';

const knownJobs = (process.env.KNOWN_JOBS ?? '')
  .split(',')
  .filter(Boolean)
  .map((entry) => {
    const [kind, namespace, name] = entry.split('/');
    return { kind, namespace, name };
  });
const lc = await LCEmulator.start({ host: '0.0.0.0', port: 9100, knownJobs });
let forwardedBefore = 0;
lc.on('report', (report) => {
  // A report the LC forwards is recorded before the event: it is the newest forwarded message.
  const forwarded = lc.forwarded.length > forwardedBefore ? lc.forwarded.at(-1) : null;
  forwardedBefore = lc.forwarded.length;
  const line = { event: 'report', worker: report.worker, status: report.status, body: report.body, forwarded };
  process.stdout.write(`${JSON.stringify(line)}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT'])
  process.once(signal, () => {
    void lc.close().then(() => process.exit(0));
  });
process.stdout.write(`${JSON.stringify({ event: 'listening', port: 9100 })}\n`);
