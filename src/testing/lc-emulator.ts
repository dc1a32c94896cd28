/**
 * An emulator of Sedna's LocalController worker endpoint, for tests of workers (ours and users').
 * It is a real HTTP server that answers exactly as the real LC (v0.6.0) was observed to answer,
 * bytes included, and records every report plus what the LC would forward to the GlobalManager:
 *
 * - `POST /sedna/workers/{name}/info` needs `content-type: application/json`, else 415 (plain text);
 * - the body is decoded like Go's encoding/json into the LC's `MessageContent` (keys match case-
 *   insensitively, a wrongly typed field is skipped and reported after the name check);
 * - a body whose `name` differs from the path (or is missing, or the body is not JSON) → 400
 *   `{"Status":400,"Message":"worker name(name=…) in the api is different from that(name=…) in the message body"}`;
 * - otherwise 200 `{"Status":200,"Message":"OK"}` (pretty-printed with one space, as Go writes it);
 * - routing by `ownerKind`: joint-inference and federated-learning reports are forwarded at once,
 *   incremental/lifelong-learning ones only for jobs the GM inserted (`insertJob`), others dropped;
 * - other methods on the route → 405, other paths → 404, both plain text (go-restful's text under
 *   /sedna, Go's ServeMux text elsewhere).
 *
 * test/conformance checks these answers against the real LocalController.
 */
import { EventEmitter } from 'node:events';
import type { FastifyReply } from 'fastify';
import { createServer, type SednaServer } from '../service/server/base.js';
import { SednaError, invalidArgument } from '../common/errors.js';

/** One request to the worker route, as received. */
export interface RecordedReport {
  readonly receivedAt: Date;
  readonly path: string;
  /** The worker name in the path. */
  readonly worker: string;
  /** The HTTP status the emulator answered. */
  readonly status: number;
  readonly contentType: string;
  /** The decoded body (undefined when it was not JSON). */
  readonly body: unknown;
  /** The exact request body text. */
  readonly raw: string;
}

/** What the LC sends upstream to the GlobalManager for an accepted report (its gm.jsonl line, minus `t`). */
export interface ForwardedMessage {
  readonly header: { namespace: string; resourceKind: string; resourceName: string; operation: 'status' };
  readonly content: {
    phase: string;
    status: string;
    output: { models: unknown[] | null; ownerInfo: Record<string, unknown> | null };
  };
}

export interface LCEmulatorOptions {
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Jobs the GM "inserted", so their IL/LL reports are forwarded. */
  knownJobs?: readonly { kind: 'incrementallearningjob' | 'lifelonglearningjob'; namespace: string; name: string }[];
  /**
   * How many reports (and forwarded messages) are kept, the oldest dropped first (default 1,000):
   * a long local run, or a client gone wrong, must not grow memory without end.
   */
  maxRecorded?: number;
}

interface LCEmulatorEvents {
  report: [report: RecordedReport];
  /** A report the LC forwards to the GM, with the report it came from. */
  forward: [message: ForwardedMessage, report: RecordedReport];
}

/** The LC's Go struct `MessageContent`: JSON key → expected JSON type and Go type name. */
const MESSAGE_FIELDS = {
  name: 'string',
  namespace: 'string',
  ownerName: 'string',
  ownerKind: 'string',
  ownerInfo: 'object',
  kind: 'string',
  status: 'string',
  results: 'array',
} as const;
type FieldName = keyof typeof MESSAGE_FIELDS;
const GO_TYPES: Readonly<Record<FieldName, string>> = {
  name: 'string',
  namespace: 'string',
  ownerName: 'string',
  ownerKind: 'string',
  ownerInfo: 'map[string]interface {}',
  kind: 'string',
  status: 'string',
  results: '[]map[string]interface {}',
};

interface Decoded {
  fields: Partial<Record<FieldName, unknown>>;
  error: string | undefined;
}

function jsonType(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  if (typeof value === 'boolean') return 'bool';
  return typeof value; // string, number, object
}

/** Decodes like Go's json.Unmarshal into MessageContent: lenient per field, first type error kept. */
export function decodeMessageContent(raw: string): Decoded {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    return { fields: {}, error: raw.trim() === '' ? 'EOF' : `invalid JSON (${(err as Error).message})` };
  }
  if (parsed === null) return { fields: {}, error: undefined }; // null into a struct is a no-op in Go
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    return {
      fields: {},
      error: `json: cannot unmarshal ${jsonType(parsed)} into Go value of type server.MessageContent`,
    };
  }
  const fields: Partial<Record<FieldName, unknown>> = {};
  let error: string | undefined;
  const keys = Object.keys(MESSAGE_FIELDS) as FieldName[];
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    // Go matches keys to fields case-insensitively.
    const field = keys.find((k) => k === key) ?? keys.find((k) => k.toLowerCase() === key.toLowerCase());
    if (field === undefined || value === null) continue;
    const want = MESSAGE_FIELDS[field];
    const got = jsonType(value);
    const elementsOk =
      field !== 'results' ||
      got !== 'array' ||
      (value as unknown[]).every((e) => e === null || jsonType(e) === 'object');
    if (got === want && elementsOk) {
      fields[field] = value;
    } else {
      const shown =
        got === want ? jsonType((value as unknown[]).find((e) => e !== null && jsonType(e) !== 'object')) : got;
      const goType = got === want ? 'map[string]interface {}' : GO_TYPES[field];
      error ??= `json: cannot unmarshal ${shown} into Go struct field MessageContent.${field} of type ${goType}`;
    }
  }
  return { fields, error };
}

/** How the real LC routes an accepted report (undefined = dropped). */
export function forwardOf(
  fields: Partial<Record<FieldName, unknown>>,
  knownJobs: ReadonlySet<string>,
): ForwardedMessage | undefined {
  const str = (v: unknown): string => (typeof v === 'string' ? v : '');
  const ownerKind = str(fields.ownerKind);
  const namespace = str(fields.namespace);
  const ownerName = str(fields.ownerName);
  const results = (fields.results as unknown[] | undefined) ?? null;
  const ownerInfo = (fields.ownerInfo as Record<string, unknown> | undefined) ?? null;
  let resourceKind: string;
  let models: unknown[] | null = results;
  switch (ownerKind) {
    case 'jointinferenceservice':
      resourceKind = ownerKind;
      models = null; // the joint-inference manager forwards only ownerInfo
      break;
    case 'federatedlearningjob':
      resourceKind = ownerKind;
      break;
    case 'incrementallearningjob':
    case 'lifelonglearningjob':
      if (!knownJobs.has(`${ownerKind}/${namespace}/${ownerName}`)) return undefined;
      resourceKind = ownerKind === 'incrementallearningjob' ? 'IncrementalLearningJob' : 'LifelongLearningJob';
      break;
    default:
      return undefined;
  }
  return {
    header: { namespace, resourceKind, resourceName: ownerName, operation: 'status' },
    content: { phase: str(fields.kind), status: str(fields.status), output: { models, ownerInfo } },
  };
}

/** Go's json.MarshalIndent(v, "", " ") of the LC's response struct. */
function lcAnswer(status: number, message: string): string {
  return JSON.stringify({ Status: status, Message: message }, null, 1);
}

function plain(reply: FastifyReply, status: number, text: string): FastifyReply {
  return reply.code(status).type('text/plain; charset=utf-8').send(text);
}

export class LCEmulator extends EventEmitter<LCEmulatorEvents> {
  /** Every request to the worker route, in arrival order. */
  readonly reports: RecordedReport[] = [];
  /** What the LC would have forwarded to the GM, in order. */
  readonly forwarded: ForwardedMessage[] = [];
  private readonly knownJobs = new Set<string>();
  private readonly server: SednaServer;
  private readonly maxRecorded: number;

  private constructor(server: SednaServer, options: LCEmulatorOptions) {
    super();
    this.server = server;
    this.maxRecorded = options.maxRecorded ?? 1_000;
    if (!Number.isInteger(this.maxRecorded) || this.maxRecorded < 1) {
      throw invalidArgument('maxRecorded', options.maxRecorded, 'an integer >= 1');
    }
    for (const job of options.knownJobs ?? []) this.insertJob(job.kind, job.namespace, job.name);
  }

  /** Starts an emulator on 127.0.0.1 (a free port unless given). */
  static async start(options: LCEmulatorOptions = {}): Promise<LCEmulator> {
    const server = await createServer({
      name: 'lc-emulator',
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 0,
      healthPath: false,
      requestTimeoutMs: 0,
      // go-restful answers for paths under its web service root (/sedna), Go's ServeMux for the rest.
      notFound: (req, res) => {
        const urlPath = (req.url ?? '').split('?')[0] ?? '';
        const underSedna = urlPath === '/sedna' || urlPath.startsWith('/sedna/');
        const text = underSedna ? '404: Page Not Found' : '404 page not found\n';
        res
          .writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) })
          .end(text);
      },
    });
    const emulator = new LCEmulator(server, options);
    emulator.routes();
    await server.listen();
    return emulator;
  }

  /** The `LC_SERVER` value for workers. */
  get url(): string {
    return this.server.url;
  }

  get port(): number {
    return this.server.port;
  }

  /** Reports the LC accepted (HTTP 200), decoded. */
  accepted(): Record<string, unknown>[] {
    return this.reports.filter((r) => r.status === 200).map((r) => r.body as Record<string, unknown>);
  }

  /** Makes the emulator forward IL/LL reports of this job, as after a GM insert. */
  insertJob(kind: 'incrementallearningjob' | 'lifelonglearningjob', namespace: string, name: string): void {
    this.knownJobs.add(`${kind}/${namespace}/${name}`);
  }

  /**
   * Resolves once `predicate` holds for the recorded reports (checked now and after each new one);
   * rejects with SEDNA_ERR_TIMEOUT after `timeoutMs`.
   */
  waitFor(predicate: (reports: readonly RecordedReport[]) => boolean, timeoutMs = 10_000): Promise<void> {
    if (predicate(this.reports)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onReport = (): void => {
        if (predicate(this.reports)) {
          clearTimeout(timer);
          this.off('report', onReport);
          resolve();
        }
      };
      const timer = setTimeout(() => {
        this.off('report', onReport);
        reject(
          new SednaError(
            'SEDNA_ERR_TIMEOUT',
            `LC emulator: condition not met within ${timeoutMs} ms (${this.reports.length} reports)`,
          ),
        );
      }, timeoutMs);
      this.on('report', onReport);
    });
  }

  /** Forgets everything recorded so far. */
  clear(): void {
    this.reports.length = 0;
    this.forwarded.length = 0;
  }

  close(): Promise<void> {
    return this.server.close();
  }

  private routes(): void {
    const { app } = this.server;
    const paths = ['/sedna/workers/:name/info', '/sedna/workers/:name/info/'];
    void app.register((scope, _opts, done) => {
      // Take every body as text: the LC's own decoding rules decide what is acceptable.
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, next) => {
        next(null, body);
      });
      for (const url of paths) {
        scope.post<{ Params: { name: string }; Body: string | undefined }>(url, (request, reply) => {
          const contentType = request.headers['content-type'] ?? '';
          const raw = typeof request.body === 'string' ? request.body : '';
          const { forwarded, ...answer } = this.handle(request.params.name, contentType, raw);
          const recorded = this.record({ path: request.url, worker: request.params.name, contentType, raw, ...answer });
          if (forwarded !== undefined) this.emit('forward', forwarded, recorded);
          if (answer.status === 415) return plain(reply, 415, '415: Unsupported Media Type');
          // A Buffer keeps fastify from appending "; charset=utf-8": the LC sends the bare type.
          return reply
            .code(answer.status)
            .header('content-type', 'application/json')
            .send(Buffer.from(lcAnswer(answer.status, answer.message)));
        });
        scope.route({
          method: ['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'],
          url,
          handler: (_request, reply) => plain(reply.header('allow', 'POST'), 405, '405: Method Not Allowed'),
        });
      }
      done();
    });
  }

  private handle(
    worker: string,
    contentType: string,
    raw: string,
  ): { status: number; message: string; body: unknown; forwarded?: ForwardedMessage } {
    const mediaType = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
    let body: unknown;
    try {
      body = JSON.parse(raw) as unknown;
    } catch {
      body = undefined;
    }
    if (mediaType !== 'application/json') return { status: 415, message: 'Unsupported Media Type', body };
    const { fields, error } = decodeMessageContent(raw);
    const bodyName = typeof fields.name === 'string' ? fields.name : '';
    if (bodyName !== worker) {
      return {
        status: 400,
        message: `worker name(name=${worker}) in the api is different from that(name=${bodyName}) in the message body`,
        body,
      };
    }
    if (error !== undefined)
      return { status: 400, message: `read worker(name=${worker}) message body failed, error: ${error}`, body };
    const forwarded = forwardOf(fields, this.knownJobs);
    if (forwarded === undefined) return { status: 200, message: 'OK', body };
    this.forwarded.push(forwarded);
    if (this.forwarded.length > this.maxRecorded) this.forwarded.shift();
    return { status: 200, message: 'OK', body, forwarded };
  }

  private record(report: Omit<RecordedReport, 'receivedAt'> & { message?: string }): RecordedReport {
    const { message: _message, ...rest } = report;
    const recorded: RecordedReport = { receivedAt: new Date(), ...rest };
    this.reports.push(recorded);
    if (this.reports.length > this.maxRecorded) this.reports.shift();
    this.emit('report', recorded);
    return recorded;
  }
}
