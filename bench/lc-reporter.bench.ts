/**
 * LCReporter timing. Part 1: a 200 ms period over 10 periods with steady updates: how far each
 * report lands from its ideal time t0 + k·period (drift; target ≤ 1 period after 10 periods).
 * Part 2: the LC emulator stopped for 5 periods, then restarted on the same port: time from the
 * restart to the delivery of the latest state (target ≤ 1 period).
 */
import { LCClient } from '../src/service/client/lc-client.js';
import { LCReporter } from '../src/service/client/lc-reporter.js';
import { LCEmulator } from '../src/testing/lc-emulator.js';

const periodMs = 200;
const message = {
  name: 'bench',
  namespace: '',
  ownerName: 'sedna',
  ownerKind: 'jointinferenceservice',
  kind: 'inference',
  results: [],
};

// Part 1: drift.
{
  const lc = await LCEmulator.start();
  const client = new LCClient({ lcServer: lc.url });
  const arrivals: number[] = [];
  lc.on('report', () => arrivals.push(performance.now()));
  const t0 = performance.now();
  const reporter = LCReporter.start({ client, message, periodMs });
  const load = setInterval(() => reporter.updateForEdgeInference(), 5);
  await lc.waitFor((r) => r.length >= 10, 10 * periodMs + 2_000);
  clearInterval(load);
  await reporter.close();
  const offsets = arrivals.slice(0, 10).map((t, k) => t - (t0 + (k + 1) * periodMs));
  const worst = Math.max(...offsets.map(Math.abs));
  console.log(
    `part 1: 10 reports at period ${periodMs} ms; offsets from the ideal schedule (ms): ${offsets.map((o) => o.toFixed(1)).join(', ')}`,
  );
  console.log(
    `part 1: drift after 10 periods = ${offsets[9]!.toFixed(1)} ms, worst = ${worst.toFixed(1)} ms = ${(worst / periodMs).toFixed(3)} period (target ≤ 1)`,
  );
  client.close();
  await lc.close();
}

// Part 2: outage and recovery.
{
  const first = await LCEmulator.start();
  const port = first.port;
  const client = new LCClient({ lcServer: first.url, timeoutMs: periodMs, maxAttempts: 1 });
  const reporter = LCReporter.start({ client, message, periodMs });
  const load = setInterval(() => reporter.updateForCollaborationInference(), 5);
  await first.waitFor((r) => r.length >= 2, 5 * periodMs);
  await first.close();
  const downAt = performance.now();
  await new Promise((resolve) => setTimeout(resolve, 5 * periodMs)); // the outage itself: 5 periods
  clearInterval(load);
  const expected = reporter.counters;
  const second = await LCEmulator.start({ port });
  const upAt = performance.now();
  await second.waitFor((r) => r.length >= 1, 10 * periodMs);
  const deliveredAt = performance.now();
  const delivered = (JSON.parse(second.reports[0]!.raw) as { ownerInfo: { inferenceNumber: number } }).ownerInfo;
  console.log(
    `part 2: LC down for ${(upAt - downAt).toFixed(0)} ms (${reporter.deliveries.failed} failed sends meanwhile)`,
  );
  console.log(
    `part 2: latest state (${delivered.inferenceNumber} inferences; expected ${expected.inferenceNumber}) delivered ${(deliveredAt - upAt).toFixed(1)} ms after the restart = ${((deliveredAt - upAt) / periodMs).toFixed(3)} period (target ≤ 1)`,
  );
  await reporter.close();
  client.close();
  await second.close();
}
