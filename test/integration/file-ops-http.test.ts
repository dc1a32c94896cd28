/**
 * FileOps over http(s): real servers on 127.0.0.1 (port 0) that serve, refuse, hang or break
 * mid-body. A failed download must leave nothing at the target, and every failure is bounded in
 * time and names the URL.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { FileOps } from '../../src/datasources/file-ops.js';
import { deadPort, scriptedServer as serve } from '../helpers/scripted-server.js';
import { rejectionOf } from '../helpers/errors.js';

const fast = { timeoutMs: 500, totalTimeoutMs: 2_000, idleTimeoutMs: 300, retry: { baseDelayMs: 5, maxDelayMs: 20 } };
const PAYLOAD = Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 251));

let root: string;
let ops: FileOps;
beforeEach(async () => {
  root = await fsp.mkdtemp(path.join('/tmp', 'sedna-http-test-'));
  ops = new FileOps({ http: fast, tempDir: root });
});
afterEach(async () => {
  await ops.close();
  await fsp.rm(root, { recursive: true, force: true });
});

describe('FileOps over http(s)', () => {
  it('downloads a file to dst, to a folder, and to a fresh temp folder keeping its name', async () => {
    const server = await serve((req, res) => {
      res.setHeader('content-type', 'application/octet-stream');
      res.end(PAYLOAD);
    });
    try {
      const url = `${server.url}/models/v1/model%20a.onnx?sig=1`;
      const dst = path.join(root, 'out', 'm.onnx');
      expect(await ops.download(url, dst)).toBe(dst);
      expect((await fsp.readFile(dst)).equals(PAYLOAD)).toBe(true);

      await fsp.mkdir(path.join(root, 'dir'));
      const inDir = await ops.download(url, path.join(root, 'dir'));
      expect(inDir).toBe(path.join(root, 'dir', 'model a.onnx'));

      const temp = await ops.download(url);
      expect(path.basename(temp)).toBe('model a.onnx');
      expect(path.dirname(path.dirname(temp))).toBe(root); // inside the configured tempDir
      expect((await fsp.readFile(temp)).equals(PAYLOAD)).toBe(true);
      expect((await ops.readFile(url)).equals(PAYLOAD)).toBe(true);
      expect(await ops.exists(url)).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('a 404 is SEDNA_ERR_FILE_NOT_FOUND naming the URL, leaves nothing, and is not retried', async () => {
    const server = await serve((req, res) => {
      res.statusCode = 404;
      res.end('no such model');
    });
    try {
      const url = `${server.url}/missing.onnx`;
      const dst = path.join(root, 'out', 'missing.onnx');
      const err = await rejectionOf(ops.download(url, dst));
      expect(err.code).toBe('SEDNA_ERR_FILE_NOT_FOUND');
      expect(err.message).toContain(url);
      expect(server.hits()).toBe(1);
      expect(fs.existsSync(dst)).toBe(false);
      // Without dst: the fresh temp folder is removed again.
      expect((await rejectionOf(ops.download(url))).code).toBe('SEDNA_ERR_FILE_NOT_FOUND');
      expect(await fsp.readdir(root)).toEqual([]);
      expect(await ops.exists(url)).toBe(false);
      expect((await rejectionOf(ops.readFile(url))).code).toBe('SEDNA_ERR_FILE_NOT_FOUND');
    } finally {
      await server.close();
    }
  });

  it('a 403 is SEDNA_ERR_ACCESS_DENIED', async () => {
    const server = await serve((req, res) => {
      res.statusCode = 403;
      res.end();
    });
    try {
      const err = await rejectionOf(ops.download(`${server.url}/secret.bin`, path.join(root, 'x')));
      expect(err.code).toBe('SEDNA_ERR_ACCESS_DENIED');
      expect(err.message).toContain(`${server.url}/secret.bin`);
    } finally {
      await server.close();
    }
  });

  it('retries a 503 and then succeeds', async () => {
    let calls = 0;
    const server = await serve((req, res) => {
      calls++;
      if (calls === 1) {
        res.statusCode = 503;
        res.end('busy');
        return;
      }
      res.end(PAYLOAD);
    });
    try {
      const file = await ops.download(`${server.url}/m.bin`, path.join(root, 'm.bin'));
      expect((await fsp.readFile(file)).equals(PAYLOAD)).toBe(true);
      expect(server.hits()).toBe(2);
    } finally {
      await server.close();
    }
  });

  it('a dead port is SEDNA_ERR_NETWORK naming the URL', async () => {
    const url = `http://127.0.0.1:${await deadPort()}/model.onnx`;
    const dst = path.join(root, 'model.onnx');
    const err = await rejectionOf(ops.download(url, dst));
    expect(err.code).toBe('SEDNA_ERR_NETWORK');
    expect(err.message).toContain(url);
    expect(fs.existsSync(dst)).toBe(false);
  });

  it('a server that never answers fails with SEDNA_ERR_TIMEOUT within the total deadline', async () => {
    const server = await serve(() => {
      // accept the request and never answer
    });
    try {
      const started = Date.now();
      const err = await rejectionOf(ops.download(`${server.url}/hang.bin`, path.join(root, 'hang.bin')));
      const elapsed = Date.now() - started;
      expect(err.code).toBe('SEDNA_ERR_TIMEOUT');
      expect(err.message).toContain(`${server.url}/hang.bin`);
      expect(elapsed).toBeLessThan(fast.totalTimeoutMs + 1_000);
      expect(server.hits()).toBeGreaterThanOrEqual(2); // GET is retried within the deadline
      expect(await fsp.readdir(root)).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('a body that stalls mid-way fails with SEDNA_ERR_TIMEOUT and leaves no partial file', async () => {
    const server = await serve((req, res) => {
      res.setHeader('content-length', String(PAYLOAD.length));
      res.write(PAYLOAD.subarray(0, 1000)); // then silence
    });
    try {
      const dst = path.join(root, 'out', 'stalled.bin');
      const err = await rejectionOf(ops.download(`${server.url}/stalled.bin`, dst));
      expect(err.code).toBe('SEDNA_ERR_TIMEOUT');
      expect(err.message).toContain(`${server.url}/stalled.bin`);
      expect(await fsp.readdir(path.join(root, 'out'))).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('a connection cut mid-body fails and leaves the previous file intact, with no temp litter', async () => {
    const server = await serve((req, res) => {
      res.setHeader('content-length', String(PAYLOAD.length));
      res.write(PAYLOAD.subarray(0, 5000), () => res.destroy());
    });
    try {
      const dst = path.join(root, 'model.onnx');
      await fsp.writeFile(dst, 'previous model');
      const err = await rejectionOf(ops.download(`${server.url}/model.onnx`, dst));
      expect(['SEDNA_ERR_NETWORK', 'SEDNA_ERR_TIMEOUT']).toContain(err.code);
      expect(err.message).toContain(`${server.url}/model.onnx`);
      expect(await fsp.readFile(dst, 'utf8')).toBe('previous model');
      expect(await fsp.readdir(root)).toEqual(['model.onnx']);
    } finally {
      await server.close();
    }
  });

  it('readFile refuses a body over maxReadBytes, naming the URL', async () => {
    const server = await serve((req, res) => {
      res.end(PAYLOAD);
    });
    const small = new FileOps({ http: fast, maxReadBytes: 1024 });
    try {
      const err = await rejectionOf(small.readFile(`${server.url}/big.bin`));
      expect(err.code).toBe('SEDNA_ERR_STORAGE');
      expect(err.message).toContain(`${server.url}/big.bin`);
      expect(err.message).toContain('1024');
    } finally {
      await small.close();
      await server.close();
    }
  });
});
