/**
 * The library's logger pointed at memory: what a worker would print, as parsed JSON lines. Tests
 * that check a diagnostic use level `error`, as the conformance workers run (LOG_LEVEL=error).
 */
import { Writable } from 'node:stream';
import { configureLogger, type LoggerOptions } from '../../src/common/logger.js';

export interface CapturedLogs {
  readonly stream: Writable;
  /** Every line written so far. */
  lines(): Record<string, unknown>[];
  /** Puts the tests' silent logger back. */
  restore(): void;
}

/** Captures log lines into memory; with `level`, also makes the library log there at that level. */
export function captureLogs(level?: LoggerOptions['level']): CapturedLogs {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  if (level !== undefined) configureLogger({ level, name: 'test', destination: stream });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    restore: () => {
      configureLogger({ level: 'silent', name: 'sedna' });
    },
  };
}
