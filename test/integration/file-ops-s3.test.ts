/**
 * FileOps against a real S3 implementation: OpenStack Swift's s3api, started by Jest's
 * globalSetup (test/global-setup.mjs), which checks SigV4 signatures and builds real multipart
 * objects. Results are checked with the AWS SDK directly, not only through FileOps.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import path from 'node:path';
import { HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { loadConfig } from '../../src/common/config.js';
import { FileOps } from '../../src/datasources/file-ops.js';
import { runNode } from '../helpers/child.js';
import { ROOT, SCRATCH } from '../helpers/paths.js';
import { s3FileOps, s3TestSettings, uniquePrefix } from '../helpers/s3.js';
import { rejectionOf } from '../helpers/errors.js';

const MIB = 1024 * 1024;
const settings = s3TestSettings();
const bucket = settings.bucket;
const sdk = new S3Client({
  endpoint: settings.endpoint,
  region: settings.region,
  forcePathStyle: true,
  credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey },
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
});

let root: string;
let prefix: string;
let ops: FileOps;

beforeEach(async () => {
  root = await fsp.mkdtemp(path.join('/tmp', 'sedna-s3-test-'));
  prefix = uniquePrefix('fileops');
  ops = s3FileOps({}, { tempDir: root });
});
afterEach(async () => {
  await ops.close();
  await fsp.rm(root, { recursive: true, force: true });
});
afterAll(() => {
  sdk.destroy();
});

async function keysUnder(keyPrefix: string): Promise<string[]> {
  const out = await sdk.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: keyPrefix }));
  return (out.Contents ?? []).map((o) => o.Key ?? '').sort();
}

async function tree(dir: string): Promise<string[]> {
  const entries = await fsp.readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function makeModelDir(dir: string): Promise<void> {
  await fsp.mkdir(path.join(dir, 'variables'), { recursive: true });
  await fsp.writeFile(path.join(dir, 'saved_model.pb'), 'graph');
  await fsp.writeFile(path.join(dir, 'variables', 'variables.index'), 'index');
  await fsp.writeFile(path.join(dir, 'variables', 'variables.data-00000-of-00001'), Buffer.alloc(4096, 9));
}

describe('FileOps with s3:// (Swift s3api)', () => {
  it('uploads and downloads a file, and never deletes the source', async () => {
    const src = path.join(root, 'model.onnx');
    await fsp.writeFile(src, 'onnx bytes');
    const url = `s3://${bucket}/${prefix}/models/model.onnx`;
    expect(await ops.upload(src, url)).toBe(url);
    expect(await fsp.readFile(src, 'utf8')).toBe('onnx bytes');
    expect(await keysUnder(`${prefix}/`)).toEqual([`${prefix}/models/model.onnx`]);

    const local = await ops.download(url);
    expect(path.basename(local)).toBe('model.onnx');
    expect(await fsp.readFile(local, 'utf8')).toBe('onnx bytes');
    const dst = path.join(root, 'out', 'copy.onnx');
    expect(await ops.download(url, dst)).toBe(dst);
    expect(await fsp.readFile(dst, 'utf8')).toBe('onnx bytes');
  });

  it('a URL ending with / receives the file under its own name', async () => {
    const src = path.join(root, 'weights.bin');
    await fsp.writeFile(src, 'w');
    expect(await ops.upload(src, `s3://${bucket}/${prefix}/dir/`)).toBe(`s3://${bucket}/${prefix}/dir/weights.bin`);
    expect(await keysUnder(`${prefix}/`)).toEqual([`${prefix}/dir/weights.bin`]);
  });

  it('uploads a model folder under the URL prefix (Sedna dropped it) and downloads it back as a folder', async () => {
    const dir = path.join(root, 'saved_model');
    await makeModelDir(dir);
    const url = `s3://${bucket}/${prefix}/jobs/job1/model`;
    expect(await ops.upload(dir, url)).toBe(url);
    expect(await keysUnder(`${prefix}/`)).toEqual([
      `${prefix}/jobs/job1/model/saved_model.pb`,
      `${prefix}/jobs/job1/model/variables/variables.data-00000-of-00001`,
      `${prefix}/jobs/job1/model/variables/variables.index`,
    ]);
    expect(await tree(dir)).toHaveLength(3); // source intact

    const local = await ops.download(url);
    expect(path.basename(local)).toBe('model');
    expect(await tree(local)).toEqual([
      'saved_model.pb',
      'variables/variables.data-00000-of-00001',
      'variables/variables.index',
    ]);
    expect((await fsp.readFile(path.join(local, 'variables', 'variables.data-00000-of-00001'))).length).toBe(4096);

    // A folder URL with a trailing slash, into a named dst.
    const dst = path.join(root, 'restored');
    expect(await ops.download(`${url}/`, dst)).toBe(dst);
    expect(await tree(dst)).toHaveLength(3);
  });

  it('a prefix holding one object under key/ still downloads as a folder, keeping the name', async () => {
    const src = path.join(root, 'only.bin');
    await fsp.writeFile(src, 'one');
    await ops.upload(src, `s3://${bucket}/${prefix}/single/`);
    const local = await ops.download(`s3://${bucket}/${prefix}/single`);
    expect(await tree(local)).toEqual(['only.bin']);
  });

  it('uploads large files as multipart (real multipart ETag) and downloads them intact', async () => {
    const big = new FileOps({
      tempDir: root,
      s3: { ...s3FileOpsOptions(), multipartThresholdBytes: 5 * MIB, partSizeBytes: 5 * MIB, concurrency: 2 },
    });
    try {
      const data = Buffer.alloc(11 * MIB + 123);
      for (let i = 0; i < data.length; i += 4096) data.writeUInt32LE(i, i);
      const src = path.join(root, 'big.bin');
      await fsp.writeFile(src, data);
      const url = `s3://${bucket}/${prefix}/big.bin`;
      await big.upload(src, url);
      const head = await sdk.send(new HeadObjectCommand({ Bucket: bucket, Key: `${prefix}/big.bin` }));
      expect(head.ContentLength).toBe(data.length);
      expect(head.ETag).toMatch(/-3"$/); // three parts: 5 MiB, 5 MiB, the rest

      const local = await big.download(url, path.join(root, 'back.bin'));
      expect(sha256(await fsp.readFile(local))).toBe(sha256(data));
    } finally {
      await big.close();
    }
  });

  it('a file below the threshold is one PUT (plain ETag)', async () => {
    const src = path.join(root, 'small.bin');
    await fsp.writeFile(src, Buffer.alloc(1000, 1));
    await ops.upload(src, `s3://${bucket}/${prefix}/small.bin`);
    const head = await sdk.send(new HeadObjectCommand({ Bucket: bucket, Key: `${prefix}/small.bin` }));
    expect(head.ETag).not.toMatch(/-\d+"$/);
  });

  it('exists, readFile, writeFile and remove work on objects and folders', async () => {
    const url = `s3://${bucket}/${prefix}/kb/index.json`;
    expect(await ops.exists(url)).toBe(false);
    await ops.writeFile(url, '{"tasks":[]}');
    expect((await ops.readFile(url)).toString()).toBe('{"tasks":[]}');
    expect(await ops.exists(url)).toBe(true);
    expect(await ops.exists(`s3://${bucket}/${prefix}/kb`)).toBe(true); // a "folder"
    expect(await ops.exists(`s3://${bucket}/${prefix}/k`)).toBe(false); // a string prefix is not a folder
    expect(await ops.exists(`s3://${bucket}`)).toBe(true);
    expect(await ops.exists('s3://no-such-bucket-sedna')).toBe(false);

    await ops.writeFile(`s3://${bucket}/${prefix}/kb/sub/a.txt`, 'a');
    await ops.remove(`s3://${bucket}/${prefix}/kb`);
    expect(await keysUnder(`${prefix}/`)).toEqual([]);
    await ops.remove(`s3://${bucket}/${prefix}/kb`); // nothing left: not an error
  });

  it('missing objects, prefixes and buckets are SEDNA_ERR_FILE_NOT_FOUND naming the URL', async () => {
    const missing = `s3://${bucket}/${prefix}/nothing/here.onnx`;
    const err = await rejectionOf(ops.download(missing));
    expect(err.code).toBe('SEDNA_ERR_FILE_NOT_FOUND');
    expect(err.message).toContain(missing);
    expect((await rejectionOf(ops.readFile(missing))).code).toBe('SEDNA_ERR_FILE_NOT_FOUND');
    const noBucket = await rejectionOf(ops.readFile('s3://no-such-bucket-sedna/x'));
    expect(noBucket.code).toBe('SEDNA_ERR_FILE_NOT_FOUND');
    expect(noBucket.message).toContain('no such bucket');
    expect(await fsp.readdir(root)).toEqual([]);
  });

  it('wrong credentials are SEDNA_ERR_ACCESS_DENIED, and the secret never appears in the error', async () => {
    const secret = 'wrong-secret-do-not-print';
    const bad = s3FileOps({ secretAccessKey: secret });
    try {
      const url = `s3://${bucket}/${prefix}/x.bin`;
      const src = path.join(root, 'x.bin');
      await fsp.writeFile(src, 'x');
      for (const attempt of [bad.upload(src, url), bad.readFile(url), bad.exists(url), bad.download(url)]) {
        const err = await rejectionOf(attempt);
        expect(err.code).toBe('SEDNA_ERR_ACCESS_DENIED');
        expect(err.message).toContain(url);
        expect(JSON.stringify(err.toJSON())).not.toContain(secret);
        expect(err.stack).not.toContain(secret);
      }
      expect(await keysUnder(`${prefix}/`)).toEqual([]);
    } finally {
      await bad.close();
    }
  });

  it('an unreachable endpoint is SEDNA_ERR_NETWORK, quickly', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    await new Promise((r) => server.close(r));
    const dead = new FileOps({
      s3: { endpoint: `http://127.0.0.1:${port}`, accessKeyId: 'a', secretAccessKey: 'b', maxAttempts: 2 },
    });
    try {
      const started = Date.now();
      const err = await rejectionOf(dead.readFile(`s3://${bucket}/x`));
      expect(err.code).toBe('SEDNA_ERR_NETWORK');
      expect(err.message).toContain(`s3://${bucket}/x`);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await dead.close();
    }
  });

  it('refuses object keys that would be written outside the download folder', async () => {
    await sdk.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/evil/ok.txt`, Body: 'ok' }));
    await sdk.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/evil/../../escaped.txt`, Body: 'x' }));
    const keys = await keysUnder(`${prefix}/evil/`);
    expect(keys).toContain(`${prefix}/evil/../../escaped.txt`); // the store keeps the name as is
    const dst = path.join(root, 'a', 'b');
    const err = await rejectionOf(ops.download(`s3://${bucket}/${prefix}/evil`, dst));
    expect(err.code).toBe('SEDNA_ERR_DATA_FORMAT');
    expect(err.message).toContain('../../escaped.txt');
    expect(fs.existsSync(path.join(root, 'escaped.txt'))).toBe(false);
    expect(fs.existsSync(dst)).toBe(false);
  });

  it('FileOps.fromConfig takes S3_ENDPOINT_URL, ACCESS_KEY_ID and SECRET_ACCESS_KEY', async () => {
    const config = loadConfig({
      S3_ENDPOINT_URL: settings.endpoint,
      ACCESS_KEY_ID: settings.accessKeyId,
      SECRET_ACCESS_KEY: settings.secretAccessKey,
    });
    const fromEnv = FileOps.fromConfig(config);
    try {
      const url = `s3://${bucket}/${prefix}/cfg.txt`;
      await fromEnv.writeFile(url, 'configured');
      expect((await ops.readFile(url)).toString()).toBe('configured');
    } finally {
      await fromEnv.close();
    }
  });
});

describe('FileOps s3:// downloads that break mid-body', () => {
  it('leave no partial file at the target and no temp litter', async () => {
    // An S3 endpoint that announces an object and cuts the connection half-way through it.
    const server = http.createServer((req, res) => {
      res.setHeader('content-length', '100000');
      res.setHeader('etag', '"abc"');
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      res.write(Buffer.alloc(10_000, 1), () => res.destroy());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const flaky = new FileOps({
      tempDir: root,
      s3: { endpoint: `http://127.0.0.1:${port}`, accessKeyId: 'a', secretAccessKey: 'b', idleTimeoutMs: 2_000 },
    });
    try {
      const dst = path.join(root, 'model.onnx');
      await fsp.writeFile(dst, 'previous');
      const noDst = await rejectionOf(flaky.download('s3://bucket/model.onnx'));
      expect(noDst.code).toBe('SEDNA_ERR_NETWORK');
      expect(await fsp.readdir(root)).toEqual(['model.onnx']); // no temp folder left either
      const err = await rejectionOf(flaky.download('s3://bucket/model.onnx', dst));
      expect(['SEDNA_ERR_NETWORK', 'SEDNA_ERR_STORAGE']).toContain(err.code);
      expect(err.message).toContain('s3://bucket/model.onnx');
      expect(await fsp.readFile(dst, 'utf8')).toBe('previous');
      expect(await fsp.readdir(root)).toEqual(['model.onnx']);
    } finally {
      await flaky.close();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('@aws-sdk/client-s3 is an optional peer', () => {
  it('without it, local files still work and s3:// fails with SEDNA_ERR_MISSING_DEPENDENCY', async () => {
    // A resolve hook makes the package unresolvable, exactly as when it is not installed.
    const dir = path.join(SCRATCH, 'no-aws-sdk');
    await fsp.mkdir(dir, { recursive: true });
    await fsp.writeFile(
      path.join(dir, 'hook.mjs'),
      `export async function resolve(specifier, context, next) {
  if (specifier === '@aws-sdk/client-s3') {
    const err = new Error("Cannot find package '@aws-sdk/client-s3'");
    err.code = 'ERR_MODULE_NOT_FOUND';
    throw err;
  }
  return next(specifier, context);
}
`,
    );
    await fsp.writeFile(
      path.join(dir, 'register.mjs'),
      `import { register } from 'node:module';\nregister('./hook.mjs', import.meta.url);\n`,
    );
    await fsp.writeFile(
      path.join(dir, 'main.ts'),
      `import { FileOps } from '${path.join(ROOT, 'src', 'datasources', 'file-ops.ts')}';
const ops = new FileOps({ s3: { endpoint: 'http://127.0.0.1:9', accessKeyId: 'a', secretAccessKey: 'b' } });
await ops.writeFile('${path.join(dir, 'local.txt')}', 'fine');
const local = (await ops.readFile('${path.join(dir, 'local.txt')}')).toString();
let code, message;
try { await ops.exists('s3://bucket/key'); } catch (err) { code = err.code; message = err.message; }
process.stdout.write(JSON.stringify({ local, code, message }));
`,
    );
    const result = await runNode(
      ['--import', 'tsx', '--import', path.join(dir, 'register.mjs'), path.join(dir, 'main.ts')],
      {
        cwd: ROOT,
        env: { LOG_LEVEL: 'silent' },
      },
    );
    expect(result.stderr).toBe('');
    const out = JSON.parse(result.stdout) as { local: string; code: string; message: string };
    expect(out.local).toBe('fine');
    expect(out.code).toBe('SEDNA_ERR_MISSING_DEPENDENCY');
    expect(out.message).toContain('npm install @aws-sdk/client-s3');
  });
});

function s3FileOpsOptions(): NonNullable<ConstructorParameters<typeof FileOps>[0]>['s3'] {
  return {
    endpoint: settings.endpoint,
    accessKeyId: settings.accessKeyId,
    secretAccessKey: settings.secretAccessKey,
    region: settings.region,
  };
}
