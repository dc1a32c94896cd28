/**
 * What every aggregation strategy shares around its arithmetic: refusing a bad update with the
 * same coded errors, collecting a round's good updates (for the strategies that need them all at
 * once), and writing results into output frames that the server sends without a copy.
 */
import { SednaError, isSednaError } from '../../common/errors.js';
import {
  allocateWeightsFrame,
  findNonFinite,
  type WeightData,
  type WeightDtype,
  type WeightLayout,
  type WeightRecord,
} from '../../backend/weights.js';
import { RoundLayout, checkNumSamples, type ClientUpdate, type UpdateStream } from './base.js';

/** SEDNA_ERR_INVALID_UPDATE for a NaN or infinite value in an update. */
export function nonFiniteUpdate(update: ClientUpdate, tensor: number, index: number): SednaError {
  const name = update.weights[tensor]?.name ?? '';
  return new SednaError(
    'SEDNA_ERR_INVALID_UPDATE',
    `update from "${update.client}": tensor #${tensor} ("${name}") holds a NaN or infinite value at index ${index}`,
    { details: { client: update.client, tensor, index } },
  );
}

/** The errors that refuse one update (the round goes on without it); anything else is rethrown. */
export function asRefusal(err: unknown): SednaError {
  if (isSednaError(err, 'SEDNA_ERR_INVALID_UPDATE') || isSednaError(err, 'SEDNA_ERR_WEIGHTS_MISMATCH')) return err;
  throw err;
}

/** A round's good updates, in arrival order, and the layout they share. */
export interface CollectedRound {
  readonly updates: readonly ClientUpdate[];
  readonly layout: RoundLayout;
}

/**
 * Reads the whole round, refusing (through `updates.reject`) every update with a bad sample
 * count, a layout other than the round's or a NaN/infinite value. For strategies that need every
 * update at once (trimmed mean, Krum): memory grows with the number of clients.
 */
export async function collectUpdates(updates: UpdateStream): Promise<CollectedRound> {
  const layout = new RoundLayout();
  const accepted: ClientUpdate[] = [];
  for await (const update of updates) {
    try {
      checkNumSamples(update.numSamples, `num_samples of "${update.client}"`);
      layout.check(update);
      const bad = findNonFinite(update.weights);
      if (bad !== undefined) throw nonFiniteUpdate(update, bad.tensor, bad.index);
      layout.record(update);
      accepted.push(update);
    } catch (err) {
      updates.reject(update, asRefusal(err));
    }
  }
  return { updates: accepted, layout };
}

/** Fails a round that has no usable update. */
export function requireUpdates(algorithm: string, round: CollectedRound): void {
  if (round.updates.length === 0) {
    throw new SednaError('SEDNA_ERR_ROUND_FAILED', `${algorithm}: the round has no usable updates`);
  }
}

/**
 * The output layout: the first update's names and shapes; the binary updates' dtypes (float64
 * when every update was JSON, as Sedna's numpy result).
 */
export function outputLayout(
  names: readonly string[],
  shapes: readonly (readonly number[])[],
  binaryDtypes: readonly WeightDtype[] | undefined,
): WeightLayout {
  return shapes.map((shape, t) => ({ name: names[t] as string, dtype: binaryDtypes?.[t] ?? 'float64', shape }));
}

/** The output layout of a collected round. */
export function layoutOfRound(round: CollectedRound): WeightLayout {
  const first = round.updates[0] as ClientUpdate;
  return outputLayout(
    first.weights.map((w) => w.name),
    first.weights.map((w) => w.shape),
    round.layout.binaryDtypes,
  );
}

/** Element `i` of any weights array as a number. */
export function numberAt(data: WeightData, i: number): number {
  return data instanceof BigInt64Array ? Number(data[i]) : (data[i] as number);
}

/** A tensor's values as float64 (a copy). */
export function toFloat64(data: WeightData): Float64Array {
  return data instanceof BigInt64Array ? Float64Array.from(data, (v) => Number(v)) : Float64Array.from(data);
}

/**
 * Writes float64 values into an output array: rounded to nearest for float32, rounded to the
 * nearest integer for integer tensors.
 */
export function writeValues(values: ArrayLike<number>, out: WeightData): void {
  if (out instanceof BigInt64Array)
    for (let i = 0; i < out.length; i++) out[i] = BigInt(Math.round(values[i] as number));
  else if (out instanceof Float32Array || out instanceof Float64Array) out.set(values);
  else for (let i = 0; i < out.length; i++) out[i] = Math.round(values[i] as number);
}

/**
 * Output frames handed back by `recycle()`, reused by the next result of the same layout (every
 * element is overwritten). At most one is kept: about one model's worth of memory.
 */
export class OutputPool {
  private kept: { key: string; records: WeightRecord[] } | undefined;

  private static key(layout: WeightLayout): string {
    return layout.map((t) => `${t.dtype}[${t.shape.join(',')}]`).join(';');
  }

  take(layout: WeightLayout): WeightRecord[] {
    const key = OutputPool.key(layout);
    const kept = this.kept;
    if (kept?.key === key) {
      this.kept = undefined;
      return kept.records.map((r, i) => ({ ...r, name: (layout[i] as WeightLayout[number]).name }));
    }
    // One buffer laid out as a weights frame: the server sends it as is, without a copy.
    return allocateWeightsFrame(layout);
  }

  give(records: readonly WeightRecord[]): void {
    const buffer = records[0]?.data.buffer;
    // Only a whole frame of ours: every record a view into the same buffer.
    if (buffer === undefined || !records.every((r) => r.data.buffer === buffer)) return;
    this.kept = { key: OutputPool.key(records), records: [...records] };
  }
}
