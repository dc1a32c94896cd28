/**
 * The knowledge base client (Sedna's `KBClient`, spec §6.5), on the one HTTP client. Files go up
 * as streamed multipart bodies (a 200 MB model is never held in memory); answers are Sedna's JSON
 * strings, turned into absolute download URLs as Sedna's client does. Failures are coded errors
 * (Sedna returned None), and the `name` argument of `uploadFile` is sent (Sedna dropped it).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { SednaConfig } from '../../common/config.js';
import { SednaError, invalidArgument, invalidConfig, showValue } from '../../common/errors.js';
import { createHttpClient, type HttpClient } from '../../common/http-client.js';
import { clientCredentials, serviceTokenOption } from '../../common/shared-token.js';
import { serializeKBIndex, type KBIndex } from '../../datasources/kb-index.js';
import { localError } from '../../datasources/local-fs.js';

export interface KBClientOptions {
  /** KB_SERVER, e.g. `http://kb.sedna:9020`. */
  readonly kbServer: string;
  /** Deadline of a small call (default 30 s). */
  readonly timeoutMs?: number;
  /** Deadline of a file upload (default 10 minutes). */
  readonly uploadTimeoutMs?: number;
  /** Largest file sent (default 1 GiB, the KB server's default limit). */
  readonly maxUploadBytes?: number;
  /** The KB server's shared token (`Authorization: Bearer`); `fromConfig` reads SERVICE_TOKEN / SERVICE_TOKEN_FILE. */
  readonly token?: string;
  /** CA, client certificate and key for an https KB (mutual TLS). */
  readonly ca?: string | Buffer;
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
}

/** A task group as `query` lists it. */
export interface KBGroupSummary {
  readonly name: string;
  readonly deploy: boolean;
  readonly sample_num: number;
  readonly task_num: number;
  readonly model_url: string;
  readonly tasks: readonly { readonly name: string; readonly task_attr: unknown }[];
}

/** A multipart/form-data body with one file part, streamed, with its exact length. */
export function multipartFile(
  field: string,
  filename: string,
  content: { readonly size: number; readonly stream: () => Readable },
): { body: Readable; headers: Record<string, string> } {
  const boundary = `sedna-${randomBytes(12).toString('hex')}`;
  const quoted = filename.replace(/["\\\r\n]/g, '_');
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${quoted}"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n',
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  async function* parts(): AsyncGenerator<Buffer> {
    yield head;
    for await (const chunk of content.stream()) yield chunk as Buffer;
    yield tail;
  }
  return {
    body: Readable.from(parts(), { objectMode: false }),
    headers: {
      'content-type': `multipart/form-data; boundary=${boundary}`,
      'content-length': String(head.length + content.size + tail.length),
    },
  };
}

export class KBClient {
  readonly base: string;
  private readonly http: HttpClient;
  private readonly uploadTimeoutMs: number;

  constructor(options: KBClientOptions) {
    if (!/^https?:\/\/[^/]/i.test(options.kbServer))
      throw invalidArgument('kbServer', options.kbServer, 'an http(s) URL');
    this.base = `${options.kbServer.replace(/\/+$/, '')}/knowledgebase`;
    this.uploadTimeoutMs = options.uploadTimeoutMs ?? 600_000;
    const timeoutMs = options.timeoutMs ?? 30_000;
    this.http = createHttpClient({
      timeoutMs,
      totalTimeoutMs: timeoutMs,
      retry: { maxAttempts: 3 },
      // The multipart head and tail ride on top of the file.
      maxRequestBytes: (options.maxUploadBytes ?? 1024 * 1024 * 1024) + 64 * 1024,
      ...clientCredentials(options),
    });
  }

  static fromConfig(
    config: Pick<SednaConfig, 'kbServer'> & Partial<Pick<SednaConfig, 'serviceToken' | 'serviceTokenFile'>>,
    options: Omit<KBClientOptions, 'kbServer'> = {},
  ): KBClient {
    if (config.kbServer === undefined)
      throw invalidConfig('KB_SERVER', undefined, 'the knowledge base URL (http://kb.sedna:9020)');
    const token = serviceTokenOption({ serviceToken: config.serviceToken, serviceTokenFile: config.serviceTokenFile });
    return new KBClient({ ...token, ...options, kbServer: config.kbServer });
  }

  /** An answer path as an absolute URL (a remote URL stays as it is). */
  absolute(answer: string): string {
    return /^[a-z][a-z0-9+.-]*:\/\//i.test(answer) ? answer : `${this.base}/${answer.replace(/^\/+/, '')}`;
  }

  /**
   * Uploads a local file (streamed) under `name` (default: its base name); returns its download
   * URL. A remote URL (`http(s)://`, `s3://`) is returned unchanged, as Sedna does.
   */
  async uploadFile(file: string, name = path.basename(file)): Promise<string> {
    if (/^(https?|s3):\/\//i.test(file)) return file;
    const stat = await fsp.stat(file).catch((err: unknown) => {
      throw localError('upload', file, err);
    });
    if (!stat.isFile()) throw invalidArgument('file', file, 'a file (folders are uploaded file by file)');
    const { body, headers } = multipartFile('file', name, {
      size: stat.size,
      // Large reads: fewer chunks through the multipart framing and the socket.
      stream: () => fs.createReadStream(file, { highWaterMark: 1024 * 1024 }),
    });
    return this.absolute(await this.postAnswer('file/upload', body, headers, this.uploadTimeoutMs));
  }

  /** Sends an index (`update`); returns the index's download URL. */
  async updateDb(index: KBIndex | Uint8Array): Promise<string> {
    const bytes = index instanceof Uint8Array ? index : serializeKBIndex(index);
    const { body, headers } = multipartFile('task', 'index.pkl', {
      size: bytes.length,
      stream: () => Readable.from([Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)]),
    });
    return this.absolute(await this.postAnswer('update', body, headers, this.uploadTimeoutMs));
  }

  /** Sets the deployment of task groups (`update/status`; status 0 drops them); returns the index URL. */
  async updateTaskStatus(tasks: readonly string[] | string, status: 0 | 1 | boolean): Promise<string> {
    const list = typeof tasks === 'string' ? tasks : tasks.join(',');
    const response = await this.http.post(
      `${this.base}/update/status`,
      { tasks: list, status: Number(status) },
      { retry: true }, // setting a flag twice is harmless
    );
    return this.absolute(this.answer(response.data, 'update/status'));
  }

  /** The task groups the knowledge base holds. */
  async query(): Promise<KBGroupSummary[]> {
    const response = await this.http.post<{ tasks?: unknown }>(`${this.base}/query`, {}, { retry: true });
    if (!Array.isArray(response.data.tasks)) throw this.badAnswer('query', response.data);
    return response.data.tasks as KBGroupSummary[];
  }

  close(): void {
    this.http.close();
  }

  private async postAnswer(
    route: string,
    body: Readable,
    headers: Record<string, string>,
    timeoutMs: number,
  ): Promise<string> {
    const response = await this.http.request({
      method: 'POST',
      url: `${this.base}/${route}`,
      body,
      headers,
      timeoutMs,
      totalTimeoutMs: timeoutMs,
    });
    return this.answer(response.data, route);
  }

  private answer(data: unknown, route: string): string {
    if (typeof data !== 'string' || data === '') throw this.badAnswer(route, data);
    return data;
  }

  private badAnswer(route: string, data: unknown): SednaError {
    return new SednaError(
      'SEDNA_ERR_BAD_RESPONSE',
      `the knowledge base answered ${route} with ${showValue(data, 120)}`,
      {
        details: { route },
      },
    );
  }
}
