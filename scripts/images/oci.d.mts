export const ROOT: string;
export const SHARED_OCI: string;
export const TEST_LABEL: string;

export interface OciResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface OciOptions {
  tool?: 'podman' | 'buildah';
  timeoutMs?: number;
}

export function engine(): Promise<{ env: NodeJS.ProcessEnv; buildEnv: NodeJS.ProcessEnv; buildMounts: string[] }>;
export function ensureEngine(log?: (line: string) => void): Promise<void>;
export function oci(args: readonly string[], options?: OciOptions): Promise<OciResult>;
export function ociOk(args: readonly string[], options?: OciOptions): Promise<string>;
