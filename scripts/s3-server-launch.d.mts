/** Settings printed by scripts/s3-server.mjs once Swift is ready. */
export interface S3ServerInfo {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** The server script's process id. */
  pid: number;
  /** Its temp folder (configs, rings, object data, logs). */
  dir: string;
  buckets: string[];
  startupMs: number;
}

export interface S3Server extends S3ServerInfo {
  /** Stops Swift and memcached and removes the temp folder. */
  stop(): Promise<void>;
}

export const INSTALL_HINT: string;

export function startS3Server(options?: { buckets?: string[]; timeoutMs?: number }): Promise<S3Server>;
