/**
 * Datasources on real files (and the S3 test server for remote index files and CSVs):
 * Sedna's index-file formats, path resolution, missing samples, streaming CSV with typed columns,
 * and JSON save/load round trips.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { MemoryDataSource, loadDataSource } from '../../src/datasources/base.js';
import { CSVDataParse, type CsvProgress, type CsvRow } from '../../src/datasources/csv.js';
import type { FileOps } from '../../src/datasources/file-ops.js';
import { TxtDataParse } from '../../src/datasources/txt.js';
import { s3FileOps, s3TestSettings, uniquePrefix } from '../helpers/s3.js';
import { rejectionOf } from '../helpers/errors.js';

let root: string;
beforeEach(async () => {
  root = await fsp.mkdtemp(path.join('/tmp', 'sedna-ds-test-'));
});
afterEach(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});

async function write(name: string, text: string): Promise<string> {
  const file = path.join(root, name);
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await fsp.writeFile(file, text);
  return file;
}

describe('TxtDataParse', () => {
  const HELMET = ['images/0001.jpg 1,2,3,4,0 5,6,7,8,1', '', '  images/0002.jpg 9,9,20,20,1  ', ''].join('\n');

  it('splits lines on whitespace: x = first field, y = second (Sedna without use_raw)', async () => {
    const index = await write('data/train.txt', `${HELMET}\nimages/0003.jpg\n`);
    const ds = await new TxtDataParse('train').parse(index);
    expect(ds.x).toEqual(['images/0001.jpg', 'images/0002.jpg', 'images/0003.jpg']);
    expect(ds.y).toEqual(['1,2,3,4,0', '9,9,20,20,1', 0]); // a missing label is 0, as in Sedna
    expect(ds.numExamples()).toBe(3);
    expect(ds.isTestData).toBe(false);
  });

  it('keeps the helmet line whole with useRaw and resolves its image against the index folder', async () => {
    const index = await write('data/train.txt', HELMET);
    const ds = await new TxtDataParse('train').parse(index, { useRaw: true, pathRoot: 'index' });
    expect(ds.x).toEqual([
      `${root}/data/images/0001.jpg 1,2,3,4,0 5,6,7,8,1`,
      `${root}/data/images/0002.jpg 9,9,20,20,1`,
    ]);
    expect(ds.y).toBeUndefined();
  });

  it('test data carries no labels', async () => {
    const index = await write('test.txt', HELMET);
    const ds = await new TxtDataParse('test').parse(index);
    expect(ds.isTestData).toBe(true);
    expect(ds.x).toHaveLength(2);
    expect(ds.y).toBeUndefined();
  });

  it('parses the FL "path,label" format with a processFunc, resolved against a given root', async () => {
    const index = await write(
      'fl/1.txt',
      'Magnetic-tile-defect-datasets/MT_Blowhole/Imgs/a.jpg,1\nMagnetic-tile-defect-datasets/MT_Free/Imgs/b.jpg,0\n',
    );
    const ds = await new TxtDataParse<string, number>('train', {
      processFunc: (line) => {
        const [file = '', label = '0'] = line.split(',');
        return [file, Number(label)];
      },
    }).parse(index, { pathRoot: '/data/surface' });
    expect(ds.x).toEqual([
      '/data/surface/Magnetic-tile-defect-datasets/MT_Blowhole/Imgs/a.jpg',
      '/data/surface/Magnetic-tile-defect-datasets/MT_Free/Imgs/b.jpg',
    ]);
    expect(ds.y).toEqual([1, 0]);
  });

  it('processFunc can skip lines, and its failure names the file and line', async () => {
    const index = await write('f.txt', '# comment\na.jpg 1\nbad\n');
    const ds = await new TxtDataParse('train', {
      processFunc: (line) => (line.startsWith('#') ? null : (line.split(' ') as [string, string])),
    }).parse(index);
    expect(ds.x).toEqual(['a.jpg', 'bad']);
    expect(ds.y).toEqual(['1', 0]);
    const failing = new TxtDataParse('train', {
      processFunc: (line, info) => {
        if (info.line === 3) throw new Error(`cannot parse ${line}`);
        return [line];
      },
    });
    const err = await rejectionOf(failing.parse(index));
    expect(err.code).toBe('SEDNA_ERR_DATA_FORMAT');
    expect(err.message).toContain(`${index}:3`);
  });

  it('checkFiles lists every missing sample with its index file and line', async () => {
    await write('data/images/0001.jpg', 'jpg');
    const index = await write('data/train.txt', HELMET);
    const err = await rejectionOf(new TxtDataParse('train').parse(index, { pathRoot: 'index', checkFiles: true }));
    expect(err.code).toBe('SEDNA_ERR_FILE_NOT_FOUND');
    expect(err.message).toContain('1 of 2 samples');
    expect(err.message).toContain(`${index}:3: ${root}/data/images/0002.jpg`);
    expect(err.message).not.toContain('0001.jpg');
    await write('data/images/0002.jpg', 'jpg');
    const ds = await new TxtDataParse('train').parse(index, { pathRoot: 'index', checkFiles: true });
    expect(ds.numExamples()).toBe(2);
  });

  it('a missing index file is SEDNA_ERR_FILE_NOT_FOUND (Sedna skipped it silently)', async () => {
    const missing = path.join(root, 'nope.txt');
    const err = await rejectionOf(new TxtDataParse('train').parse([missing]));
    expect(err.code).toBe('SEDNA_ERR_FILE_NOT_FOUND');
    expect(err.message).toContain(missing);
  });

  it('reads several index files in order', async () => {
    const a = await write('a.txt', 'x1 0\nx2 1\n');
    const b = await write('b.txt', 'x3 1\n');
    const ds = await new TxtDataParse('train').parse([a, b]);
    expect(ds.x).toEqual(['x1', 'x2', 'x3']);
    expect(ds.y).toEqual(['0', '1', '1']);
  });
});

describe('CSVDataParse', () => {
  const CSV = 'id,temp,humidity,city,label\n1,20.5,0.3,Paris,0\n2,-3,0.9,Oslo,1\n3,,0.5,"Rome, IT",1\n';

  it('collects typed columns (numbers, strings, missing as NaN) and the label as y', async () => {
    const file = await write('t.csv', CSV);
    const ds = await new CSVDataParse('train').parse(file, { label: 'label' });
    const table = ds.table;
    if (table === undefined) throw new Error('no table');
    expect(table.columns).toEqual(['id', 'temp', 'humidity', 'city']);
    expect(table.types).toEqual(['number', 'number', 'number', 'string']);
    expect(ds.numExamples()).toBe(3);
    expect(ds.y).toEqual([0, 1, 1]);
    expect(table.row(0)).toEqual([1, 20.5, 0.3, 'Paris']);
    expect(table.row(2)[1]).toBeNaN();
    expect(table.row(2)[3]).toBe('Rome, IT'); // a quoted field with the delimiter inside
    expect(ds.x[1]).toEqual([2, -3, 0.9, 'Oslo']);
    expect(table.column('city')).toEqual(['Paris', 'Oslo', 'Rome, IT']);
    expect(Array.from(table.column('humidity') as Float64Array)).toEqual([0.3, 0.9, 0.5]);
  });

  it('stores all-numeric tables compactly: x rows are typed-array views, toMatrix is contiguous', async () => {
    const file = await write('n.csv', 'a,b,y\n1,2,0\n3,4,1\n5,6,0\n');
    const ds = await new CSVDataParse('train').parse(file, { label: 'y', dtype: 'float32' });
    expect(ds.x[2]).toBeInstanceOf(Float32Array);
    expect(Array.from(ds.x[2] as Float32Array)).toEqual([5, 6]);
    const matrix = ds.table?.toMatrix();
    expect(matrix?.data).toBeInstanceOf(Float32Array);
    expect(Array.from(matrix?.data ?? [])).toEqual([1, 2, 3, 4, 5, 6]);
    expect([matrix?.rows, matrix?.cols]).toEqual([3, 2]);
  });

  it('usecols (Sedna comma string) keeps those columns plus the label; declared string columns stay text', async () => {
    const file = await write('t.csv', 'zip,temp,humidity,label\n007,20,0.3,a\n010,21,0.4,b\n');
    const ds = await new CSVDataParse('train').parse(file, {
      label: 'label',
      usecols: 'zip, temp',
      columnTypes: { zip: 'string' },
    });
    expect(ds.table?.columns).toEqual(['zip', 'temp']);
    expect(ds.x[0]).toEqual(['007', 20]);
    expect(ds.y).toEqual(['a', 'b']);
  });

  it('a ragged row is SEDNA_ERR_DATA_FORMAT naming file:line and the column counts', async () => {
    const file = await write('r.csv', 'a,b,c\n1,2,3\n\n4,5\n6,7,8\n');
    const err = await rejectionOf(new CSVDataParse('train').parse(file));
    expect(err.code).toBe('SEDNA_ERR_DATA_FORMAT');
    expect(err.message).toContain(`${file}:4:`); // the blank line 3 is skipped but counted
    expect(err.message).toContain('expected 3 columns');
    expect(err.message).toContain('found 2');
  });

  it('a non-numeric cell in a numeric column names file:line:column and the cell', async () => {
    const rows = Array.from({ length: 50_000 }, (_, i) => `${i},${i * 2}`);
    rows[40_000] = '40000,oops';
    const file = await write('bad.csv', `a,b\n${rows.join('\n')}\n`);
    const err = await rejectionOf(new CSVDataParse('train').parse(file, { chunkBytes: 64 * 1024 }));
    expect(err.code).toBe('SEDNA_ERR_DATA_FORMAT');
    expect(err.message).toContain(`${file}:40002:2`);
    expect(err.message).toContain('"b"');
    expect(err.message).toContain('"oops"');
    expect(err.details).toMatchObject({ line: 40002, column: 2, cell: 'oops' });
  });

  it('an empty file is SEDNA_ERR_DATA_FORMAT; a header-only file has zero rows', async () => {
    const empty = await write('empty.csv', '');
    const err = await rejectionOf(new CSVDataParse('train').parse(empty));
    expect(err.code).toBe('SEDNA_ERR_DATA_FORMAT');
    expect(err.message).toContain(empty);
    const headerOnly = await write('h.csv', 'a,b,label\n');
    const ds = await new CSVDataParse('train').parse(headerOnly, { label: 'label' });
    expect(ds.numExamples()).toBe(0);
    expect(ds.table?.columns).toEqual(['a', 'b']);
    expect(ds.y).toEqual([]);
  });

  it('a missing label column or usecols column is an error listing the columns', async () => {
    const file = await write('t.csv', 'a,b\n1,2\n');
    const noLabel = await rejectionOf(new CSVDataParse('train').parse(file, { label: 'y' }));
    expect(noLabel.code).toBe('SEDNA_ERR_DATA_FORMAT');
    expect(noLabel.message).toContain('no label column "y" (columns: a, b)');
    const noCol = await rejectionOf(new CSVDataParse('train').parse(file, { usecols: ['a', 'c'] }));
    expect(noCol.message).toContain('"c"');
  });

  it('files with different columns cannot be concatenated', async () => {
    const a = await write('a.csv', 'x,y\n1,2\n');
    const b = await write('b.csv', 'x,z\n3,4\n');
    const err = await rejectionOf(new CSVDataParse('train').parse([a, b]));
    expect(err.code).toBe('SEDNA_ERR_DATA_FORMAT');
    expect(err.message).toContain(b);
  });

  it('concatenates files and records (Sedna accepted dicts as one-row frames)', async () => {
    const a = await write('a.csv', 'x,y,label\n1,2,0\n');
    const ds = await new CSVDataParse('train').parse([a, { x: 3, y: '4', label: 1 }], { label: 'label' });
    expect(ds.x.map((r) => Array.from(r))).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(ds.y).toEqual([0, 1]);
  });

  it('forEachRow streams rows in order, awaiting async callbacks, and reports progress', async () => {
    const rows = Array.from({ length: 20_000 }, (_, i) => `${i},${i % 3}`);
    const file = await write('s.csv', `n,label\n${rows.join('\n')}\n`);
    const seen: number[] = [];
    const progress: CsvProgress[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const summary = await new CSVDataParse('train').forEachRow(
      file,
      async (row: CsvRow) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        if (row.line % 5_000 === 0) await new Promise((r) => setImmediate(r));
        seen.push(row.values[0] as number);
        inFlight--;
      },
      { label: 'label', chunkBytes: 16 * 1024, progressEveryRows: 5_000, onProgress: (p) => progress.push(p) },
    );
    expect(summary.rows).toBe(20_000);
    expect(seen).toEqual(Array.from({ length: 20_000 }, (_, i) => i));
    expect(maxInFlight).toBe(1); // one callback at a time, in file order
    expect(progress.length).toBeGreaterThanOrEqual(4);
    const last = progress[progress.length - 1];
    expect(last?.rows).toBe(20_000);
    expect(last?.bytes).toBe(last?.totalBytes);
  });

  it('rows() iterates lazily; breaking out stops the read', async () => {
    const rows = Array.from({ length: 100_000 }, (_, i) => `${i},${i}`);
    const file = await write('big.csv', `a,b\n${rows.join('\n')}\n`);
    const ds = new CSVDataParse('train');
    const taken: number[] = [];
    for await (const row of ds.rows(file, { chunkBytes: 16 * 1024 })) {
      taken.push(row.values[0] as number);
      if (taken.length === 10) break;
    }
    expect(taken).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    let count = 0;
    for await (const row of ds.rows(file)) count += row.values.length;
    expect(count).toBe(200_000);
  });

  it('infers a column with text in the first chunk as strings; a declared numeric column fails instead', async () => {
    const file = await write('mixed.csv', 'a\n1\n2\nx\n');
    const inferred: unknown[] = [];
    for await (const row of new CSVDataParse('train').rows(file)) inferred.push(row.values[0]);
    expect(inferred).toEqual(['1', '2', 'x']);

    const read = async (): Promise<void> => {
      for await (const row of new CSVDataParse('train').rows(file, { columnTypes: { a: 'number' } })) {
        inferred.push(row.values[0]);
      }
    };
    const err = await rejectionOf(read());
    expect(err.code).toBe('SEDNA_ERR_DATA_FORMAT');
    expect(err.message).toContain(`${file}:4:1`);
  });
});

describe('BaseDataSource.save', () => {
  it('round-trips TxtDataParse samples as JSON, atomically', async () => {
    const index = await write('i.txt', 'a.jpg 1\nb.jpg 0\n');
    const ds = await new TxtDataParse('eval').parse(index);
    const out = path.join(root, 'saved', 'eval.json');
    expect(await ds.save(out)).toBe(out);
    expect(await fsp.readdir(path.join(root, 'saved'))).toEqual(['eval.json']);
    const text = await fsp.readFile(out, 'utf8');
    expect(JSON.parse(text)).toMatchObject({ format: 'sedna-sdk/datasource', dataType: 'eval', numExamples: 2 });
    const back = await loadDataSource<string, string>(out);
    expect(back.dataType).toBe('eval');
    expect(back.x).toEqual(['a.jpg', 'b.jpg']);
    expect(back.y).toEqual(['1', '0']);
  });

  it('keeps typed-array rows and NaN / Infinity through the round trip', async () => {
    const file = await write('n.csv', 'a,b,label\n1,,0\ninf,0.25,1\n');
    const ds = await new CSVDataParse('train').parse(file, { label: 'label', dtype: 'float32' });
    const out = await ds.save(path.join(root, 'csv.json'));
    const back = await loadDataSource<Float32Array, number>(out);
    expect(back.x[0]).toBeInstanceOf(Float32Array);
    expect(back.x[0]?.[1]).toBeNaN();
    expect(Array.from(back.x[1] ?? [])).toEqual([Infinity, 0.25]);
    expect(back.y).toEqual([0, 1]);
  });

  it('refuses to load a JSON file that is not a saved datasource', async () => {
    const file = await write('other.json', '{"x":[1]}');
    const err = await rejectionOf(loadDataSource(file));
    expect(err.code).toBe('SEDNA_ERR_DATA_FORMAT');
    expect(err.message).toContain(file);
  });

  it('MemoryDataSource checks one label per sample', () => {
    expect(() => new MemoryDataSource('train', [1, 2], [0])).toThrow(/one label per sample/);
  });
});

describe('datasources on S3', () => {
  let ops: FileOps;
  let prefix: string;
  beforeAll(() => {
    ops = s3FileOps();
  });
  afterAll(async () => {
    await ops.close();
  });
  beforeEach(() => {
    prefix = `s3://${s3TestSettings().bucket}/${uniquePrefix('ds')}`;
  });

  it('reads a remote index, resolves samples against its folder and checks them through FileOps', async () => {
    await ops.writeFile(`${prefix}/data/images/0001.jpg`, 'jpg');
    await ops.writeFile(`${prefix}/data/train.txt`, 'images/0001.jpg 1\nimages/0002.jpg 0\n');
    const parse = new TxtDataParse('train').parse(`${prefix}/data/train.txt`, {
      pathRoot: 'index',
      checkFiles: true,
      fileOps: ops,
    });
    const err = await rejectionOf(parse);
    expect(err.code).toBe('SEDNA_ERR_FILE_NOT_FOUND');
    expect(err.message).toContain(`${prefix}/data/train.txt:2: ${prefix}/data/images/0002.jpg`);
    await ops.writeFile(`${prefix}/data/images/0002.jpg`, 'jpg');
    const ds = await new TxtDataParse('train').parse(`${prefix}/data/train.txt`, {
      pathRoot: 'index',
      checkFiles: true,
      fileOps: ops,
    });
    expect(ds.x).toEqual([`${prefix}/data/images/0001.jpg`, `${prefix}/data/images/0002.jpg`]);
  });

  it('parses a remote CSV and saves a datasource to S3', async () => {
    await ops.writeFile(`${prefix}/train.csv`, 'a,b,label\n1,2,0\n3,4,1\n');
    const ds = await new CSVDataParse('train').parse(`${prefix}/train.csv`, { label: 'label', fileOps: ops });
    expect(ds.numExamples()).toBe(2);
    await ds.save(`${prefix}/saved.json`, ops);
    const back = await loadDataSource<Float64Array, number>(`${prefix}/saved.json`, ops);
    expect(Array.from(back.x[1] ?? [])).toEqual([3, 4]);
    expect(back.y).toEqual([0, 1]);
  });
});
