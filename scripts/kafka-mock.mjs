/**
 * Starts librdkafka's mock Kafka cluster (Debian `kcat`): a protocol-faithful in-memory cluster of
 * `brokers` brokers on random loopback ports, kept alive by a kcat consumer. Used by the tests,
 * the benchmarks and `npm run example:reid -- --kafka`. No persistence: good for client paths.
 * Plain JavaScript (shared with scripts and benches); types in kafka-mock.d.mts.
 */
import { spawn } from 'node:child_process';

export const KAFKA_INSTALL_HINT = 'install kcat (librdkafka mock cluster) with: bash scripts/install-system-deps.sh';

/** @param {{ brokers?: number, timeoutMs?: number }} [options] */
export function startKafkaMock(options = {}) {
  const brokers = options.brokers ?? 1;
  const timeoutMs = options.timeoutMs ?? 20_000;
  // The consumed topic only keeps the cluster alive; `-q` keeps stdout quiet.
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
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve(undefined);
      child.once('exit', () => resolve(undefined));
      child.kill('SIGTERM');
    });
  return new Promise((resolve, reject) => {
    let log = '';
    let ready = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the Kafka mock cluster did not start within ${timeoutMs} ms: ${log.slice(-500)}`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot start kcat (${err.message}); ${KAFKA_INSTALL_HINT}`, { cause: err }));
    });
    child.once('exit', (code) => {
      if (ready) return;
      clearTimeout(timer);
      reject(new Error(`kcat exited with ${code} before the mock cluster was ready: ${log.slice(-500)}`));
    });
    // librdkafka logs continuously at debug level: keep reading (and dropping) or kcat blocks.
    child.stderr.setEncoding('utf8').on('data', (text) => {
      if (ready) return;
      log = (log + text).slice(-20_000);
      const m = /replaced with ([0-9.:,]+)/.exec(log);
      if (m === null) return;
      ready = true;
      clearTimeout(timer);
      const addresses = m[1].split(',').filter((a) => a !== '');
      resolve({ brokers: addresses, pid: child.pid, stop });
    });
  });
}
