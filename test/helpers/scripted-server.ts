/**
 * A real HTTP server on 127.0.0.1 whose answers a test scripts: for clients' timeouts, retries,
 * bad answers and dead peers. Counts requests and records their bodies.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export type ScriptedHandler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

export interface ScriptedServer {
  readonly url: string;
  readonly port: number;
  /** Requests received so far. */
  hits(): number;
  /** Request bodies, in arrival order. */
  readonly bodies: string[];
  /** Stops the server, cutting open connections (a handler may never answer). */
  close(): Promise<void>;
}

export async function scriptedServer(handler: ScriptedHandler): Promise<ScriptedServer> {
  const bodies: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      bodies.push(body);
      handler(req, res, body);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    hits: () => bodies.length,
    bodies,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A port nothing listens on (it was free a moment ago). */
export async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}
