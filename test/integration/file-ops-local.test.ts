/**
 * FileOps on the local file system: bare paths and file:// URLs, atomic writes, folders, archives
 * (including hostile ones), and the scheme router's refusals.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { create } from 'tar';
import { FileOps, schemeOf } from '../../src/datasources/file-ops.js';
import { rejectionOf } from '../helpers/errors.js';

let root: string;
const ops = new FileOps();

beforeEach(async () => {
  root = await fsp.mkdtemp(path.join(fs.realpathSync(process.env.TMPDIR ?? '/tmp'), 'sedna-fileops-'));
});
afterEach(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});
afterAll(async () => {
  await ops.close();
});

/** Every entry in `dir`, recursively (temp litter shows up here). */
async function tree(dir: string): Promise<string[]> {
  const entries = await fsp.readdir(dir, { recursive: true });
  return entries.map((e) => e.split(path.sep).join('/')).sort();
}

async function makeFolder(dir: string): Promise<void> {
  await fsp.mkdir(path.join(dir, 'sub'), { recursive: true });
  await fsp.writeFile(path.join(dir, 'model.json'), '{"a":1}');
  await fsp.writeFile(path.join(dir, 'sub', 'weights.bin'), Buffer.from([1, 2, 3, 4]));
}

describe('FileOps, local paths and file:// URLs', () => {
  it('writes, reads, checks and removes a file, with or without the file:// prefix', async () => {
    const file = path.join(root, 'a', 'b.txt');
    const url = pathToFileURL(file).href;
    await ops.writeFile(url, 'hello');
    expect(await fsp.readFile(file, 'utf8')).toBe('hello');
    expect((await ops.readFile(file)).toString()).toBe('hello');
    expect((await ops.readFile(url)).toString()).toBe('hello');
    expect(await ops.exists(url)).toBe(true);
    expect(await ops.exists(path.join(root, 'nope'))).toBe(false);
    await ops.remove(url);
    expect(fs.existsSync(file)).toBe(false);
    await ops.remove(url); // already gone: not an error
    expect(await tree(root)).toEqual(['a']);
  });

  it('a failed write leaves the old content and no temp file behind', async () => {
    // The target is a folder, so the final rename fails after the temp file was written.
    const target = path.join(root, 'model.onnx');
    await fsp.mkdir(target);
    await fsp.writeFile(path.join(target, 'keep'), 'x');
    const err = await rejectionOf(ops.writeFile(target, Buffer.alloc(1024, 1)));
    expect(err.code).toBe('SEDNA_ERR_STORAGE');
    expect(err.message).toContain(target);
    expect(await tree(root)).toEqual(['model.onnx', 'model.onnx/keep']);
  });

  it('a write that fails to create its folder names the path and leaves nothing', async () => {
    await fsp.writeFile(path.join(root, 'file'), 'x');
    const err = await rejectionOf(ops.writeFile(path.join(root, 'file', 'child.txt'), 'y'));
    expect(err.message).toContain(path.join(root, 'file', 'child.txt'));
    expect(await tree(root)).toEqual(['file']);
  });

  it('download of a local path returns it without copying; with dst it copies', async () => {
    const src = path.join(root, 'm.bin');
    await fsp.writeFile(src, 'bytes');
    expect(await ops.download(src)).toBe(src);
    expect(await ops.download(pathToFileURL(src).href)).toBe(src);
    const copied = await ops.download(src, path.join(root, 'out', 'copy.bin'));
    expect(copied).toBe(path.join(root, 'out', 'copy.bin'));
    expect(await fsp.readFile(copied, 'utf8')).toBe('bytes');
    // An existing folder as dst receives the file under its own name.
    expect(await ops.download(src, path.join(root, 'out'))).toBe(path.join(root, 'out', 'm.bin'));
  });

  it('download of a missing local path is SEDNA_ERR_FILE_NOT_FOUND naming it', async () => {
    const missing = path.join(root, 'missing.onnx');
    const err = await rejectionOf(ops.download(missing));
    expect(err.code).toBe('SEDNA_ERR_FILE_NOT_FOUND');
    expect(err.message).toContain(missing);
    expect((await rejectionOf(ops.readFile(missing))).code).toBe('SEDNA_ERR_FILE_NOT_FOUND');
  });

  it('upload copies a file and a folder and never deletes the source', async () => {
    const file = path.join(root, 'src.txt');
    await fsp.writeFile(file, 'data');
    expect(await ops.upload(file, path.join(root, 'dst', 'f.txt'))).toBe(path.join(root, 'dst', 'f.txt'));
    expect(await fsp.readFile(file, 'utf8')).toBe('data');

    const folder = path.join(root, 'model');
    await makeFolder(folder);
    const out = await ops.upload(folder, path.join(root, 'copy'));
    expect(await tree(out)).toEqual(['model.json', 'sub', 'sub/weights.bin']);
    expect(await tree(folder)).toEqual(['model.json', 'sub', 'sub/weights.bin']);
  });

  it('copying a folder onto an existing one merges, keeping files it does not replace', async () => {
    const folder = path.join(root, 'model');
    await makeFolder(folder);
    const dst = path.join(root, 'deployed');
    await fsp.mkdir(dst);
    await fsp.writeFile(path.join(dst, 'old.txt'), 'old');
    await fsp.writeFile(path.join(dst, 'model.json'), 'stale');
    await ops.download(folder, dst);
    expect(await tree(dst)).toEqual(['model.json', 'old.txt', 'sub', 'sub/weights.bin']);
    expect(await fsp.readFile(path.join(dst, 'model.json'), 'utf8')).toBe('{"a":1}');
  });

  it('refuses unsupported schemes with SEDNA_ERR_UNSUPPORTED_URL naming the URL', async () => {
    for (const url of ['gs://bucket/model', 'ftp://host/file', 'hdfs://nn/path']) {
      const err = await rejectionOf(ops.download(url));
      expect(err.code).toBe('SEDNA_ERR_UNSUPPORTED_URL');
      expect(err.message).toContain(url);
    }
    expect(() => schemeOf('obs://b/k')).toThrow(/obs:\/\//);
  });

  it('is unusable after close() (SEDNA_ERR_CLOSED), and close() is idempotent', async () => {
    const closing = new FileOps();
    await closing.close();
    await closing.close();
    expect((await rejectionOf(closing.readFile(path.join(root, 'x')))).code).toBe('SEDNA_ERR_CLOSED');
    expect((await rejectionOf(closing.download('s3://b/k'))).code).toBe('SEDNA_ERR_CLOSED');
  });

  it('refuses to write to http(s) URLs', async () => {
    const err = await rejectionOf(ops.writeFile('http://127.0.0.1:1/x', 'y'));
    expect(err.code).toBe('SEDNA_ERR_NOT_SUPPORTED');
    const file = path.join(root, 'f');
    await fsp.writeFile(file, 'x');
    expect((await rejectionOf(ops.upload(file, 'https://example.invalid/f'))).code).toBe('SEDNA_ERR_NOT_SUPPORTED');
  });
});

describe('FileOps archives', () => {
  it('tars a folder and untars it elsewhere with the same content', async () => {
    const folder = path.join(root, 'model');
    await makeFolder(folder);
    const archive = await ops.tar(folder, path.join(root, 'out', 'model.tar.gz'));
    expect(await tree(path.join(root, 'out'))).toEqual(['model.tar.gz']);
    const dst = await ops.untar(archive, path.join(root, 'unpacked'));
    expect(await tree(dst)).toEqual(['model.json', 'sub', 'sub/weights.bin']);
    expect(await fsp.readFile(path.join(dst, 'sub', 'weights.bin'))).toEqual(Buffer.from([1, 2, 3, 4]));
  });

  it('upload with tar stores an archive; download with unzip unpacks it into a folder', async () => {
    const folder = path.join(root, 'model');
    await makeFolder(folder);
    const stored = await ops.upload(folder, path.join(root, 'store', 'model.tar.gz'), { tar: true });
    expect(await tree(path.join(root, 'store'))).toEqual(['model.tar.gz']);
    const unpacked = await ops.download(stored, path.join(root, 'restored'), { unzip: true });
    expect(unpacked).toBe(path.join(root, 'restored'));
    expect(await tree(unpacked)).toEqual(['model.json', 'sub', 'sub/weights.bin']);
    // The source folder is still there, untouched.
    expect(await tree(folder)).toEqual(['model.json', 'sub', 'sub/weights.bin']);
  });

  it('refuses an archive with a ../ entry before writing anything', async () => {
    // A hostile archive: an entry that climbs out of the target folder.
    const staging = path.join(root, 'staging');
    await fsp.mkdir(path.join(staging, 'inner'), { recursive: true });
    await fsp.writeFile(path.join(staging, 'ok.txt'), 'fine');
    await fsp.writeFile(path.join(root, 'evil.txt'), 'owned');
    const archive = path.join(root, 'evil.tar.gz');
    await create({ gzip: true, file: archive, cwd: path.join(staging, 'inner'), preservePaths: true }, [
      '../ok.txt',
      '../../evil.txt',
    ]);
    await fsp.rm(path.join(root, 'evil.txt'));
    const target = path.join(root, 'target', 'deep');
    const err = await rejectionOf(ops.untar(archive, target));
    expect(err.code).toBe('SEDNA_ERR_DATA_FORMAT');
    expect(err.message).toContain(archive);
    expect(err.message).toContain('../../evil.txt');
    expect(fs.existsSync(path.join(root, 'evil.txt'))).toBe(false);
    expect(fs.existsSync(path.join(root, 'target', 'ok.txt'))).toBe(false);
    expect(fs.existsSync(target)).toBe(false);
  });

  it('refuses a symlink entry that points outside the target folder', async () => {
    const staging = path.join(root, 'staging');
    await fsp.mkdir(staging);
    await fsp.symlink('/etc/passwd', path.join(staging, 'link'));
    const archive = path.join(root, 'link.tar.gz');
    await create({ gzip: true, file: archive, cwd: staging }, ['link']);
    const err = await rejectionOf(ops.untar(archive, path.join(root, 'out')));
    expect(err.code).toBe('SEDNA_ERR_DATA_FORMAT');
    expect(err.message).toContain('/etc/passwd');
    expect(fs.existsSync(path.join(root, 'out'))).toBe(false);
  });

  it('a file that is not an archive is SEDNA_ERR_DATA_FORMAT naming it', async () => {
    const bogus = path.join(root, 'bogus.tar.gz');
    await fsp.writeFile(bogus, 'this is not gzip');
    const err = await rejectionOf(ops.untar(bogus, path.join(root, 'out')));
    expect(err.code).toBe('SEDNA_ERR_DATA_FORMAT');
    expect(err.message).toContain(bogus);
    expect(fs.existsSync(path.join(root, 'out'))).toBe(false);
  });
});
