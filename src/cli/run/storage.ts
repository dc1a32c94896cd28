/**
 * What Sedna's storage initializer does for a worker, locally (spec §1.7, Sedna's
 * storage_initializer_injector.go): a URL becomes the value of the variable the worker reads.
 *
 * - a node path (no scheme) is the node's local path (node-fs.ts); the worker gets it, and
 *   `DATA_PATH_PREFIX` is the node folder, so reported URLs come back as node paths;
 * - an `s3://` or `http(s)://` URL the initializer downloads (models, datasets a worker reads) is
 *   fetched before the worker starts into `<run>/downloads/<host><path>`, which the worker gets;
 * - a location the worker writes (an output folder, the FL model) keeps its URL; for `s3://` the
 *   credentials of its Secret are added as `S3_ENDPOINT_URL`, `ACCESS_KEY_ID`, `SECRET_ACCESS_KEY`.
 *
 * Credentials come from the resource's `credentialName` Secret (given in the YAML), else from the
 * user's own environment (S3_ENDPOINT_URL, ACCESS_KEY_ID, SECRET_ACCESS_KEY), used for the
 * downloads `sedna run` makes and never injected (Sedna injects only a Secret's).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { SednaError, messageOf } from '../../common/errors.js';
import { FileOps, schemeOf } from '../../datasources/file-ops.js';
import type { NodeFs } from './node-fs.js';
import type { SecretResource } from './resources.js';

export interface S3Credentials {
  readonly endpoint?: string;
  readonly accessKeyId?: string;
  readonly secretAccessKey?: string;
}

/** Sedna's `buildS3SecretEnvs`: data ACCESS_KEY_ID/SECRET_ACCESS_KEY, annotations s3-endpoint, s3-usehttps. */
export function secretCredentials(secret: SecretResource): S3Credentials {
  const endpoint = secret.metadata.annotations['s3-endpoint'];
  const scheme = secret.metadata.annotations['s3-usehttps'] === '0' ? 'http://' : 'https://';
  return {
    ...(endpoint === undefined || endpoint === ''
      ? {}
      : { endpoint: /^https?:\/\//.test(endpoint) ? endpoint : scheme + endpoint }),
    ...(secret.data.ACCESS_KEY_ID === undefined ? {} : { accessKeyId: secret.data.ACCESS_KEY_ID }),
    ...(secret.data.SECRET_ACCESS_KEY === undefined ? {} : { secretAccessKey: secret.data.SECRET_ACCESS_KEY }),
  };
}

/** The variables Sedna injects for a Secret's credentials. */
export function s3Env(credentials: S3Credentials): Record<string, string> {
  const env: Record<string, string> = {};
  if (credentials.endpoint !== undefined) env.S3_ENDPOINT_URL = credentials.endpoint;
  if (credentials.accessKeyId !== undefined) env.ACCESS_KEY_ID = credentials.accessKeyId;
  if (credentials.secretAccessKey !== undefined) env.SECRET_ACCESS_KEY = credentials.secretAccessKey;
  return env;
}

export interface MountRequest {
  readonly url: string;
  /** The node whose disk a node path is on. */
  readonly node: string;
  /** `read`: must exist (downloaded first when remote); `write`: the worker creates it. */
  readonly access: 'read' | 'write';
  /** Sedna's DownloadByInitializer for remote URLs. */
  readonly download: boolean;
  /** For messages: `Dataset digits-edge-1`, `Model digits-fl-model`. */
  readonly what: string;
  /** From the resource's credentialName Secret. */
  readonly secret?: S3Credentials | undefined;
}

export interface Mounted {
  /** The variable's value. */
  readonly value: string;
  /** A node path was mounted (DATA_PATH_PREFIX is then injected). */
  readonly hostPath: boolean;
  /** S3 credential variables to inject. */
  readonly env: Readonly<Record<string, string>>;
}

export class StorageInitializer {
  private readonly downloads = new Map<string, Promise<string>>();
  private fileOps: FileOps | undefined;

  constructor(
    private readonly nodes: NodeFs,
    private readonly downloadsDir: string,
    private readonly userCredentials: S3Credentials,
    private readonly onDownload: (url: string, local: string) => void = () => {},
  ) {}

  async mount(req: MountRequest): Promise<Mounted> {
    const scheme = schemeOf(req.url);
    if (scheme === 'file') {
      const local = this.nodes.local(req.node, req.url.replace(/^file:\/\//i, ''));
      if (req.access === 'read') {
        await fs.access(local).catch((err: unknown) => {
          throw new SednaError(
            'SEDNA_ERR_FILE_NOT_FOUND',
            `${req.what}: ${req.url} cannot be read on node ${req.node} (locally ${local}): ${messageOf(err)}. ` +
              'Map the node path to a local folder (sedna.local.yaml or --node-path), or put the file there.',
            { cause: err, details: { url: req.url, node: req.node, local } },
          );
        });
      } else {
        await fs.mkdir(path.dirname(local), { recursive: true });
      }
      return { value: local, hostPath: true, env: {} };
    }
    if (req.download && req.access === 'read') {
      const value = await this.download(req);
      return { value, hostPath: false, env: {} };
    }
    return { value: req.url, hostPath: false, env: req.secret === undefined ? {} : s3Env(req.secret) };
  }

  async close(): Promise<void> {
    await this.fileOps?.close();
  }

  /** `<downloads>/<host><path>`, fetched once per run. */
  private download(req: MountRequest): Promise<string> {
    const url = new URL(req.url);
    const target = path.join(this.downloadsDir, url.host, decodeURIComponent(url.pathname));
    let pending = this.downloads.get(req.url);
    if (pending === undefined) {
      pending = this.fetch(req, target);
      this.downloads.set(req.url, pending);
    }
    return pending;
  }

  private async fetch(req: MountRequest, target: string): Promise<string> {
    const creds = req.secret ?? this.userCredentials;
    const ops =
      req.secret === undefined
        ? (this.fileOps ??= new FileOps({ s3: { ...creds } }))
        : new FileOps({ s3: { ...creds } });
    try {
      await fs.mkdir(path.dirname(target), { recursive: true });
      const local = await ops.download(req.url, target);
      this.onDownload(req.url, local);
      return local;
    } catch (err) {
      throw new SednaError('SEDNA_ERR_STORAGE', `${req.what}: cannot download ${req.url}: ${messageOf(err)}`, {
        cause: err,
        details: { url: req.url },
      });
    } finally {
      if (ops !== this.fileOps) await ops.close();
    }
  }
}
