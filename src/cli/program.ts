/**
 * The `sedna` command's definition, kept apart from its entry point so tests can drive it.
 */
import { Command } from 'commander';
import { loadConfig, type Env } from '../common/config.js';
import { VERSION } from '../common/version.js';
import { formatDemoTable, runJointInferenceDemo } from './demo/joint-inference.js';
import { numberOption, progressBar } from './options.js';
import { registerRunCommands } from './run/command.js';
import { addSimulateCommand } from './simulate/command.js';
import { KBServer, kbServerOptionsFromConfig } from '../service/server/kb-server.js';

const SECRET_KEYS = new Set(['secretAccessKey', 'accessKeyId']);

export interface CliIo {
  env: Env;
  stdout: (text: string) => void;
  /** Where progress bars go (a TTY shows a live bar; anything else gets a line now and then). */
  stderr?: NodeJS.WriteStream;
  /** stdout is a terminal (`sedna run` redraws its summary in place). */
  stdoutIsTTY?: boolean;
}

export function buildProgram(io: CliIo): Command {
  const program = new Command('sedna')
    .description('sedna-sdk: run and inspect KubeEdge Sedna workers written in TypeScript/JavaScript')
    .version(VERSION)
    .exitOverride();

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

  const demo = program.command('demo').description('run a Sedna scenario on this machine, no cluster needed');
  demo
    .command('joint-inference', { isDefault: true })
    .description('edge model + hard example mining + cloud model over the bundled digits data, with an LC emulator')
    .option('--json', 'print the results as one JSON object')
    .option('--threshold <t>', 'CrossEntropy hard-example threshold', numberOption('--threshold', 0, 1), 0.75)
    .option('--samples <n>', 'use only the first n test samples', numberOption('--samples', 1, 1_000_000, true))
    .action(async (opts: { json?: boolean; threshold: number; samples?: number }) => {
      const bar =
        opts.json === true ? undefined : progressBar(io.stderr, 'joint inference |{bar}| {value}/{total} samples');
      const progress = { started: false };
      const result = await runJointInferenceDemo({
        threshold: opts.threshold,
        ...(opts.samples === undefined ? {} : { samples: opts.samples }),
        onProgress: (done, total) => {
          if (bar === undefined) return;
          if (!progress.started) {
            bar.start(total, 0);
            progress.started = true;
          }
          bar.update(done);
        },
      });
      if (progress.started) bar?.stop();
      if (opts.json === true) {
        io.stdout(`${JSON.stringify(result)}\n`);
        return;
      }
      io.stdout(
        `\nsedna-sdk joint inference demo: small edge model + big cloud model, CrossEntropy hard example mining\n`,
      );
      io.stdout(`${formatDemoTable(result)}\n`);
    });

  addSimulateCommand(program, io);
  program
    .command('kb')
    .description(
      "run Sedna's lifelong-learning knowledge base (KnowledgeBaseServer, KnowledgeBasePath, KB_URL), until SIGINT/SIGTERM",
    )
    .option(
      '--port <port>',
      'listen on this port instead of KnowledgeBaseServer / 9020',
      numberOption('--port', 0, 65535, true),
    )
    .action(async (opts: { port?: number }) => {
      const options = kbServerOptionsFromConfig(loadConfig(io.env));
      const kb = await KBServer.create({ ...options, ...(opts.port === undefined ? {} : { port: opts.port }) });
      const url = await kb.listen();
      io.stdout(`${JSON.stringify({ url, dir: kb.dir, database: kb.db.file })}\n`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void kb.close().then(resolve, resolve);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
  registerRunCommands(program, { env: io.env, stdout: io.stdout, isTTY: io.stdoutIsTTY === true });

  return program;
}
