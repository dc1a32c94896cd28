/**
 * Splitting a labelled data set among virtual clients, the usual ways of federated-learning
 * research:
 *
 * - `iid`: shuffled and dealt evenly: every client sees every class.
 * - `dirichlet:α`: for each class, the shares of the clients are drawn from Dirichlet(α, ..., α)
 *   (Hsu et al. 2019): α = 100 is nearly IID, α = 0.1 gives most clients a few classes.
 * - `shards:k`: sorted by label, cut into clients × k shards, k per client (McMahan et al. 2017):
 *   each client sees about k classes.
 *
 * Seeded: the same seed gives the same partition. Every client gets at least `minSamples`
 * samples (a Dirichlet draw that leaves one short is drawn again).
 */
import { SednaError, invalidArgument } from '../../common/errors.js';
import { seededRandom, type RandomSource } from '../../algorithms/random.js';

export type PartitionSpec = 'iid' | `dirichlet:${number}` | `shards:${number}`;

export interface ParsedPartition {
  readonly kind: 'iid' | 'dirichlet' | 'shards';
  /** α for dirichlet, shards per client for shards. */
  readonly value: number;
}

/** Reads `iid`, `dirichlet:0.3` or `shards:2`. */
export function parsePartition(spec: string): ParsedPartition {
  const text = spec.trim().toLowerCase();
  if (text === 'iid') return { kind: 'iid', value: 0 };
  const match = /^(dirichlet|shards):(.+)$/.exec(text);
  const value = match === null ? NaN : Number(match[2]);
  if (match?.[1] === 'dirichlet' && value > 0 && Number.isFinite(value)) return { kind: 'dirichlet', value };
  if (match?.[1] === 'shards' && Number.isInteger(value) && value >= 1) return { kind: 'shards', value };
  throw invalidArgument('partition', spec, '"iid", "dirichlet:<alpha > 0>" or "shards:<integer ≥ 1>"');
}

function shuffle<T>(items: T[], random: RandomSource): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

/** A standard normal draw (Box-Muller). */
function normal(random: RandomSource): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** A Gamma(shape, 1) draw (Marsaglia and Tsang; shapes below 1 through the boost U^(1/shape)). */
export function sampleGamma(shape: number, random: RandomSource): number {
  if (shape < 1) return sampleGamma(shape + 1, random) * (1 - random()) ** (1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = normal(random);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - random();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

/** Proportions drawn from Dirichlet(α, ..., α) over `k` parts. */
export function sampleDirichlet(alpha: number, k: number, random: RandomSource): number[] {
  const draws = Array.from({ length: k }, () => sampleGamma(alpha, random));
  const total = draws.reduce((s, v) => s + v, 0);
  return total > 0 ? draws.map((v) => v / total) : draws.map(() => 1 / k);
}

export interface PartitionOptions {
  readonly seed?: number;
  /** Fewest samples a client may get (default 1). */
  readonly minSamples?: number;
  /** Dirichlet redraws before giving up (default 1000). */
  readonly maxAttempts?: number;
}

/** The sample indexes of each client. */
export function partitionLabels(
  labels: readonly number[],
  clients: number,
  spec: string,
  options: PartitionOptions = {},
): number[][] {
  if (!Number.isInteger(clients) || clients < 1) throw invalidArgument('clients', clients, 'an integer ≥ 1');
  const minSamples = options.minSamples ?? 1;
  if (labels.length < clients * minSamples) {
    throw invalidArgument(
      'clients',
      clients,
      `at most ${Math.floor(labels.length / minSamples)} for ${labels.length} samples`,
    );
  }
  const { kind, value } = parsePartition(spec);
  const random = seededRandom(options.seed ?? 1);
  const indexes = labels.map((_, i) => i);
  if (kind === 'iid') {
    const parts: number[][] = Array.from({ length: clients }, () => []);
    shuffle(indexes, random).forEach((index, k) => (parts[k % clients] as number[]).push(index));
    return parts;
  }
  if (kind === 'shards') {
    const sorted = shuffle(indexes, random).sort((a, b) => (labels[a] as number) - (labels[b] as number));
    const count = clients * value;
    if (sorted.length < count) throw invalidArgument('partition', spec, `at most ${sorted.length} shards in all`);
    const order = shuffle(
      Array.from({ length: count }, (_, s) => s),
      random,
    );
    return Array.from({ length: clients }, (_, k) =>
      order
        .slice(k * value, (k + 1) * value)
        .flatMap((s) =>
          sorted.slice(Math.floor((s * sorted.length) / count), Math.floor(((s + 1) * sorted.length) / count)),
        ),
    );
  }
  const byClass = new Map<number, number[]>();
  for (const index of indexes) {
    const list = byClass.get(labels[index] as number) ?? [];
    list.push(index);
    byClass.set(labels[index] as number, list);
  }
  const classes = [...byClass.keys()].sort((a, b) => a - b);
  const attempts = options.maxAttempts ?? 1000;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const parts: number[][] = Array.from({ length: clients }, () => []);
    for (const label of classes) {
      const members = shuffle([...(byClass.get(label) as number[])], random);
      const shares = sampleDirichlet(value, clients, random);
      let from = 0;
      let cumulative = 0;
      shares.forEach((share, k) => {
        cumulative += share;
        const to = k === clients - 1 ? members.length : Math.round(cumulative * members.length);
        (parts[k] as number[]).push(...members.slice(from, to));
        from = to;
      });
    }
    if (parts.every((p) => p.length >= minSamples)) return parts;
  }
  throw new SednaError(
    'SEDNA_ERR_INVALID_ARGUMENT',
    `partition ${spec}: no draw in ${attempts} gave each of ${clients} clients ${minSamples} sample(s); use fewer clients or a larger alpha`,
    { details: { partition: spec, clients, minSamples } },
  );
}
