/**
 * The federated-learning simulation at scale: time per round and peak memory.
 *
 *   npx tsx bench/fl-simulation.bench.ts            # 100 clients × 20 rounds
 *   npx tsx bench/fl-simulation.bench.ts --quick    # 100 clients × 3 rounds
 *
 * 1. 100 virtual clients × 20 rounds of the digits MLP (FedAvg, Dirichlet α = 0.3, 5 local epochs,
 *    every client every round): seconds per round (median and all), client turns per second, peak
 *    RSS, and the final accuracy.
 * 2. What one more client costs: peak RSS of one round with 10 clients and with 1,000 clients
 *    (10 of them chosen, so the training work is the same), each in a fresh process, on the same
 *    data: (rss(1000) − rss(10)) / 990 is the memory of a client beyond its samples.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { configureLogger } from '../src/common/logger.js';
import { simulateDigits } from '../src/cli/simulate/fl.js';

configureLogger({ level: 'warn' });
const MiB = 2 ** 20;

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

/** One round with `clients` clients, 10 of them chosen: prints the peak RSS (run in a child). */
async function memoryCase(clients: number): Promise<void> {
  const result = await simulateDigits({ clients, rounds: 1, perRound: 10, epochs: 1, partition: 'iid' });
  console.log(JSON.stringify({ clients, peakRssBytes: result.peakRssBytes }));
}

if (process.argv[2] === '--memory-case') {
  await memoryCase(Number(process.argv[3]));
  process.exit(0);
}

function peakRss(clients: number): number {
  const child = spawnSync(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), '--memory-case', String(clients)],
    { encoding: 'utf8' },
  );
  const line = child.stdout.trim().split('\n').at(-1) ?? '';
  if (child.status !== 0 || !line.startsWith('{')) throw new Error(`memory case failed: ${child.stderr}`);
  return (JSON.parse(line) as { peakRssBytes: number }).peakRssBytes;
}

const rounds = process.argv.includes('--quick') ? 3 : 20;
const cpu0 = process.cpuUsage();
const result = await simulateDigits({
  clients: 100,
  rounds,
  strategy: 'FedAvg',
  partition: 'dirichlet:0.3',
  epochs: 5,
});
const cpu = process.cpuUsage(cpu0);
const perRound = result.rounds.map((r) => r.ms / 1000);
console.log(
  `simulate fl: 100 clients × ${rounds} rounds (FedAvg, dirichlet:0.3, 5 local epochs): ${result.seconds.toFixed(1)} s, ` +
    `${median(perRound).toFixed(2)} s per round (median; min ${Math.min(...perRound).toFixed(2)}, max ${Math.max(...perRound).toFixed(2)}), ` +
    `${((100 * rounds) / result.rounds.reduce((s, r) => s + r.ms / 1000, 0)).toFixed(0)} client turns/s; ` +
    `CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s; peak RSS ${(result.peakRssBytes / MiB).toFixed(0)} MiB; ` +
    `accuracy ${(result.initialAccuracy * 100).toFixed(1)} % → ${(result.finalAccuracy * 100).toFixed(1)} %; ` +
    `${(result.bytesMoved / 1e6).toFixed(1)} MB moved`,
);
const small = peakRss(10);
const large = peakRss(1000);
const perClient = (large - small) / 990;
console.log(
  `one more client: peak RSS 10 clients ${(small / MiB).toFixed(1)} MiB, 1,000 clients ${(large / MiB).toFixed(1)} MiB → ` +
    `${(perClient / 1024).toFixed(1)} KiB per client beyond its samples (target: ≤ a few MB)`,
);
console.log(
  JSON.stringify({
    rounds,
    seconds: result.seconds,
    secondsPerRoundMedian: median(perRound),
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    peakRssBytes: result.peakRssBytes,
    finalAccuracy: result.finalAccuracy,
    bytesMoved: result.bytesMoved,
    peakRss10Clients: small,
    peakRss1000Clients: large,
    bytesPerClient: perClient,
  }),
);
