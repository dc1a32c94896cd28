/**
 * The two libraries behind `TaskDefinitionBySVC`, loaded on first use (optional peers):
 * ml-hclust (agglomerative clustering, Ward linkage as sklearn's default) and libsvm-js (libsvm's
 * C-SVC compiled to WebAssembly; its models serialise to libsvm's text format, so the extractor
 * is stored as text, never as a pickle).
 */
import { missingDependency } from '../../common/errors.js';

/** The part of libsvm-js's SVM class we use. */
export interface LibSvm {
  train(samples: number[][], labels: number[]): void;
  predictOne(sample: readonly number[]): number;
  serializeModel(): string;
  free(): void;
}

export interface LibSvmClass {
  new (options: Readonly<Record<string, unknown>>): LibSvm;
  load(serialized: string): LibSvm;
  readonly SVM_TYPES: { readonly C_SVC: string };
  readonly KERNEL_TYPES: { readonly RBF: string };
}

interface HClusterNode {
  readonly children: readonly HClusterNode[];
  group(n: number): HClusterNode;
  indices(): number[];
}

// Specifiers in variables: these packages ship no type declarations; the shapes above say what we use.
const LIBSVM = 'libsvm-js';
const HCLUST = 'ml-hclust';

let svmPromise: Promise<LibSvmClass> | undefined;
let hclustPromise: Promise<(data: number[][], options: { method: string }) => HClusterNode> | undefined;

export function loadLibSvm(): Promise<LibSvmClass> {
  svmPromise ??= (import(LIBSVM) as Promise<{ default: Promise<LibSvmClass> }>)
    .then((m) => m.default)
    .catch((err: unknown) => {
      svmPromise = undefined;
      throw missingDependency('libsvm-js', 'TaskDefinitionBySVC / TaskMiningBySVC', err);
    });
  return svmPromise;
}

function loadHclust(): Promise<(data: number[][], options: { method: string }) => HClusterNode> {
  hclustPromise ??= (import(HCLUST) as Promise<{ agnes: (d: number[][], o: { method: string }) => HClusterNode }>)
    .then((m) => m.agnes)
    .catch((err: unknown) => {
      hclustPromise = undefined;
      throw missingDependency('ml-hclust', 'TaskDefinitionBySVC', err);
    });
  return hclustPromise;
}

/**
 * Cluster labels (0..n-1) of each point: Ward agglomerative clustering cut into `n` clusters,
 * numbered by their smallest point index so the labels do not depend on the tree's internal order.
 */
export async function wardClusters(points: number[][], n: number): Promise<number[]> {
  const agnes = await loadHclust();
  const labels = new Array<number>(points.length).fill(0);
  if (points.length <= n) return points.map((_, i) => i);
  const groups = agnes(points, { method: 'ward' })
    .group(n)
    .children.map((c) => c.indices())
    .sort((a, b) => Math.min(...a) - Math.min(...b));
  groups.forEach((members, label) => {
    for (const i of members) labels[i] = label;
  });
  return labels;
}
