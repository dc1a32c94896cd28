/**
 * Hostile archives (issue 13, item 3): symbolic-link chains that escape the target folder, a
 * second archive writing through a link the first one left, and decompression bombs. Each is
 * tried through `untar` and through `download(..., { unzip: true })` from an http server.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FileOps } from '../../src/datasources/file-ops.js';
import { rejectionOf } from '../helpers/errors.js';
import { scriptedServer, type ScriptedServer } from '../helpers/scripted-server.js';
import { writeTarBomb, writeTarGz } from '../helpers/tar-bomb.js';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
let root: string;
let ops: FileOps;

beforeEach(async () => {
  root = await fsp.mkdtemp(path.join(os.tmpdir(), 'sedna-archive-attack-'));
  ops = new FileOps({ tempDir: root });
});
afterEach(async () => {
  await ops.close();
  await fsp.rm(root, { recursive: true, force: true });
});

/** Serves the files of `root` by name. */
async function serveRoot(): Promise<ScriptedServer> {
  return scriptedServer((req, res) => {
    const file = path.join(root, path.basename(req.url ?? '/'));
    if (!fs.existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': fs.statSync(file).size });
    fs.createReadStream(file).pipe(res);
  });
}

describe('symbolic-link chains', () => {
  test('a chain a -> ., up -> a/.. is refused (each target looks inside on its own)', async () => {
    const archive = path.join(root, 'chain.tar.gz');
    await writeTarGz(archive, [
      { name: 'a', type: '2', linkname: '.' },
      { name: 'up', type: '2', linkname: 'a/..' },
    ]);
    const target = path.join(root, 'models', 'v1');
    const err = await rejectionOf(ops.untar(archive, target));
    expect(err.code).toBe('SEDNA_ERR_DATA_FORMAT');
    expect(err.message).toMatch(/"up" links to "a\/\.\.", which passes through the link "a"/);
    expect(fs.existsSync(target)).toBe(false);
  });

  test('a 12-link chain towards / is refused', async () => {
    const entries = [{ name: 'l0', type: '2' as const, linkname: '.' }];
    for (let i = 1; i <= 12; i++) entries.push({ name: `l${i}`, type: '2', linkname: `l${i - 1}/..` });
    const archive = path.join(root, 'deep.tar.gz');
    await writeTarGz(archive, entries);
    const err = await rejectionOf(ops.untar(archive, path.join(root, 'out')));
    expect(err.code).toBe('SEDNA_ERR_DATA_FORMAT');
    expect((err.details as { problems: string[] }).problems.some((p) => p.includes('"l12"'))).toBe(true);
  });

  test('a second archive cannot write through a link already in the folder', async () => {
    // A link left by anything (an older unpacker, a user) that points out of the folder.
    const target = path.join(root, 'out');
    const outside = path.join(root, 'outside');
    await fsp.mkdir(target);
    await fsp.mkdir(outside);
    await fsp.symlink(outside, path.join(target, 'up'));
    const archive = path.join(root, 'second.tar.gz');
    await writeTarGz(archive, [
      { name: 'up/', type: '5' },
      { name: 'up/evil.txt', content: 'owned' },
    ]);
    const err = await rejectionOf(ops.untar(archive, target));
    expect(err.code).toBe('SEDNA_ERR_DATA_FORMAT');
    expect(err.message).toContain('through the link "up"');
    expect(fs.existsSync(path.join(outside, 'evil.txt'))).toBe(false);
  });

  test('download({ unzip }) from http refuses the chain and leaves nothing behind', async () => {
    await writeTarGz(path.join(root, 'chain.tar.gz'), [
      { name: 'a', type: '2', linkname: '.' },
      { name: 'up', type: '2', linkname: 'a/..' },
      { name: 'up/evil.txt', content: 'owned' },
    ]);
    const server = await serveRoot();
    try {
      const target = path.join(root, 'dl');
      const err = await rejectionOf(ops.download(`${server.url}/chain.tar.gz`, target, { unzip: true }));
      expect(err.code).toBe('SEDNA_ERR_DATA_FORMAT');
      expect(fs.existsSync(path.join(root, 'evil.txt'))).toBe(false);
      expect(fs.existsSync(target)).toBe(false);
    } finally {
      await server.close();
    }
  });

  test('links that stay inside and pass through no link still unpack', async () => {
    const archive = path.join(root, 'fine.tar.gz');
    await writeTarGz(archive, [
      { name: 'v2/', type: '5' },
      { name: 'v2/model.onnx', content: 'weights' },
      { name: 'latest', type: '2', linkname: 'v2/model.onnx' },
      { name: 'v2/up', type: '2', linkname: '../v2' },
    ]);
    const target = await ops.untar(archive, path.join(root, 'ok'));
    expect(await fsp.readFile(path.join(target, 'latest'), 'utf8')).toBe('weights');
  });
});

describe('decompression bombs', () => {
  test('a 10 MiB .tar.gz declaring 10 GiB is refused at its first header, in bounded memory', async () => {
    const archive = path.join(root, 'bomb.tar.gz');
    const size = await writeTarBomb(archive, 10 * GIB);
    expect(size).toBeLessThan(12 * MIB);
    const rssBefore = process.memoryUsage().rss;
    const started = Date.now();
    const err = await rejectionOf(ops.untar(archive, path.join(root, 'out')));
    const rssGrowth = process.memoryUsage().rss - rssBefore;
    expect(err.code).toBe('SEDNA_ERR_ARCHIVE_TOO_LARGE');
    expect(err.message).toMatch(/more than 100 times/);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(rssGrowth).toBeLessThan(100 * MIB);
    expect(fs.existsSync(path.join(root, 'out'))).toBe(false);
  });

  test('caps on total bytes and entry count, with coded errors; download({ unzip }) applies them too', async () => {
    const big = path.join(root, 'big.tar.gz');
    await writeTarGz(big, [{ name: 'a.bin', content: 'x'.repeat(5000) }]);
    const small = new FileOps({ tempDir: root, archive: { maxBytes: 4096 } });
    const many = path.join(root, 'many.tar.gz');
    await writeTarGz(
      many,
      Array.from({ length: 50 }, (_, i) => ({ name: `f${i}.txt`, content: 'x' })),
    );
    const few = new FileOps({ tempDir: root, archive: { maxEntries: 20 } });
    const server = await serveRoot();
    try {
      const bytes = await rejectionOf(small.untar(big, path.join(root, 'o1')));
      expect(bytes.code).toBe('SEDNA_ERR_ARCHIVE_TOO_LARGE');
      expect(bytes.message).toContain('more than 4096 bytes');
      const entries = await rejectionOf(
        few.download(`${server.url}/many.tar.gz`, path.join(root, 'o2'), { unzip: true }),
      );
      expect(entries.code).toBe('SEDNA_ERR_ARCHIVE_TOO_LARGE');
      expect(entries.message).toContain('more than 20 entries');
      // Within the limits the same archives unpack.
      expect((await fsp.readdir(await ops.untar(many, path.join(root, 'o3')))).length).toBe(50);
    } finally {
      await server.close();
      await small.close();
      await few.close();
    }
  });

  test('a large genuine archive is streamed to disk, not held in memory', async () => {
    // 48 MiB that compress like weights do (hardly at all): RSS must not grow by the content.
    const archive = path.join(root, 'genuine.tar.gz');
    const content = path.join(root, 'content');
    await fsp.mkdir(content);
    const out = fs.createWriteStream(path.join(content, 'weights.bin'));
    for (let i = 0; i < 48; i++) {
      if (!out.write(randomBytes(MIB))) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    }
    await new Promise<void>((resolve) => out.end(() => resolve()));
    await ops.tar(content, archive);
    await fsp.rm(content, { recursive: true });
    const rssBefore = process.memoryUsage().rss;
    const target = await ops.untar(archive, path.join(root, 'big'));
    const rssGrowth = process.memoryUsage().rss - rssBefore;
    expect((await fsp.stat(path.join(target, 'weights.bin'))).size).toBe(48 * MIB);
    expect(rssGrowth).toBeLessThan(32 * MIB);
  });
});
