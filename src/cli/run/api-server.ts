/**
 * The run's own server (loopback by default): `GET /api/status` (the snapshot `sedna status`
 * prints), `GET /api/events` (server-sent events: the snapshot again after each change),
 * `GET /api/logs/{pod}` (a worker's last lines) and, with `--ui`, the status page at `/`.
 * Built by the SDK's one server factory, so `/metrics` is there when metrics are on.
 */
import { SednaError } from '../../common/errors.js';
import { createServer, type SednaServer } from '../../service/server/base.js';
import type { LocalRun } from './control-plane.js';
import type { StatusStore } from './status.js';
import { STATUS_PAGE } from './ui-page.js';

export interface ApiServerOptions {
  readonly host: string;
  readonly port: number;
  /** Serve the status page at `/`. */
  readonly page: boolean;
  readonly metrics?: boolean;
}

export async function startApiServer(
  store: StatusStore,
  run: LocalRun,
  options: ApiServerOptions,
): Promise<SednaServer> {
  const server = await createServer({
    name: 'sedna-run',
    host: options.host,
    port: options.port,
    requestTimeoutMs: 0, // the event stream stays open
    closeGraceMs: 1_000,
    ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
  });
  const { app } = server;
  app.get('/api/status', () => store.snapshot());
  app.get<{ Params: { pod: string }; Querystring: { lines?: string } }>('/api/logs/:pod', (request, reply) => {
    const lines = Math.min(2000, Math.max(1, Number(request.query.lines ?? '200') || 200));
    const logs = run.logsOf(request.params.pod, lines);
    if (logs === undefined)
      throw new SednaError('SEDNA_ERR_NOT_FOUND', `no worker pod ${request.params.pod} in this run`);
    return reply.send(logs);
  });
  app.get('/api/events', (request, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    const send = (): void => {
      res.write(`event: snapshot\ndata: ${JSON.stringify(store.snapshot())}\n\n`);
    };
    send();
    store.on('change', send);
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    keepAlive.unref();
    request.raw.once('close', () => {
      clearInterval(keepAlive);
      store.off('change', send);
    });
  });
  if (options.page)
    app.get('/', (_request, reply) =>
      reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(STATUS_PAGE),
    );
  try {
    await server.listen();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE')
      throw new SednaError(
        'SEDNA_ERR_PORT_IN_USE',
        `the status server cannot listen on ${options.host}:${options.port}: the port is taken; choose another with --ui-port`,
        { cause: err, details: { port: options.port } },
      );
    throw err;
  }
  return server;
}
