/**
 * Starts librdkafka's mock Kafka cluster (Debian `kcat`): a protocol-faithful in-memory cluster of
 * `brokers` brokers on random loopback ports, kept alive by a kcat consumer. Used by the tests,
 * the benchmarks and `npm run example:reid -- --kafka`. No persistence: good for client paths.
 * Plain JavaScript (shared with scripts and benches); types in kafka-mock.d.mts.
 */
import { spawn } from 'node:child_process';
import { stopChild, waitForReady } from './child-process.mjs';

export const KAFKA_INSTALL_HINT = 'install kcat (librdkafka mock cluster) with: bash scripts/install-system-deps.sh';

/** @param {{ brokers?: number, timeoutMs?: number }} [options] */
export function startKafkaMock(options = {}) {
  const brokers = options.brokers ?? 1;
  const timeoutMs = options.timeoutMs ?? 20_000;
  // The consumed topic only keeps the cluster alive; `-q` keeps stdout quiet. librdkafka logs
  // continuously at debug level: waitForReady keeps reading (and dropping) it, or kcat blocks.
  const child = spawn(
    'kcat',
    [
      '-b',
      'localhost:9092',
      '-X',
      `test.mock.num.brokers=${brokers}`,
      '-C',
      '-q',
      '-t',
      '__sedna_keepalive',
      '-d',
      'generic',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return waitForReady(child, {
    stream: 'stderr',
    // The mock cluster logs its brokers' addresses once they listen.
    ready: (log) =>
      /replaced with ([0-9.:,]+)/
        .exec(log)?.[1]
        .split(',')
        .filter((a) => a !== ''),
    timeoutMs,
    timeoutSignal: 'SIGKILL',
    failure: (reason, { stderr, code, error }) =>
      reason === 'spawn'
        ? new Error(`cannot start kcat (${error.message}); ${KAFKA_INSTALL_HINT}`, { cause: error })
        : new Error(
            reason === 'timeout'
              ? `the Kafka mock cluster did not start within ${timeoutMs} ms: ${stderr.slice(-500)}`
              : `kcat exited with ${code} before the mock cluster was ready: ${stderr.slice(-500)}`,
          ),
  }).then((addresses) => ({ brokers: addresses, pid: child.pid, stop: () => stopChild(child) }));
}
