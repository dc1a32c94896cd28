/**
 * The pure parts of FileOps and the datasources: URL parsing, error mapping, number parsing,
 * bounded concurrency, the JSON codec. No files, no servers.
 */
import { decodeDataJson, encodeDataJson } from '../../src/datasources/base.js';
import { parseNumber } from '../../src/datasources/csv.js';
import { FileOps, removePathPrefix, schemeOf, toLocalPath } from '../../src/datasources/file-ops.js';
import { fileNameOf } from '../../src/datasources/http-files.js';
import { Semaphore, mapLimit } from '../../src/datasources/limit.js';
import { safeJoin } from '../../src/datasources/local-fs.js';
import { S3Storage, normaliseEndpoint, parseS3Url, s3Error } from '../../src/datasources/s3.js';

describe('parseNumber', () => {
  it('gives exactly the double Number() gives, on the fast path and off it', () => {
    const cells = [
      '0',
      '-0',
      '7',
      '-12.345',
      '.5',
      '5.',
      '0.1',
      '0.30000000000000004',
      '123456789012345',
      '1e5',
      '-2.5E-3',
    ];
    cells.push('99999999999999999999', '0.000000000000000000000123', ' 42 ', '+3.25', '9007199254740993');
    let seed = 7;
    const random = (): number => {
      seed = (seed * 48271) % 2147483647;
      return seed / 2147483647;
    };
    for (let i = 0; i < 20_000; i++) {
      const digits = 1 + Math.floor(random() * 8);
      cells.push(((random() - 0.5) * 10 ** (1 + Math.floor(random() * 6))).toFixed(digits));
    }
    for (const cell of cells) expect(Object.is(parseNumber(cell), Number(cell))).toBe(true);
  });

  it('reads missing markers as NaN and infinities, and rejects text', () => {
    for (const cell of ['', '   ', 'NaN', 'nan', 'NA', 'N/A', 'null']) expect(parseNumber(cell)).toBeNaN();
    expect(parseNumber('inf')).toBe(Infinity);
    expect(parseNumber('-inf')).toBe(-Infinity);
    expect(parseNumber('Infinity')).toBe(Infinity);
    for (const cell of ['abc', '1,5', '1.2.3', '-', '.', '12a', '1_000']) expect(parseNumber(cell)).toBeUndefined();
  });
});

describe('s3:// URLs and endpoints', () => {
  it('splits bucket and key', () => {
    expect(parseS3Url('s3://models/jobs/a/model.onnx')).toEqual({ bucket: 'models', key: 'jobs/a/model.onnx' });
    expect(parseS3Url('s3://models/dir/')).toEqual({ bucket: 'models', key: 'dir/' });
    expect(parseS3Url('s3://models')).toEqual({ bucket: 'models', key: '' });
    expect(() => parseS3Url('s3:///key')).toThrow(/s3:\/\/bucket\/key/);
  });

  it("normalises S3_ENDPOINT_URL as Sedna does (bare host → https), empty → AWS's own", () => {
    expect(normaliseEndpoint('')).toBe('');
    expect(normaliseEndpoint(undefined)).toBe('');
    expect(normaliseEndpoint('minio.local:9000')).toBe('https://minio.local:9000');
    expect(normaliseEndpoint('http://10.0.0.1:9000/')).toBe('http://10.0.0.1:9000');
    expect(() => normaliseEndpoint('ftp://x')).toThrow(/s3\.endpoint/);
  });

  it('validates options without any I/O', () => {
    expect(() => new S3Storage({ partSizeBytes: 1024 })).toThrow(/partSizeBytes/);
    expect(() => new S3Storage({ accessKeyId: 'only-the-id' })).toThrow(/both set/);
    expect(() => new S3Storage({ concurrency: 0 })).toThrow(/concurrency/);
    expect(() => new FileOps({ s3: { endpoint: 'http://127.0.0.1:9' } })).not.toThrow();
  });
});

describe('s3Error', () => {
  const url = 's3://b/k';
  const sdkError = (name: string, status?: number, extra: object = {}): object =>
    Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode: status }, ...extra });

  it.each([
    ['AccessDenied', 403, 'SEDNA_ERR_ACCESS_DENIED'],
    ['InvalidAccessKeyId', 403, 'SEDNA_ERR_ACCESS_DENIED'],
    ['SignatureDoesNotMatch', 403, 'SEDNA_ERR_ACCESS_DENIED'],
    ['Forbidden', 403, 'SEDNA_ERR_ACCESS_DENIED'],
    ['NoSuchKey', 404, 'SEDNA_ERR_FILE_NOT_FOUND'],
    ['NoSuchBucket', 404, 'SEDNA_ERR_FILE_NOT_FOUND'],
    ['NotFound', 404, 'SEDNA_ERR_FILE_NOT_FOUND'],
    ['InternalError', 500, 'SEDNA_ERR_STORAGE'],
    ['SlowDown', 503, 'SEDNA_ERR_STORAGE'],
    ['TimeoutError', undefined, 'SEDNA_ERR_TIMEOUT'],
  ])('%s (%s) → %s, naming the URL', (name, status, code) => {
    const err = s3Error('read', url, sdkError(name, status));
    expect(err.code).toBe(code);
    expect(err.message).toContain(url);
    expect(err.details).toMatchObject({ location: url, s3Error: name });
  });

  it('maps transport failures to SEDNA_ERR_NETWORK, also when the SDK wrapped the error', () => {
    expect(s3Error('read', url, Object.assign(new Error('connect'), { code: 'ECONNREFUSED' })).code).toBe(
      'SEDNA_ERR_NETWORK',
    );
    const wrapped = new Error('AWS SDK error wrapper for Error: connect ECONNREFUSED 127.0.0.1:9');
    expect(s3Error('read', url, wrapped).code).toBe('SEDNA_ERR_NETWORK');
  });
});

describe('local paths and names', () => {
  it('routes schemes and strips file://', () => {
    expect(schemeOf('/data/a')).toBe('file');
    expect(schemeOf('relative/a')).toBe('file');
    expect(schemeOf('HTTPS://h/a')).toBe('http');
    expect(schemeOf('s3://b/k')).toBe('s3');
    expect(toLocalPath('file:///data/a%20b')).toBe('/data/a b');
    expect(() => toLocalPath('s3://b/k')).toThrow(/local path/);
    expect(removePathPrefix('/home/data/models/m.onnx', '/home/data/')).toBe('/models/m.onnx');
    expect(removePathPrefix('/home/database/m.onnx', '/home/data')).toBe('/home/database/m.onnx');
  });

  it('names downloads after the last URL segment, decoded, never as a path', () => {
    expect(fileNameOf('http://h/models/v1/model%20a.onnx?x=1')).toBe('model a.onnx');
    expect(fileNameOf('http://h/')).toBe('download');
    expect(fileNameOf('http://h/a/%2E%2E')).toBe('download');
    expect(fileNameOf('http://h/a/..%2Fetc%2Fpasswd')).toBe('.._etc_passwd');
  });

  it('safeJoin refuses names that leave the root', () => {
    expect(safeJoin('/tmp/root', 'a/b.txt', 'test')).toBe('/tmp/root/a/b.txt');
    expect(() => safeJoin('/tmp/root', '../x', 'test')).toThrow(/outside/);
    expect(() => safeJoin('/tmp/root', 'a/../../x', 'test')).toThrow(/outside/);
    expect(() => safeJoin('/tmp/root', '/etc/passwd', 'test')).toThrow(/outside/);
  });
});

describe('bounded concurrency', () => {
  it('mapLimit keeps order and never exceeds the limit', async () => {
    let running = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 4, 2, 3, 0], 2, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, n));
      running--;
      return n * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30, 0]);
    expect(peak).toBe(2);
  });

  it('mapLimit starts nothing new after a failure and rethrows it', async () => {
    const started: number[] = [];
    const run = mapLimit([1, 2, 3, 4, 5], 1, async (n) => {
      started.push(n);
      await Promise.resolve();
      if (n === 2) throw new Error('boom');
      return n;
    });
    await expect(run).rejects.toThrow('boom');
    expect(started).toEqual([1, 2]);
  });

  it('Semaphore bounds nested fan-outs by one count', async () => {
    const slots = new Semaphore(3);
    let running = 0;
    let peak = 0;
    const leaf = (): Promise<void> =>
      slots.run(async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 2));
        running--;
      });
    await mapLimit([1, 2, 3, 4], 4, () => mapLimit([1, 2, 3, 4], 4, leaf));
    expect(peak).toBe(3);
  });
});

describe('datasource JSON codec', () => {
  it('keeps NaN, ±Infinity and typed arrays; plain values stay plain JSON', () => {
    const value = {
      x: [Float32Array.from([1.5, NaN]), Int32Array.from([1, -2])],
      y: [Infinity, -Infinity, 2],
      s: 'text',
    };
    const text = encodeDataJson(value);
    expect(text).toContain('"$typed":"Float32Array"');
    const back = decodeDataJson(text) as typeof value;
    expect(back.x[0]).toBeInstanceOf(Float32Array);
    expect(back.x[0]?.[1]).toBeNaN();
    expect(back.x[1]).toEqual(Int32Array.from([1, -2]));
    expect(back.y).toEqual([Infinity, -Infinity, 2]);
    expect(back.s).toBe('text');
  });

  it('builds only typed arrays from the fixed list (no arbitrary constructors)', () => {
    const back = decodeDataJson('{"a":{"$typed":"Function","data":[1]},"b":{"$typed":"Buffer","data":[1]}}');
    expect(back).toEqual({ a: { $typed: 'Function', data: [1] }, b: { $typed: 'Buffer', data: [1] } });
    expect(() => decodeDataJson('{nope', 'file.json')).toThrow(/file\.json is not valid JSON/);
  });
});
