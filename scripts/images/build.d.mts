export const VERSION: string;

export interface ImageDef {
  /** e.g. sedna-sdk-onnx, sedna-sdk-example-joint-inference-edge */
  name: string;
  /** localhost/<name>:<package version> */
  tag: string;
  /** Relative to the repository root. */
  dockerfile: string;
  /** The sedna-sdk image it builds on (undefined for the bases). */
  base: string | undefined;
  kind: 'base' | 'example';
}

export interface BuildResult extends ImageDef {
  ok: boolean;
  seconds: number;
  /** Bytes, as `podman image inspect` gives it. */
  size?: number;
  layers?: number;
  /** The build log's tail. */
  log: string;
}

export function catalog(): ImageDef[];
export function packTarball(): Promise<string>;
export function pruneSuperseded(): Promise<void>;
export function buildAll(options?: { jobs?: number; log?: (line: string) => void }): Promise<BuildResult[]>;
