/**
 * The LocalController's dataset handling for incremental (and lifelong) learning jobs, as Sedna's
 * LC does it: the Dataset's file is read every check period, its new samples are split by
 * `trainProb` into train and eval samples, and each round's samples are written to
 * `<outputDir>/data/{train,eval}/<round>/data.txt` for the workers.
 *
 * Two fixes over Sedna: empty lines are not samples (Sedna's docs say so; its code counted them),
 * and the eval samples are the last five versions once each (Sedna appended every version again
 * at each new batch, so eval sets grew with duplicates). A CSV dataset keeps its header in the
 * round files (Sedna wrote no file for CSV).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { SednaError, messageOf } from '../../common/errors.js';

/** Sedna's EvalSamplesCapacity. */
export const EVAL_VERSIONS = 5;

export interface DatasetSamples {
  /** The CSV header line (CSV datasets only). */
  readonly header: string | undefined;
  readonly samples: readonly string[];
}

export async function readDatasetSamples(file: string, format: string): Promise<DatasetSamples> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new SednaError('SEDNA_ERR_FILE_NOT_FOUND', `cannot read the dataset file ${file}: ${messageOf(err)}`, {
      cause: err,
    });
  }
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  switch (format.toLowerCase()) {
    case 'txt':
      return { header: undefined, samples: lines };
    case 'csv':
      return { header: lines[0], samples: lines.slice(1) };
    default:
      throw new SednaError('SEDNA_ERR_INVALID_RESOURCE', `dataset format ${JSON.stringify(format)} is not txt or csv`);
  }
}

/** Sedna's DataSamples: new samples since the last look, split into train and eval. */
export class SampleSplitter {
  /** Samples seen so far (Sedna's PreviousNumbers). */
  previous = 0;
  train: string[] = [];
  readonly evalVersions: string[][] = [];
  header: string | undefined;

  constructor(private readonly trainProb: number) {}

  /** Takes the dataset's current samples; returns how many were new. */
  update(current: DatasetSamples): number {
    this.header = current.header;
    const all = current.samples;
    if (all.length < this.previous) this.previous = all.length; // the file was rewritten shorter
    if (all.length === this.previous) return 0;
    const fresh = all.slice(this.previous);
    const trainCount = Math.trunc(this.trainProb * fresh.length);
    this.train.push(...fresh.slice(0, trainCount));
    this.evalVersions.push(fresh.slice(trainCount));
    while (this.evalVersions.length > EVAL_VERSIONS) this.evalVersions.shift();
    this.previous = all.length;
    return fresh.length;
  }

  /** The eval samples: the last versions, each once. */
  evalSamples(): string[] {
    return this.evalVersions.flat();
  }

  /** Sedna's forwardSamples after a train trigger: the train samples are consumed. */
  consumeTrain(): string[] {
    const taken = this.train;
    this.train = [];
    return taken;
  }
}

/** Writes a round's samples: `<dir>/<round>/data.txt` (with the CSV header for CSV). */
export async function writeRoundSamples(
  dir: string,
  round: number,
  samples: readonly string[],
  header: string | undefined,
): Promise<string> {
  const roundDir = path.join(dir, String(round));
  await fs.mkdir(roundDir, { recursive: true });
  const file = path.join(roundDir, 'data.txt');
  const lines = header === undefined ? samples : [header, ...samples];
  await fs.writeFile(file, lines.length === 0 ? '' : `${lines.join('\n')}\n`);
  return file;
}
