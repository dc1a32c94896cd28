/**
 * `sedna simulate fl [options]`: federated learning with many virtual clients in this process.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { numberOption, progressBar } from '../options.js';
import { formatSimulationTable, parseParams, simulateDigits } from './fl.js';

interface SimulateFlOptions {
  clients: number;
  rounds: number;
  strategy: string;
  param: string[];
  partition: string;
  perRound?: number;
  clientChoose: string;
  epochs: number;
  batchSize: number;
  learningRate: number;
  publicFraction: number;
  poisoned: number;
  attack: string;
  seed: number;
  json?: boolean;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** Where the command writes (the program's CliIo fits). */
export interface SimulateIo {
  readonly stdout: (text: string) => void;
  /** Where the progress bar goes. */
  readonly stderr?: NodeJS.WriteStream;
}

export function addSimulateCommand(program: Command, io: SimulateIo): void {
  const simulate = program.command('simulate').description('simulate a Sedna job with many workers in this process');
  simulate
    .command('fl')
    .description('federated learning with virtual clients on the bundled digits data, over an in-memory transport')
    .option('--clients <n>', 'virtual clients', numberOption('--clients', 1, 1_000_000, true), 10)
    .option('--rounds <n>', 'rounds', numberOption('--rounds', 1, 100_000, true), 5)
    .option(
      '--strategy <name>',
      'aggregation: FedAvg, FedAvgV2, FedProx, FedAdam, FedYogi, TrimmedMean, Krum, MistNet',
      'FedAvg',
    )
    .option('--param <key=value>', 'a strategy parameter, as in the CRD (repeatable)', collect, [])
    .option('--partition <spec>', 'iid, dirichlet:<alpha> or shards:<k>', 'iid')
    .option('--per-round <n>', 'clients per round (default: all)', numberOption('--per-round', 1, 1_000_000, true))
    .option('--client-choose <name>', 'SimpleClientChoose or WeightedClientChoose', 'SimpleClientChoose')
    .option('--epochs <n>', 'local epochs per round', numberOption('--epochs', 1, 10_000, true), 5)
    .option('--batch-size <n>', 'local batch size', numberOption('--batch-size', 1, 1_000_000, true), 32)
    .option('--learning-rate <lr>', 'local learning rate (Adam)', numberOption('--learning-rate', 1e-9, 10), 0.01)
    .option(
      '--public-fraction <f>',
      'share of the data the server pretrains on (MistNet)',
      numberOption('--public-fraction', 0, 0.99),
      0,
    )
    .option('--poisoned <n>', 'poisoned clients', numberOption('--poisoned', 0, 1_000_000, true), 0)
    .option('--attack <kind>', 'noise or sign-flip', 'noise')
    .option('--seed <n>', 'seed of the partition, choice and attack', numberOption('--seed', 0, 2 ** 32 - 1, true), 1)
    .option('--json', 'print the results as one JSON object')
    .action(async (opts: SimulateFlOptions) => {
      if (opts.attack !== 'noise' && opts.attack !== 'sign-flip') {
        throw new InvalidArgumentError('--attack must be noise or sign-flip');
      }
      const bar =
        opts.json === true
          ? undefined
          : progressBar(
              io.stderr,
              'simulate fl |{bar}| {value}/{total} client turns | round {round} accuracy {accuracy}',
            );
      const progress = { started: false };
      let lastRound = { round: '-', accuracy: '-' };
      const result = await simulateDigits({
        clients: opts.clients,
        rounds: opts.rounds,
        strategy: opts.strategy,
        strategyParams: parseParams(opts.param),
        partition: opts.partition,
        ...(opts.perRound === undefined ? {} : { perRound: opts.perRound }),
        clientChoose: opts.clientChoose,
        epochs: opts.epochs,
        batchSize: opts.batchSize,
        learningRate: opts.learningRate,
        publicFraction: opts.publicFraction,
        ...(opts.poisoned > 0 ? { attack: { clients: opts.poisoned, kind: opts.attack } } : {}),
        seed: opts.seed,
        onRound: (r) => {
          lastRound = { round: String(r.round), accuracy: `${(r.accuracy * 100).toFixed(1)} %` };
        },
        onProgress: (done, total) => {
          if (bar === undefined) return;
          if (!progress.started) {
            bar.start(total, 0, lastRound);
            progress.started = true;
          }
          bar.update(done, lastRound);
        },
      });
      if (progress.started) bar?.stop();
      if (opts.json === true) {
        io.stdout(`${JSON.stringify(result)}\n`);
        return;
      }
      io.stdout('\nsedna-sdk federated learning simulation (digits, TF.js MLP 64-32-10)\n');
      io.stdout(`${formatSimulationTable(result)}\n`);
    });
}
