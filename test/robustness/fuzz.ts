/**
 * A seeded fuzzer for the servers of test/robustness/servers.mjs: malformed HTTP on raw sockets,
 * route-aware mutations of well-formed requests, and WebSocket frames, with a classification of
 * every answer. Deterministic for a seed (SEDNA_FUZZ_SEED), so a failure replays.
 */
import { fork, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { WebSocket } from 'ws';
import { encodeWeightsFrame } from '../../src/backend/weights.js';

// ---------------------------------------------------------------------------------------------
// Randomness

/** mulberry32: small, fast, seeded. */
export function prng(seed: number): Rng {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return {
    next,
    int,
    pick: <T>(items: readonly T[]): T => items[int(items.length)] as T,
    bytes: (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(256))),
    chance: (p: number): boolean => next() < p,
  };
}
export interface Rng {
  next(): number;
  int(n: number): number;
  pick<T>(items: readonly T[]): T;
  bytes(n: number): Buffer;
  chance(p: number): boolean;
}

const STRINGS = [
  '',
  'a',
  'x'.repeat(300),
  '\u0000',
  '\uD800',
  '💥',
  '../../etc/passwd',
  '%zz',
  '{"',
  'NaN',
  '1e309',
  '__proto__',
  'constructor',
];

/** A random JSON-ish value (what JSON.parse can produce, plus the odd number). */
export function randomValue(rng: Rng, depth = 0): unknown {
  const k = rng.int(depth > 3 ? 5 : 8);
  switch (k) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick([0, -1, 1.5, 2 ** 53, -(2 ** 63), 1e308, 3, 0.1, -0]);
    case 3:
      return rng.pick(STRINGS);
    case 4:
      return rng.int(1000);
    case 5:
      return Array.from({ length: rng.int(5) }, () => randomValue(rng, depth + 1));
    case 6: {
      const out: Record<string, unknown> = {};
      for (let i = rng.int(4); i > 0; i--)
        out[rng.pick(['data', 'callback', 'name', 'type', 'weights', 'num_samples', 'client_id', '__proto__', 'x'])] =
          randomValue(rng, depth + 1);
      return out;
    }
    default:
      return Array.from({ length: rng.int(4) }, () => rng.next());
  }
}

/** A mutation of a well-formed JSON body: keys dropped or retyped, values swapped, nesting deepened. */
export function mutate(rng: Rng, value: unknown, depth = 0): unknown {
  if (rng.chance(0.15) || depth > 4) return randomValue(rng, depth);
  if (Array.isArray(value)) {
    const copy = (value as unknown[]).map((v: unknown) => (rng.chance(0.3) ? mutate(rng, v, depth + 1) : v));
    if (rng.chance(0.2)) copy.push(randomValue(rng, depth + 1));
    if (rng.chance(0.1)) return [copy];
    return copy;
  }
  if (typeof value === 'object' && value !== null) {
    const copy: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (rng.chance(0.15)) continue;
      copy[k] = rng.chance(0.4) ? mutate(rng, v, depth + 1) : v;
    }
    if (rng.chance(0.2)) copy[rng.pick(['extra', 'data', 'callback', 'x'])] = randomValue(rng);
    return copy;
  }
  return randomValue(rng, depth);
}

// ---------------------------------------------------------------------------------------------
// HTTP inputs (raw bytes, so nothing on the way fixes them)

export interface Seed {
  method: string;
  path: string;
  body?: unknown;
  /** A binary body instead of JSON, base64 (specs travel over IPC), sent as `contentType`. */
  rawBase64?: string;
  contentType?: string;
}

/** A damaged copy of a binary body: bytes flipped, cut, extended, or a length-sized field forced. */
function mutateBytes(rng: Rng, bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes);
  switch (rng.int(6)) {
    case 0:
      for (let i = 1 + rng.int(8); i > 0 && copy.length > 0; i--) copy[rng.int(copy.length)] = rng.int(256);
      return copy;
    case 1:
      return copy.subarray(0, rng.int(copy.length));
    case 2:
      return Buffer.concat([copy, rng.bytes(1 + rng.int(64))]);
    case 3: {
      // Length and count fields: 0, the largest, just past the end.
      if (copy.length >= 4)
        copy.writeUInt32LE(rng.pick([0, 0xffffffff, 0x7fffffff, copy.length + 1]), rng.int(copy.length - 3));
      return copy;
    }
    case 4: {
      const at = rng.int(copy.length + 1);
      return Buffer.concat([copy.subarray(0, at), copy.subarray(rng.int(copy.length + 1))]);
    }
    default:
      return copy;
  }
}

function request(method: string, target: string, headers: readonly string[], body: Buffer | string = ''): Buffer {
  const head = `${method} ${target} HTTP/1.1\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), Buffer.isBuffer(body) ? body : Buffer.from(body)]);
}

function withBody(method: string, target: string, body: string | Buffer, contentType = 'application/json'): Buffer {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const headers = ['Host: fuzz', `Content-Length: ${bytes.length}`];
  if (contentType !== '') headers.push(`Content-Type: ${contentType}`);
  return request(method, target, headers, bytes);
}

/** One fuzz input for an HTTP server: the bytes to send, and what kind of input it is. */
export function httpInput(rng: Rng, seeds: readonly Seed[], bodyLimit: number): { bytes: Buffer; kind: string } {
  const seed = rng.pick(seeds);
  const roll = rng.int(100);
  if (roll < 5) return { kind: 'random bytes', bytes: rng.bytes(rng.int(300)) };
  if (roll < 14) {
    const line = rng.pick([
      `${seed.method} ${seed.path}`,
      `${seed.method.toLowerCase()} ${seed.path} HTTP/1.1`,
      `${seed.method} ${seed.path} HTTP/9.9`,
      `BREW ${seed.path} HTTP/1.1`,
      `${seed.method}  ${seed.path}  HTTP/1.1`,
      `${seed.method} ${seed.path}\u0000 HTTP/1.1`,
      `${seed.method} http://evil/${seed.path} HTTP/1.1`,
      '',
    ]);
    return { kind: 'bad request line', bytes: Buffer.from(`${line}\r\nHost: fuzz\r\n\r\n`, 'latin1') };
  }
  if (roll < 28) {
    const body = JSON.stringify(seed.body ?? {});
    const headers = rng.pick([
      ['Host: fuzz', 'broken header'],
      ['Host: fuzz', `Content-Length: ${body.length}`, `Content-Length: ${body.length + 5}`],
      ['Host: fuzz', 'Content-Length: -1'],
      ['Host: fuzz', 'Content-Length: 1e3'],
      ['Host: fuzz', `Content-Length: ${2 ** 60}`],
      ['Host: fuzz', 'Transfer-Encoding: chunked', `Content-Length: ${body.length}`],
      ['Host: fuzz', 'Transfer-Encoding: gzip, chunked'],
      ['Host: fuzz', `X-Big: ${'a'.repeat(17_000 + rng.int(5000))}`],
      ['Host: fuzz', ...Array.from({ length: 200 }, (_, i) => `X-${i}: ${'b'.repeat(100)}`)],
      ['Host: fuzz', 'Content-Type: application/json; charset=utf-\u00ff'],
      ['Host: fuzz\r\nInjected: yes'],
    ]);
    const chunked = headers.some((h) => h.startsWith('Transfer-Encoding'));
    const payload = chunked
      ? rng.pick([`zz\r\n${body}\r\n0\r\n\r\n`, `${body.length.toString(16)}\r\n${body}`, '0\r\n\r\n'])
      : body;
    return { kind: 'bad headers', bytes: request(seed.method, seed.path, headers, payload) };
  }
  if (roll < 38) {
    const target = rng.pick([
      `${seed.path}%zz`,
      `${seed.path}/${'a'.repeat(20_000)}`,
      `/${'../'.repeat(10)}etc/passwd`,
      `${seed.path}?${'q=1&'.repeat(500)}`,
      `${seed.path}/%E2%82`,
      '*',
      `${seed.path}#frag`,
      `//${seed.path}`,
      `/sedna/%00`,
      `/${encodeURIComponent(rng.pick(STRINGS.filter((x) => x !== '\uD800')))}`,
    ]);
    return { kind: 'bad path', bytes: request(rng.pick(['GET', 'POST', seed.method]), target, ['Host: fuzz']) };
  }
  if (roll < 43) {
    // Over the body limit: announced, or sent in chunks without a length.
    const size = bodyLimit + 1 + rng.int(bodyLimit);
    const big = `{"data":"${'x'.repeat(size)}"}`;
    return rng.chance(0.5)
      ? { kind: 'over the limit', bytes: withBody('POST', seed.path, big) }
      : {
          kind: 'over the limit (chunked)',
          bytes: request(
            'POST',
            seed.path,
            ['Host: fuzz', 'Transfer-Encoding: chunked', 'Content-Type: application/json'],
            `${big.length.toString(16)}\r\n${big}\r\n0\r\n\r\n`,
          ),
        };
  }
  if (roll < 48) {
    // Cut short: part of the headers or the body, then the connection ends.
    const full = withBody('POST', seed.path, JSON.stringify(seed.body ?? {}));
    return { kind: 'truncated', bytes: full.subarray(0, rng.int(full.length)) };
  }
  // Well-formed HTTP whose method, type or body is wrong, or right.
  const method = rng.chance(0.8) ? seed.method : rng.pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']);
  if (seed.rawBase64 !== undefined && method !== 'GET' && method !== 'HEAD' && rng.chance(0.7)) {
    const type = rng.chance(0.85) ? (seed.contentType ?? '') : rng.pick(['application/json', 'text/plain', '']);
    return {
      kind: 'mutated binary request',
      bytes: withBody(method, seed.path, mutateBytes(rng, Buffer.from(seed.rawBase64, 'base64')), type),
    };
  }
  const contentType = rng.pick([
    'application/json',
    'application/json',
    'application/json',
    'text/plain',
    'application/x-www-form-urlencoded',
    '',
    'application/json; charset=latin1',
  ]);
  const text = rng.pick([
    () => JSON.stringify(mutate(rng, seed.body ?? {})),
    () => JSON.stringify(mutate(rng, seed.body ?? {})),
    () => JSON.stringify(randomValue(rng)),
    () => JSON.stringify(seed.body ?? {}).slice(0, -1 - rng.int(3)),
    () => rng.bytes(rng.int(100)).toString('latin1'),
    () => `${'['.repeat(2000)}${']'.repeat(2000)}`,
    () => JSON.stringify(seed.body ?? {}),
  ])();
  return {
    // A HEAD answer has no body by definition: its error shape cannot be checked.
    kind: method === 'HEAD' ? 'HEAD request' : 'mutated request',
    bytes:
      method === 'GET' || method === 'HEAD'
        ? request(method, seed.path, ['Host: fuzz'])
        : withBody(method, seed.path, text, contentType),
  };
}

export interface Answer {
  /** HTTP status, or 0 when the server closed without answering. */
  status: number;
  headers: string;
  body: string;
  /** The connection stayed open past the deadline after we finished sending. */
  hung: boolean;
}

/** Sends `bytes` on a fresh connection, half-closes, and reads until the server closes (or `timeoutMs`). */
export function sendRaw(port: number, bytes: Buffer, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (hung: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      const split = text.indexOf('\r\n\r\n');
      const headers = split < 0 ? text : text.slice(0, split);
      // The first answer only (garbage after a request may get a second one).
      const length = /\r\ncontent-length: *(\d+)/i.exec(headers);
      const rest = split < 0 ? '' : text.slice(split + 4);
      resolve({ status, headers, body: length === null ? rest : rest.slice(0, Number(length[1])), hung });
    };
    const timer = setTimeout(() => finish(true), timeoutMs);
    socket.on('connect', () => socket.end(bytes));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => finish(false));
    socket.on('close', () => finish(false));
  });
}

/** The body of a chunked answer, decoded (or the text as it is). */
function dechunk(headers: string, body: string): string {
  if (!/transfer-encoding: chunked/i.test(headers)) return body;
  let out = '';
  let at = 0;
  for (;;) {
    const eol = body.indexOf('\r\n', at);
    const size = parseInt(body.slice(at, eol), 16);
    if (!(size > 0)) return out;
    out += body.slice(eol + 2, eol + 2 + size);
    at = eol + 4 + size;
  }
}

/** Whether an error answer is `{code: "SEDNA_ERR_…", message}` (and nothing else). */
export function isCoded(answer: Answer): boolean {
  try {
    const body = JSON.parse(dechunk(answer.headers, answer.body)) as Record<string, unknown>;
    return (
      typeof body.code === 'string' &&
      body.code.startsWith('SEDNA_ERR_') &&
      typeof body.message === 'string' &&
      Object.keys(body).length === 2
    );
  } catch {
    return false;
  }
}

/** The real LocalController's own error answers (the emulator reproduces them). */
export function isLcShape(answer: Answer): boolean {
  const body = dechunk(answer.headers, answer.body);
  return /^\{\s*"Status": \d{3},\s*"Message": /.test(body) || /^(404 page not found\n|\d{3}: [A-Za-z ]+)$/.test(body);
}

// ---------------------------------------------------------------------------------------------
// WebSocket inputs

// 'error' too: the server relays no client's frame (issue 13 item 4d), so a forged one reaches no other lane.
const WS_TYPES = ['subscribe', 'update_weight', 'recv_weight', 'message', 'CLIENT_JOIN', 'error', '', 'x'];

function weightsFrame(rng: Rng): Buffer {
  const n = 1 + rng.int(4);
  const frame = Buffer.from(
    encodeWeightsFrame(
      [{ name: 'w', dtype: 'float32', shape: [n], data: Float32Array.from({ length: n }, () => rng.next()) }],
      {
        type: rng.pick(['update_weight', 'update_weight', 'recv_weight', 'x']),
        data: { num_samples: rng.pick([1, '2', -1, 2 ** 53, 'x', null]) },
        round_number: rng.pick([1, 0, -5, 'x']),
      },
    ),
  );
  for (let i = rng.int(4); i > 0; i--) frame[rng.int(frame.length)] = rng.int(256);
  return rng.chance(0.2) ? frame.subarray(0, rng.int(frame.length)) : frame;
}

/** The frames of one WebSocket fuzz input (text or binary), sent in order on one connection. */
export function wsInput(
  rng: Rng,
  maxMessageBytes: number,
): { subscribeFirst: boolean; frames: (string | Buffer)[]; rawTail?: Buffer } {
  const frames: (string | Buffer)[] = [];
  for (let i = 1 + rng.int(3); i > 0; i--) {
    const roll = rng.int(100);
    if (roll < 10) frames.push(rng.bytes(rng.int(200)).toString('latin1'));
    else if (roll < 20) frames.push(rng.bytes(rng.int(200)));
    else if (roll < 45) frames.push(weightsFrame(rng));
    else if (roll < 50) frames.push('x'.repeat(maxMessageBytes + 1 + rng.int(1000)));
    else if (roll < 75) {
      const n = 1 + rng.int(3);
      frames.push(
        JSON.stringify({
          type: 'update_weight',
          client: rng.pick(['c', '', 7]),
          data: {
            num_samples: rng.pick([1, 3, '3', -1, 2.5, 'x', null, 2 ** 53]),
            weights: rng.pick([
              [Array.from({ length: n }, () => rng.next())],
              [[1, 'x']],
              randomValue(rng),
              [[NaN]],
              [[[1], [1, 2]]],
            ]),
          },
          job_name: 'j',
        }).replace('null]]', rng.chance(0.3) ? 'NaN]]' : 'null]]'),
      );
    } else {
      const frame: Record<string, unknown> = { type: rng.pick(WS_TYPES) };
      if (rng.chance(0.6)) frame.client_id = rng.pick([`fz${rng.int(50)}`, '', 42, null, 'x'.repeat(1000), { a: 1 }]);
      if (rng.chance(0.5)) frame.data = randomValue(rng);
      if (rng.chance(0.3)) frame.encoding = rng.pick(['binary', 'json', 'x', 3]);
      frames.push(JSON.stringify(frame));
    }
  }
  return {
    subscribeFirst: rng.chance(0.6),
    frames,
    // Bytes that are not WebSocket framing at all, after the handshake.
    ...(rng.chance(0.05) ? { rawTail: rng.bytes(1 + rng.int(64)) } : {}),
  };
}

export interface WsOutcome {
  errorFrames: unknown[];
  closeCode: number | undefined;
  hung: boolean;
  refused: number;
}

/** Runs one WebSocket input; resolves when the server has closed, or after our close handshake. */
export function sendWs(
  url: string,
  input: ReturnType<typeof wsInput>,
  id: string,
  timeoutMs: number,
): Promise<WsOutcome> {
  return new Promise((resolve) => {
    const outcome: WsOutcome = { errorFrames: [], closeCode: undefined, hung: false, refused: 0 };
    const socket = new WebSocket(url, { perMessageDeflate: false });
    let done = false;
    const finish = (hung: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      outcome.hung = hung;
      socket.terminate();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish(true), timeoutMs);
    socket.on('unexpected-response', (_req, res) => {
      outcome.refused = res.statusCode ?? 0;
      finish(false);
    });
    socket.on('error', () => undefined);
    socket.on('message', (data: Buffer, isBinary) => {
      if (isBinary) return;
      try {
        const frame = JSON.parse(data.toString('utf8')) as { type?: unknown };
        if (frame.type === 'error') outcome.errorFrames.push(frame);
      } catch {
        // not ours to judge
      }
    });
    socket.on('close', (code) => {
      outcome.closeCode = code;
      finish(false);
    });
    socket.on('open', () => {
      if (input.subscribeFirst) socket.send(JSON.stringify({ type: 'subscribe', client_id: id }));
      for (const f of input.frames) socket.send(f, { binary: typeof f !== 'string' });
      const raw = (socket as unknown as { _socket?: net.Socket })._socket;
      if (input.rawTail !== undefined && raw !== undefined) raw.write(input.rawTail);
      // The server handles frames in order: once it answers our close, it has seen them all.
      socket.close(1000);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The server under test, in its own process

export interface ServerSpec {
  kind: 'http' | 'ws';
  errorShapes: 'coded' | 'lc';
  seeds: Seed[];
  good?: Seed & { expect: RegExp };
  wsPath?: string;
}

/** The spec as servers.mjs sends it over IPC, where a RegExp would arrive as `{}`. */
interface WireSpec extends Omit<ServerSpec, 'good'> {
  good?: Seed & { expectSource: string; expectFlags: string };
}

export interface ServerProcess {
  readonly url: string;
  readonly port: number;
  readonly spec: ServerSpec;
  readonly child: ChildProcess;
  /** RSS after two forced GCs, in bytes. */
  rss(): Promise<number>;
  /** Whether the process exited on its own (a crash). */
  exited(): { code: number | null; signal: NodeJS.Signals | null } | undefined;
  stop(): Promise<void>;
}

export function startServer(name: string): Promise<ServerProcess> {
  const child = fork(path.join(import.meta.dirname, 'servers.mjs'), [name], {
    execArgv: ['--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  child.on('exit', (code, signal) => {
    exit = { code, signal };
  });
  const nextMessage = <T>(key: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const onMessage = (m: Record<string, unknown>): void => {
        if (!(key in m)) return;
        child.off('message', onMessage);
        resolve(m as T);
      };
      child.on('message', onMessage);
      child.once('exit', (code) => reject(new Error(`server ${name} exited (${String(code)})`)));
    });
  return nextMessage<{ url: string; spec: WireSpec }>('ready').then(({ url, spec: wire }) => {
    const { good, ...rest } = wire;
    const spec: ServerSpec = rest;
    if (good !== undefined) {
      const { expectSource, expectFlags, ...request } = good;
      if (typeof expectSource !== 'string' || typeof expectFlags !== 'string')
        throw new Error(`server ${name}: good.expect did not arrive as source and flags`);
      spec.good = { ...request, expect: new RegExp(expectSource, expectFlags) };
    }
    return {
      url,
      port: Number(new URL(url).port),
      spec,
      child,
      rss: async () => {
        const answer = nextMessage<{ rss: number }>('rss');
        child.send('rss');
        return (await answer).rss;
      },
      exited: () => exit,
      stop: async () => {
        if (exit !== undefined) return;
        const stopped = nextMessage('stopped').catch(() => undefined);
        child.send('stop');
        await stopped;
      },
    };
  });
}

/** Sends the server's good request; returns the problem, or undefined when it succeeded. */
export async function goodRequest(server: ServerProcess): Promise<string | undefined> {
  const good = server.spec.good;
  if (good === undefined) return undefined;
  const bytes =
    good.rawBase64 !== undefined
      ? withBody(good.method, good.path, Buffer.from(good.rawBase64, 'base64'), good.contentType)
      : good.body === undefined
        ? request(good.method, good.path, ['Host: fuzz'])
        : withBody(good.method, good.path, JSON.stringify(good.body));
  const answer = await sendRaw(server.port, bytes, 10_000);
  if (answer.status === 200 && good.expect.test(dechunk(answer.headers, answer.body))) return undefined;
  return `good request answered ${answer.status}${answer.hung ? ' (hung)' : ''}, expected 200 matching ${String(good.expect)}: ${answer.body.slice(0, 200)}`;
}

/** A well-behaved WebSocket client: subscribes and must get its echo. */
export function goodWsClient(url: string, id: string, timeoutMs = 10_000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    const timer = setTimeout(() => {
      socket.terminate();
      resolve('no subscribe echo in time');
    }, timeoutMs);
    socket.on('error', (err) => {
      clearTimeout(timer);
      resolve(`good client failed: ${err.message}`);
    });
    socket.on('open', () => socket.send(JSON.stringify({ type: 'subscribe', client_id: id })));
    socket.on('message', (data: Buffer) => {
      const frame = JSON.parse(data.toString('utf8')) as { type?: string; client_id?: string };
      if (frame.type === 'subscribe' && frame.client_id === id) {
        clearTimeout(timer);
        socket.close(1000);
        resolve(undefined);
      }
    });
  });
}
