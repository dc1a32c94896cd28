/**
 * The lifelong-learning knowledge base server (Sedna's `KBServer`, spec §6.5), on the one server
 * factory. Sedna's routes and JSON answers under `/knowledgebase`:
 *
 *   POST /knowledgebase/file/upload      multipart `file`  → "/file/download?files=<name>&name=<name>"
 *   GET  /knowledgebase/file/download?files=<name>&name=<download name>  → the file
 *   POST /knowledgebase/update           multipart `task` (the index) → "/file/download?files=index.pkl&name=index.pkl"
 *   POST /knowledgebase/update/status    {"tasks": "a,b", "status": 0|1} → the same string
 *   POST /knowledgebase/query            → {"tasks": [groups...]}
 *
 * Safe by design where Sedna's was not: uploads stream to a temp file and are renamed into place
 * (a failed or oversized upload leaves the old file), file names are plain base names (no path,
 * NUL, leading dot, or the KB's own files), downloads never leave the KB folder, a missing file is
 * 404 (Sedna answered 200 with the server path), the index is JSON with typed records or, from a
 * Python worker, a pickle read by the restricted reader (anything but Sedna's classes and plain
 * data is refused, nothing is executed). `update/status` commits and rewrites the index by the
 * documented intent (dropped groups are marked, never replaced by the first group), and `query`
 * answers. The tables and the index file change together (one SQLite transaction around the
 * rename). Differences are listed in docs/interop.md.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import multipart from '@fastify/multipart';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SednaConfig } from '../../common/config.js';
import { SednaError, invalidConfig, isSednaError, messageOf } from '../../common/errors.js';
import { serviceTokenOption } from '../../common/shared-token.js';
import {
  KB_INDEX_NAME,
  indexFormatOf,
  parseKBIndex,
  pythonGroupLists,
  readPythonIndex,
  serializeKBIndex,
  kbIndexError,
  SEDNA_PICKLE_CLASSES,
  type KBIndex,
  type PyGroupView,
} from '../../datasources/kb-index.js';
import { Semaphore } from '../../datasources/limit.js';
import { readAll, removeQuietly, tempSibling, writeStreamAtomic } from '../../datasources/local-fs.js';
import { writePickle } from '../../datasources/pickle-writer.js';
import { PyDict, PyObject } from '../../datasources/pickle-values.js';
import { readPickle } from '../../datasources/pickle-reader.js';
import { createServer, type SednaServer, type TlsOptions } from './base.js';
import { KBDatabase, sqlitePathOf, type GroupSummary } from './kb-database.js';

export interface KBServerOptions {
  /** The folder that holds uploaded files and the index (KnowledgeBasePath). Created when missing. */
  readonly dir: string;
  /** KB_URL: the SQLite database (default `sqlite:///lifelong_kb.sqlite3`, relative to the working directory). */
  readonly dbUrl?: string;
  readonly host?: string;
  /** Default 9020 (Sedna's KB Service port); 0 picks a free one. */
  readonly port?: number;
  /** Largest uploaded file (default 1 GiB). */
  readonly maxUploadBytes?: number;
  /** Largest index (default 64 MiB). */
  readonly maxIndexBytes?: number;
  /** Deadline of one request (default 10 minutes: model uploads are large). */
  readonly requestTimeoutMs?: number;
  /** How long a client may take to send its request headers (default 30 s). */
  readonly headersTimeoutMs?: number;
  /** Connections open at once (default 1024). */
  readonly maxConnections?: number;
  /** How long `close()` waits for requests in flight (default 10 s). */
  readonly closeGraceMs?: number;
  readonly tls?: TlsOptions;
  /** Shared token every request but the health check must carry (`Authorization: Bearer`); default none. */
  readonly token?: string;
}

export const DEFAULT_KB_PORT = 9020;
const MIB = 1024 * 1024;
/** Where the KB keeps the index as it was uploaded (the published one is derived from it). */
const STATE_DIR = '.kb';
const UPLOADED_INDEX = 'index.uploaded';

/** Sedna's answer string for a stored file (names URL-encoded; Sedna's plain names read the same). */
export function downloadPath(name: string): string {
  const q = encodeURIComponent(name);
  return `/file/download?files=${q}&name=${q}`;
}

export function kbFileNameError(name: unknown, problem: string): SednaError {
  return new SednaError(
    'SEDNA_ERR_KB_FILE_NAME',
    `knowledge base file name ${JSON.stringify(name)} is refused: ${problem}`,
    { details: { name, problem } },
  );
}

/**
 * Checks a client-supplied file name: a plain base name, nothing the KB keeps for itself. Returns
 * it unchanged (names are never rewritten, so a client finds its file under the name it sent).
 */
export function checkFileName(name: unknown, reserved: ReadonlySet<string>): string {
  if (typeof name !== 'string' || name === '') throw kbFileNameError(name, 'it is empty');
  if (Buffer.byteLength(name) > 255) throw kbFileNameError(name, 'it is longer than 255 bytes');
  // eslint-disable-next-line no-control-regex -- control characters are what we refuse
  if (/[\u0000-\u001f\u007f]/.test(name)) throw kbFileNameError(name, 'it contains a NUL or control character');
  if (name.includes('/') || name.includes('\\')) throw kbFileNameError(name, 'it contains a path separator');
  if (name === '.' || name === '..' || name.startsWith('.')) throw kbFileNameError(name, 'it starts with a dot');
  if (reserved.has(name)) throw kbFileNameError(name, 'the knowledge base keeps a file of that name for itself');
  return name;
}

/** KnowledgeBaseServer → host and port, as run_kb.py reads it (`http(s)://<ipv4>:<port>`, else 0.0.0.0:9020). */
export function kbBindAddress(value: string | undefined): { host: string; port: number; tls: boolean } {
  const match = value === undefined ? null : /^(https?):\/\/(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})\/?$/.exec(value.trim());
  if (match === null) return { host: '0.0.0.0', port: DEFAULT_KB_PORT, tls: false };
  const port = Number(match[3]);
  if (port < 1 || port > 65535) throw invalidConfig('KnowledgeBaseServer', value, 'http(s)://<ipv4>:<port 1-65535>');
  return { host: match[2] as string, port, tls: match[1] === 'https' };
}

/** The server options Sedna's KB deployment gives (`run_kb`): KnowledgeBaseServer, KnowledgeBasePath, KB_URL. */
export function kbServerOptionsFromConfig(
  config: Pick<SednaConfig, 'knowledgeBaseServer' | 'knowledgeBasePath' | 'kbUrl'> &
    Partial<Pick<SednaConfig, 'serviceToken' | 'serviceTokenFile'>>,
): KBServerOptions {
  const bind = kbBindAddress(config.knowledgeBaseServer);
  return {
    dir: config.knowledgeBasePath === '' ? process.cwd() : config.knowledgeBasePath,
    dbUrl: config.kbUrl,
    host: bind.host,
    port: bind.port,
    ...serviceTokenOption({ serviceToken: config.serviceToken, serviceTokenFile: config.serviceTokenFile }),
  };
}

function multipartError(err: unknown, limit: number): SednaError {
  if (isSednaError(err)) return err;
  const code = (err as { code?: unknown }).code;
  if (
    code === 'FST_REQ_FILE_TOO_LARGE' ||
    code === 'FST_FILES_LIMIT' ||
    code === 'FST_PARTS_LIMIT' ||
    code === 'FST_FIELDS_LIMIT'
  ) {
    return new SednaError('SEDNA_ERR_PAYLOAD_TOO_LARGE', `the upload is over the limit (${limit} bytes, one file)`, {
      cause: err,
      details: { limit },
    });
  }
  if (code === 'FST_INVALID_MULTIPART_CONTENT_TYPE') {
    return new SednaError('SEDNA_ERR_UNSUPPORTED_MEDIA_TYPE', 'send the file as multipart/form-data', { cause: err });
  }
  return new SednaError('SEDNA_ERR_BAD_REQUEST', `the multipart body cannot be read: ${messageOf(err)}`, {
    cause: err,
  });
}

/** The stored index as the KB serves it: its bytes and whether they are JSON or a Python pickle. */
export interface StoredIndex {
  readonly format: 'json' | 'pickle';
  readonly bytes: Uint8Array;
}

export class KBServer {
  private readonly writes = new Semaphore(1);
  private readonly reserved: ReadonlySet<string>;
  private closed = false;

  private constructor(
    private readonly server: SednaServer,
    readonly db: KBDatabase,
    readonly dir: string,
    private readonly limits: { upload: number; index: number },
  ) {
    // The index is written by `update` only; the database (when it sits in the folder) never leaves.
    const dbName = path.dirname(db.file) === dir ? path.basename(db.file) : undefined;
    this.reserved = new Set([
      KB_INDEX_NAME,
      ...(dbName === undefined ? [] : [dbName, `${dbName}-wal`, `${dbName}-shm`, `${dbName}-journal`]),
    ]);
  }

  /** Opens the folder and the database (a corrupt database fails here, untouched) and builds the routes. */
  static async create(options: KBServerOptions): Promise<KBServer> {
    const dir = path.resolve(options.dir);
    await fsp.mkdir(path.join(dir, STATE_DIR), { recursive: true });
    const db = await KBDatabase.open(sqlitePathOf(options.dbUrl ?? 'sqlite:///lifelong_kb.sqlite3'));
    try {
      const server = await createServer({
        name: 'knowledgebase',
        host: options.host,
        port: options.port ?? DEFAULT_KB_PORT,
        bodyLimitBytes: MIB,
        requestTimeoutMs: options.requestTimeoutMs ?? 600_000,
        ...(options.headersTimeoutMs === undefined ? {} : { headersTimeoutMs: options.headersTimeoutMs }),
        ...(options.maxConnections === undefined ? {} : { maxConnections: options.maxConnections }),
        ...(options.closeGraceMs === undefined ? {} : { closeGraceMs: options.closeGraceMs }),
        ...(options.tls === undefined ? {} : { tls: options.tls }),
        ...(options.token === undefined ? {} : { token: options.token }),
      });
      const kb = new KBServer(server, db, dir, {
        upload: options.maxUploadBytes ?? 1024 * MIB,
        index: options.maxIndexBytes ?? 64 * MIB,
      });
      await kb.routes();
      return kb;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  get url(): string {
    return this.server.url;
  }

  /** The app, for `inject()` in tests. */
  get app(): SednaServer['app'] {
    return this.server.app;
  }

  listen(): Promise<string> {
    return this.server.listen();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.server.close();
    await this.writes.run(() => Promise.resolve());
    this.db.close();
  }

  /** The published index as stored (undefined before the first update). */
  async readIndex(): Promise<StoredIndex | undefined> {
    const bytes = await fsp.readFile(path.join(this.dir, KB_INDEX_NAME)).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    });
    if (bytes === undefined) return undefined;
    return { format: indexFormatOf(bytes) === 'pickle' ? 'pickle' : 'json', bytes };
  }

  private async routes(): Promise<void> {
    const app = this.server.app;
    await app.register(multipart, {
      // preservePath: the name as the client sent it, so a path in it is refused, not quietly cut.
      preservePath: true,
      limits: {
        fileSize: this.limits.upload + 1,
        files: 1,
        fields: 8,
        parts: 16,
        fieldSize: 64 * 1024,
        headerPairs: 64,
      },
      throwFileSizeLimit: true,
    });
    app.post('/knowledgebase/file/upload', (request, reply) => this.upload(request, reply));
    app.get('/knowledgebase/file/download', (request, reply) => this.download(request, reply));
    app.post('/knowledgebase/update', (request, reply) => this.update(request, reply));
    app.post(
      '/knowledgebase/update/status',
      {
        schema: {
          body: {
            type: 'object',
            required: ['status'],
            properties: { tasks: { type: ['string', 'null'], maxLength: 1_000_000 }, status: { type: 'integer' } },
          },
        },
      },
      (request, reply) => this.updateStatus(request, reply),
    );
    app.post('/knowledgebase/query', (_request, reply) =>
      reply.send({ tasks: this.db.groups() satisfies GroupSummary[] }),
    );
  }

  /** The one file part of a multipart request, checked to carry the expected field. */
  private async filePart(
    request: FastifyRequest,
    field: string,
    limit: number,
  ): Promise<{ filename: string; file: Readable }> {
    let part;
    try {
      // One byte over the limit reaches our writer, which refuses it before anything is renamed
      // into place (busboy itself would only cut the file short).
      part = await request.file({ limits: { fileSize: limit + 1 } });
    } catch (err) {
      throw multipartError(err, limit);
    }
    if (part === undefined)
      throw new SednaError(
        'SEDNA_ERR_BAD_REQUEST',
        `the request has no file part; send the file as multipart field "${field}"`,
      );
    if (part.fieldname !== field) {
      part.file.resume();
      throw new SednaError(
        'SEDNA_ERR_BAD_REQUEST',
        `the file must be sent as multipart field "${field}", not "${part.fieldname}"`,
      );
    }
    return { filename: part.filename, file: part.file };
  }

  private async upload(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const { filename, file } = await this.filePart(request, 'file', this.limits.upload);
    let name: string;
    try {
      name = checkFileName(filename, this.reserved);
    } catch (err) {
      file.resume();
      throw err;
    }
    const target = path.join(this.dir, name);
    try {
      await writeStreamAtomic(target, file, { maxBytes: this.limits.upload, source: `upload ${name}` });
    } catch (err) {
      if (isSednaError(err, 'SEDNA_ERR_STORAGE') && err.details.maxBytes !== undefined)
        throw multipartError({ code: 'FST_REQ_FILE_TOO_LARGE' }, this.limits.upload);
      throw multipartError(err, this.limits.upload);
    }
    reply.type('application/json').send(JSON.stringify(downloadPath(name)));
  }

  private async download(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const query = request.query as { files?: unknown; name?: unknown };
    const files: unknown = Array.isArray(query.files) ? (query.files as unknown[])[0] : query.files;
    // The published index is served too (it is reserved for uploads only).
    const reserved = new Set([...this.reserved].filter((n) => n !== KB_INDEX_NAME));
    const name = checkFileName(files, reserved);
    const shown = typeof query.name === 'string' && query.name !== '' ? query.name : name;
    const file = path.join(this.dir, name);
    let handle: fsp.FileHandle;
    try {
      handle = await fsp.open(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ELOOP') {
        throw new SednaError('SEDNA_ERR_FILE_NOT_FOUND', `the knowledge base has no file "${name}"`, {
          details: { name },
        });
      }
      throw err;
    }
    const stat = await handle.stat();
    if (!stat.isFile()) {
      await handle.close();
      throw new SednaError('SEDNA_ERR_FILE_NOT_FOUND', `the knowledge base has no file "${name}"`, {
        details: { name },
      });
    }
    reply
      .header('content-type', 'application/octet-stream')
      .header('content-length', stat.size)
      .header('content-disposition', `attachment; filename="${shown.replace(/[^\x20-\x7e]|["\\]/g, '_')}"`);
    return reply.send(handle.createReadStream());
  }

  private async update(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const { file } = await this.filePart(request, 'task', this.limits.index);
    let bytes: Buffer;
    try {
      bytes = await readAll(file, 'the index', this.limits.index);
    } catch (err) {
      if (isSednaError(err, 'SEDNA_ERR_STORAGE'))
        throw multipartError({ code: 'FST_REQ_FILE_TOO_LARGE' }, this.limits.index);
      throw multipartError(err, this.limits.index);
    }
    // Everything is checked before anything is written.
    const parsed = this.parseIndex(bytes);
    await this.checkModels(parsed.groups);
    await this.writes.run(async () => {
      const uploaded = path.join(this.dir, STATE_DIR, UPLOADED_INDEX);
      await fsp.writeFile(`${uploaded}.tmp`, bytes);
      const published = this.publishable(
        parsed.format,
        parsed.index ?? bytes,
        new Map(parsed.groups.map((g) => [g.entry, true])),
      );
      const tmp = tempSibling(path.join(this.dir, KB_INDEX_NAME));
      await fsp.writeFile(tmp, published);
      try {
        this.db.applyIndex(parsed.groups, () => {
          fs.renameSync(`${uploaded}.tmp`, uploaded);
          fs.renameSync(tmp, path.join(this.dir, KB_INDEX_NAME));
        });
      } finally {
        await removeQuietly(tmp);
        await removeQuietly(`${uploaded}.tmp`);
      }
    });
    reply.type('application/json').send(JSON.stringify(downloadPath(KB_INDEX_NAME)));
  }

  private async updateStatus(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const body = request.body as { tasks?: string | null; status: number };
    const names = (body.tasks ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    const deploy = body.status !== 0;
    await this.writes.run(async () => {
      const uploaded = await fsp.readFile(path.join(this.dir, STATE_DIR, UPLOADED_INDEX)).catch(() => undefined);
      if (uploaded === undefined) {
        throw new SednaError(
          'SEDNA_ERR_KB_NO_INDEX',
          'the knowledge base has no index yet; POST /knowledgebase/update first',
        );
      }
      const known = this.db.knownGroups(names);
      const unknown = names.filter((n) => !known.has(n));
      if (unknown.length > 0) {
        throw new SednaError(
          'SEDNA_ERR_KB_UNKNOWN_TASK',
          `the knowledge base has no task group ${unknown.map((u) => `"${u}"`).join(', ')}`,
          {
            details: { unknown },
          },
        );
      }
      const flags = this.db.deployed();
      for (const n of names) flags.set(n, deploy);
      const format = indexFormatOf(uploaded) === 'pickle' ? 'pickle' : 'json';
      const published = this.publishable(format, uploaded, flags);
      const tmp = tempSibling(path.join(this.dir, KB_INDEX_NAME));
      await fsp.writeFile(tmp, published);
      try {
        this.db.setDeploy(names, deploy, () => {
          fs.renameSync(tmp, path.join(this.dir, KB_INDEX_NAME));
        });
      } finally {
        await removeQuietly(tmp);
      }
    });
    reply.type('application/json').send(JSON.stringify(downloadPath(KB_INDEX_NAME)));
  }

  private parseIndex(bytes: Uint8Array): { format: 'json' | 'pickle'; groups: PyGroupView[]; index?: KBIndex } {
    const format = indexFormatOf(bytes);
    if (format === 'pickle')
      return { format, groups: readPythonIndex(bytes, 'the uploaded index').groups.map((g) => ({ ...g })) };
    if (format === 'json') {
      const index = parseKBIndex(bytes, 'the uploaded index');
      return { format, groups: jsonGroups(index), index };
    }
    throw kbIndexError('the uploaded index is neither JSON nor a pickle');
  }

  /** Models the index says live in this KB must be here (upload them first). */
  private async checkModels(groups: readonly PyGroupView[]): Promise<void> {
    const named = groups.flatMap((group) => {
      const name = kbFileOf(group.modelUrl);
      return name === undefined ? [] : [{ group, name }];
    });
    if (named.length === 0) return;
    // One listing of the folder, not a stat per group (an index may name thousands of models).
    const files = new Set(
      (await fsp.readdir(this.dir, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name),
    );
    for (const { group, name } of named) {
      if (!files.has(name)) {
        throw kbIndexError(
          `task group "${group.entry}" references the model "${name}", which the knowledge base does not hold`,
          {
            group: group.entry,
            model: group.modelUrl,
          },
        );
      }
    }
  }

  /**
   * The index as published: a JSON index with each group's `deploy` flag set from the database; a
   * Python index with only its deployed groups (what a Python worker can use: it has no flag).
   */
  private publishable(
    format: 'json' | 'pickle',
    uploaded: Uint8Array | KBIndex,
    deployed: ReadonlyMap<string, boolean>,
  ): Uint8Array {
    if (format === 'json') {
      // A freshly parsed index is ours to change; stored bytes are parsed here.
      const index = uploaded instanceof Uint8Array ? parseKBIndex(uploaded) : uploaded;
      for (const part of [index.seen_task, index.unseen_task]) {
        for (const group of part.task_groups) group.deploy = deployed.get(group.entry) ?? group.deploy;
      }
      return serializeKBIndex(index);
    }
    if (!(uploaded instanceof Uint8Array)) throw kbIndexError('a Python index is kept as its bytes');
    const root = readPickle(uploaded, { allowedClasses: SEDNA_PICKLE_CLASSES });
    if (!(root instanceof PyDict)) throw kbIndexError('a Python index must be a dict');
    for (const list of pythonGroupLists(root)) {
      const keep = list.filter((g) => {
        const entry = g instanceof PyObject ? g.attr('entry') : undefined;
        return typeof entry !== 'string' || deployed.get(entry) !== false;
      });
      list.splice(0, list.length, ...keep);
    }
    return writePickle(root);
  }
}

function jsonGroups(index: KBIndex): PyGroupView[] {
  return [...index.seen_task.task_groups, ...index.unseen_task.task_groups].map((g) => ({
    entry: g.entry,
    sampleNum: g.sample_num,
    modelUrl: g.model.model,
    tasks: g.tasks.map((t) => ({
      entry: t.entry,
      metaAttr: t.meta_attr,
      dataType: t.samples.data_type,
      dataUrl: t.samples.data_url,
      sampleNum: t.samples.sample_num,
    })),
  }));
}

/** The file name of a URL that points into a knowledge base (`.../knowledgebase/file/download?files=X`). */
export function kbFileOf(url: string): string | undefined {
  const at = url.indexOf('/knowledgebase/file/download?');
  if (at < 0 && !url.startsWith('/file/download?')) return undefined;
  const query = url.slice(url.indexOf('?') + 1);
  const files = new URLSearchParams(query).get('files');
  return files === null || files === '' ? undefined : files;
}
