/**
 * CSVDataParse streaming vs papaparse alone, on the same ~1 GB numeric CSV.
 *
 *   npx tsx bench/csv-stream.bench.ts [sizeMB]      (default 1024)
 *
 * Generates the file in a temp folder (deleted afterwards), then parses it once per variant, each
 * in its own child process so peak memory is clean: the kernel's peak-RSS counter (VmHWM) is reset
 * right before the parse (/proc/self/clear_refs) and read right after. Variants:
 *
 *   papaparse strings   Papa.parse(stream, { chunk }) with nothing else: the floor (no typing).
 *   papaparse + Number  the same, converting every cell with Number() in the chunk callback.
 *   papaparse dynamic   Papa.parse(stream, { chunk, dynamicTyping: true }): papaparse's own typing.
 *   sedna forEachRow    forEachCsvRow(file, row => ...) with a label column: typed rows, checked
 *                       (ragged rows, non-numeric cells), one callback per row, no collection.
 *
 * Prints rows/s, peak RSS growth and sedna's rows/s as a ratio of each papaparse variant. Not a
 * pass/fail test.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Papa from 'papaparse';
import { forEachCsvRow } from '../src/datasources/csv.js';

const FEATURES = 20;
const CHUNK = Number(process.env.CSV_BENCH_CHUNK ?? 64 * 1024);

type Mode = 'papaparse-strings' | 'papaparse-number' | 'papaparse-dynamic' | 'sedna';
const MODES: readonly Mode[] = ['papaparse-strings', 'papaparse-number', 'papaparse-dynamic', 'sedna'];

interface Result {
  mode: Mode;
  rows: number;
  seconds: number;
  peakGrowthMb: number;
  checksum: number;
}

/** Writes `bytes` of CSV: a header, then rows of FEATURES decimals and an integer label. */
async function generate(file: string, bytes: number): Promise<number> {
  // A pool of preformatted numbers, picked by a cheap generator: writing 1 GB stays I/O bound.
  const pool = Array.from({ length: 4096 }, (_, i) => (((i * 7919) % 100000) / 997 - 50).toFixed(4));
  let seed = 12345;
  const out = fs.createWriteStream(file, { highWaterMark: CHUNK });
  const header = `${Array.from({ length: FEATURES }, (_, i) => `f${i}`).join(',')},label\n`;
  out.write(header);
  let written = header.length;
  let rows = 0;
  while (written < bytes) {
    const lines: string[] = [];
    for (let r = 0; r < 5000; r++) {
      let line = '';
      for (let c = 0; c < FEATURES; c++) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        line += `${pool[seed & 4095] as string},`;
      }
      lines.push(`${line}${seed % 10}\n`);
    }
    const text = lines.join('');
    written += text.length;
    rows += lines.length;
    if (!out.write(text)) await once(out, 'drain');
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  return rows;
}

function papa(file: string, dynamicTyping: boolean, onRows: (rows: unknown[][]) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    Papa.parse<unknown[]>(fs.createReadStream(file, { encoding: 'utf8', highWaterMark: CHUNK }), {
      dynamicTyping,
      chunk: (results) => {
        onRows(results.data);
      },
      complete: () => {
        resolve();
      },
      error: reject,
    });
  });
}

function peakRssKb(): number {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

/** Runs one variant in this (child) process and prints its result as JSON. */
async function child(mode: Mode, file: string): Promise<void> {
  const before = process.memoryUsage().rss;
  let resetPeak = true;
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5'); // resets VmHWM to the current RSS
  } catch {
    resetPeak = false;
  }
  // Sampling as well, for kernels without clear_refs.
  let sampledPeak = before;
  const sampler = setInterval(() => {
    sampledPeak = Math.max(sampledPeak, process.memoryUsage().rss);
  }, 20);
  let rows = 0;
  let checksum = 0;
  const started = performance.now();
  if (mode === 'sedna') {
    const summary = await forEachCsvRow(
      file,
      (row) => {
        checksum += (row.values[0] as number) + (row.label as number);
      },
      { label: 'label', chunkBytes: CHUNK },
    );
    rows = summary.rows;
  } else {
    let header = true;
    await papa(file, mode === 'papaparse-dynamic', (data) => {
      for (let r = header ? 1 : 0; r < data.length; r++) {
        const row = data[r] as unknown[];
        if (row.length === 1) continue; // the trailing empty line
        if (mode === 'papaparse-number') for (let c = 0; c < row.length; c++) row[c] = Number(row[c]);
        checksum +=
          mode === 'papaparse-strings' ? (row[0] as string).length : (row[0] as number) + (row[FEATURES] as number);
        rows++;
      }
      header = false;
    });
  }
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  const peak = resetPeak ? peakRssKb() * 1024 : Math.max(sampledPeak, process.memoryUsage().rss);
  const result: Result = { mode, rows, seconds, peakGrowthMb: (peak - before) / 2 ** 20, checksum };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function runChild(mode: Mode, file: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child', mode, file], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    proc.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    proc.on('error', reject);
    proc.on('close', (code) => {
      if (code !== 0) reject(new Error(`${mode} exited with ${code}`));
      else resolve(JSON.parse(out.trim().split('\n').pop() ?? '{}') as Result);
    });
  });
}

async function main(): Promise<void> {
  const sizeMb = Number(process.argv[2] ?? 1024);
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'sedna-csv-bench-'));
  const cleanup = (): void => {
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  try {
    const file = path.join(dir, 'data.csv');
    let t = performance.now();
    const rows = await generate(file, sizeMb * 2 ** 20);
    const size = fs.statSync(file).size;
    console.log(
      `generated ${(size / 2 ** 20).toFixed(0)} MiB, ${rows.toLocaleString('en')} rows × ${FEATURES + 1} columns in ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );
    // Warm the page cache so the first variant does not pay for the disk.
    t = performance.now();
    for await (const _ of fs.createReadStream(file, { highWaterMark: CHUNK })) {
      // read through
    }
    console.log(`read once to warm the cache in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    const results = new Map<Mode, Result>();
    for (const mode of MODES) {
      const result = await runChild(mode, file);
      results.set(mode, result);
      console.log(
        `${mode.padEnd(18)} ${result.rows.toLocaleString('en').padStart(11)} rows  ${result.seconds.toFixed(2).padStart(6)} s  ` +
          `${Math.round(result.rows / result.seconds)
            .toLocaleString('en')
            .padStart(10)} rows/s  ` +
          `${(size / 2 ** 20 / result.seconds).toFixed(0).padStart(4)} MiB/s  peak RSS growth ${result.peakGrowthMb.toFixed(0)} MB`,
      );
    }
    const sedna = results.get('sedna') as Result;
    for (const mode of MODES.filter((m) => m !== 'sedna')) {
      const base = results.get(mode) as Result;
      if (base.rows !== sedna.rows) console.log(`!! ${mode} saw ${base.rows} rows, sedna ${sedna.rows}`);
      console.log(
        `ratio sedna / ${mode}: ${(sedna.rows / sedna.seconds / (base.rows / base.seconds)).toFixed(2)}× rows/s`,
      );
    }
    console.log(
      `sedna peak RSS growth: ${sedna.peakGrowthMb.toFixed(0)} MB for a ${(size / 2 ** 20).toFixed(0)} MiB file`,
    );
  } finally {
    cleanup();
  }
}

if (process.argv[2] === '--child') await child(process.argv[3] as Mode, process.argv[4] as string);
else await main();
