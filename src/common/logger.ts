/**
 * The library's logger: pino, writing JSON lines to stderr (so a worker's stdout stays its own).
 * Level from `LOG_LEVEL`, name from `JOB_NAME`, read lazily on first use; `configureLogger()`
 * replaces both (jobs call it with their config, tests silence it). The library never writes to
 * the console directly.
 */
import { pino, type Logger } from 'pino';
import { loadLoggingConfig, type LogLevel } from './config.js';

export type { Logger } from 'pino';

export interface LoggerOptions {
  level?: LogLevel;
  name?: string;
  /** Where lines go; defaults to stderr, written synchronously so nothing is lost at exit. */
  destination?: pino.DestinationStream;
}

let root: Logger | undefined;

/** Replaces the process-wide logger. */
export function configureLogger(options: LoggerOptions = {}): Logger {
  const defaults = options.level !== undefined && options.name !== undefined ? undefined : loadLoggingConfig();
  root = pino(
    {
      name: options.name ?? defaults?.name ?? 'sedna',
      level: options.level ?? defaults?.level ?? 'info',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? pino.destination({ fd: 2, sync: true }),
  );
  return root;
}

/** The process-wide logger, or a child of it tagged with a component name. */
export function getLogger(component?: string): Logger {
  const base = root ?? configureLogger();
  return component === undefined ? base : base.child({ component });
}
