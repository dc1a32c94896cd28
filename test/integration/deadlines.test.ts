/**
 * Deadlines that hold (issue 13, item 5): FileOps' total deadline covers a dripping body; the
 * server factory applies its socket timeouts and connection cap with its own node server; a 504
 * closes its connection; a body just over the limit gets its 413 rather than a reset.
 */
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fsp from 'node:fs/promises';
import { FileOps } from '../../src/datasources/file-ops.js';
import { createServer, type SednaServer } from '../../src/service/server/base.js';
import { rejectionOf } from '../helpers/errors.js';
import { scriptedServer, type ScriptedServer } from '../helpers/scripted-server.js';

/** Answers 200 and then sends one byte every `everyMs`, forever. */
async function drippingServer(everyMs: number): Promise<ScriptedServer> {
  return scriptedServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const timer = setInterval(() => res.write('x'), everyMs);
    res.on('close', () => clearInterval(timer));
  });
}

describe('FileOps over http: the total deadline covers the body', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'sedna-deadline-'));
  });
  afterAll(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  test('download and readFile of a body dripping a byte every 100 ms end at the total deadline', async () => {
    const server = await drippingServer(100);
    const ops = new FileOps({ tempDir: dir, http: { totalTimeoutMs: 1_000, idleTimeoutMs: 5_000 } });
    try {
      for (const call of [() => ops.download(`${server.url}/model.bin`), () => ops.readFile(`${server.url}/a.json`)]) {
        const started = Date.now();
        const err = await rejectionOf(call());
        expect(err.code).toBe('SEDNA_ERR_TIMEOUT');
        expect(err.message).toMatch(/total deadline of 1000 ms/);
        expect(Date.now() - started).toBeLessThan(3_000);
      }
      expect(await fsp.readdir(dir)).toEqual([]); // no partial download left
    } finally {
      await ops.close();
      await server.close();
    }
  });

  test('headers that never come end at the total deadline too, named as such (not as a caller abort)', async () => {
    const server = await scriptedServer(() => undefined); // never answers
    const ops = new FileOps({
      tempDir: dir,
      http: { totalTimeoutMs: 1_000, timeoutMs: 10_000, retry: { maxAttempts: 1 } },
    });
    try {
      for (const call of [() => ops.download(`${server.url}/model.bin`), () => ops.readFile(`${server.url}/a.json`)]) {
        const err = await rejectionOf(call());
        expect(err.code).toBe('SEDNA_ERR_TIMEOUT');
        expect(err.message).toMatch(/total deadline of 1000 ms/);
      }
      expect(await fsp.readdir(dir)).toEqual([]);
    } finally {
      await ops.close();
      await server.close();
    }
  });

  test('a download over maxResponseBytes is SEDNA_ERR_BAD_RESPONSE, announced or not', async () => {
    const body = Buffer.alloc(64 * 1024, 1);
    const server = await scriptedServer((req, res) => {
      res.writeHead(200, req.url === '/sized' ? { 'content-length': body.length } : {});
      res.end(body);
    });
    const ops = new FileOps({ tempDir: dir, http: { maxResponseBytes: 10_000 } });
    try {
      for (const name of ['sized', 'chunked']) {
        const err = await rejectionOf(ops.download(`${server.url}/${name}`));
        expect(err.code).toBe('SEDNA_ERR_BAD_RESPONSE');
      }
    } finally {
      await ops.close();
      await server.close();
    }
  });
});

/** A raw socket to `server`; resolves when connected. */
function connect(server: SednaServer): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(server.port, '127.0.0.1', () => resolve(socket));
    socket.on('error', reject);
  });
}

/** Milliseconds until the peer closes `socket`. */
function closedAfter(socket: net.Socket): Promise<number> {
  const started = Date.now();
  return new Promise((resolve) => {
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(Date.now() - started));
    socket.resume();
  });
}

describe('server socket timeouts and limits (custom server factory)', () => {
  const servers: SednaServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  async function start(options: Partial<Parameters<typeof createServer>[0]> = {}): Promise<SednaServer> {
    const server = await createServer({ name: 'deadlines', host: '127.0.0.1', closeGraceMs: 100, ...options });
    server.app.get('/ok', () => ({ ok: true }));
    server.app.get('/never', () => new Promise(() => undefined));
    server.app.post('/echo', (request) => ({ size: JSON.stringify(request.body).length }));
    await server.listen();
    servers.push(server);
    return server;
  }

  test('the options reach the node server (they were ignored with the factory)', async () => {
    const server = await start({
      keepAliveTimeoutMs: 7_000,
      headersTimeoutMs: 4_000,
      requestTimeoutMs: 9_000,
      connectionTimeoutMs: 11_000,
      maxConnections: 33,
    });
    const node = server.app.server;
    expect([
      node.keepAliveTimeout,
      node.headersTimeout,
      node.requestTimeout,
      node.timeout,
      node.maxConnections,
    ]).toEqual([7_000, 4_000, 9_000, 11_000, 33]);
    const defaults = (await start()).app.server;
    expect([defaults.keepAliveTimeout, defaults.headersTimeout, defaults.requestTimeout, defaults.timeout]).toEqual([
      72_000, 30_000, 60_000, 82_000,
    ]);
  });

  test('an idle keep-alive connection is closed after keepAliveTimeoutMs', async () => {
    const server = await start({ keepAliveTimeoutMs: 400 });
    const socket = await connect(server);
    const closed = closedAfter(socket);
    socket.write('GET /ok HTTP/1.1\r\nHost: x\r\n\r\n');
    const ms = await closed;
    expect(ms).toBeGreaterThanOrEqual(300);
    expect(ms).toBeLessThan(3_000);
  });

  test('a client that never finishes its headers is cut after headersTimeoutMs', async () => {
    const server = await start({ headersTimeoutMs: 300, requestTimeoutMs: 1_000 });
    const socket = await connect(server);
    const closed = closedAfter(socket);
    socket.write('GET /ok HTTP/1.1\r\nHost: x\r\n'); // no blank line, ever
    expect(await closed).toBeLessThan(2_000);
  });

  test('a silent connection is cut after connectionTimeoutMs', async () => {
    const server = await start({ connectionTimeoutMs: 300 });
    const socket = await connect(server);
    expect(await closedAfter(socket)).toBeLessThan(2_000);
  });

  test('connections past maxConnections are closed; the others are served', async () => {
    const server = await start({ maxConnections: 2 });
    const held = [await connect(server), await connect(server)];
    const extra = await connect(server);
    expect(await closedAfter(extra)).toBeLessThan(2_000);
    const answer = await new Promise<string>((resolve) => {
      let text = '';
      held[0]?.on('data', (c: Buffer) => {
        text += c.toString();
        if (text.includes('"ok":true')) resolve(text);
      });
      held[0]?.write('GET /ok HTTP/1.1\r\nHost: x\r\n\r\n');
    });
    expect(answer).toMatch(/^HTTP\/1.1 200/);
    for (const s of held) s.destroy();
  });

  test('a 504 closes its connection', async () => {
    const server = await start({ requestTimeoutMs: 300 });
    const results = await Promise.all(
      Array.from({ length: 5 }, async () => {
        const socket = await connect(server);
        let text = '';
        socket.on('data', (c: Buffer) => (text += c.toString()));
        const closed = closedAfter(socket);
        socket.write('GET /never HTTP/1.1\r\nHost: x\r\n\r\n');
        const ms = await closed;
        return { ms, text };
      }),
    );
    for (const { ms, text } of results) {
      expect(text).toMatch(/^HTTP\/1.1 504/);
      expect(text.toLowerCase()).toContain('connection: close');
      expect(ms).toBeLessThan(3_000);
    }
  });

  test('a body just over the limit gets its 413 (not a reset), and the connection stays usable', async () => {
    const limit = 16 * 1024 * 1024; // the default
    const server = await start();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const body = Buffer.from(`"${'x'.repeat(limit + 1024)}"`);
    try {
      const errors: string[] = [];
      for (let i = 0; i < 10; i++) {
        // Half on a kept-alive connection, half on a fresh one each (as a client without a session).
        const outcome = await new Promise<string>((resolve) => {
          let answer = '';
          const req = http.request(
            `${server.url}/echo`,
            {
              method: 'POST',
              agent: i % 2 === 0 ? agent : false,
              headers: { 'content-type': 'application/json', 'content-length': body.length },
            },
            (res) => {
              res.on('data', (c: Buffer) => (answer += c.toString()));
              res.on('end', () => (answer = `${res.statusCode} ${answer}`));
              res.on('error', (err) => errors.push(`response: ${err.message}`));
            },
          );
          req.on('error', (err) => errors.push(`request: ${err.message}`));
          // 'close' comes after the answer or the error: both are known by then.
          req.on('close', () => setImmediate(() => resolve(answer)));
          req.end(body);
        });
        expect(outcome).toMatch(/^413 \{"code":"SEDNA_ERR_PAYLOAD_TOO_LARGE","message":/);
      }
      expect(errors).toEqual([]); // on main: EPIPE / ECONNRESET while the body was still going out
    } finally {
      agent.destroy();
    }
  });
});
