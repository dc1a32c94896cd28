#!/usr/bin/env node
/**
 * The `sedna` command's entry point: the one place besides core/config that reads process.env,
 * and the place that owns the process (exit codes, signals).
 */
import { isSednaError, messageOf } from '../core/errors.js';
import { buildProgram } from './program.js';

try {
  await buildProgram({ env: process.env, stdout: (text) => process.stdout.write(text) }).parseAsync(process.argv);
} catch (err) {
  const code = isSednaError(err) ? `${err.code}: ` : '';
  process.stderr.write(`sedna: ${code}${messageOf(err)}\n`);
  process.exitCode = 1;
}
