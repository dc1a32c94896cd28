/**
 * The `sedna` command's definition, kept apart from its entry point so tests can drive it.
 */
import { Command } from 'commander';
import { loadConfig, type Env } from '../core/config.js';
import { VERSION } from '../version.js';

const SECRET_KEYS = new Set(['secretAccessKey', 'accessKeyId']);

export interface CliIo {
  env: Env;
  stdout: (text: string) => void;
}

export function buildProgram(io: CliIo): Command {
  const program = new Command('sedna')
    .description('sedna-sdk: run and inspect KubeEdge Sedna workers written in TypeScript/JavaScript')
    .version(VERSION);

  program
    .command('config')
    .description('print the Sedna configuration this environment gives a worker (secrets hidden)')
    .action(() => {
      const config = loadConfig(io.env);
      const shown = Object.fromEntries(
        Object.entries(config).map(([k, v]) => [k, SECRET_KEYS.has(k) && v !== '' ? '***' : v]),
      );
      io.stdout(`${JSON.stringify(shown, null, 2)}\n`);
    });

  return program;
}
