#!/usr/bin/env node
/**
 * The `sedna` command's entry point: the one place besides common/config that reads process.env,
 * and the place that owns the process (exit codes, signals).
 */
import { CommanderError } from 'commander';
import { loadLoggingConfig } from '../common/config.js';
import { isSednaError, messageOf } from '../common/errors.js';
import { configureLogger } from '../common/logger.js';
import { buildProgram } from './program.js';

try {
  // A command-line run shows warnings and errors only, unless LOG_LEVEL asks for more.
  const logging = loadLoggingConfig(process.env);
  configureLogger({
    name: logging.name,
    level: process.env.LOG_LEVEL === undefined || process.env.LOG_LEVEL === '' ? 'warn' : logging.level,
  });
  await buildProgram({
    env: process.env,
    stdout: (text) => process.stdout.write(text),
    stderr: process.stderr,
    stdoutIsTTY: process.stdout.isTTY,
  }).parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // commander already printed help, the version or its usage error.
    process.exitCode = err.exitCode;
  } else {
    const code = isSednaError(err) ? `${err.code}: ` : '';
    process.stderr.write(`sedna: ${code}${messageOf(err)}\n`);
    process.exitCode = 1;
  }
}
