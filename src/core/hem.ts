/**
 * Building the hard-example-mining filter a job uses, from an object, an `{method, param}` spec
 * (what `getAlgorithmFromConfig('HEM')` returns) or nothing. Shared by joint inference and
 * incremental learning.
 */
import '../algorithms/hard-example-mining/index.js'; // registers the built-in filters
import type { HardExampleFilter } from '../algorithms/hard-example-mining/base.js';
import { ClassFactory, ClassType } from '../common/class-factory.js';
import type { AlgorithmSpec } from '../common/config.js';
import { invalidArgument } from '../common/errors.js';
import { getLogger } from '../common/logger.js';

/** What a job accepts as its HEM: a filter object, a spec to build one, or `null` for none. */
export type HemChoice = HardExampleFilter | AlgorithmSpec | null;

/** Sedna's default method when a spec names none. */
export const DEFAULT_HEM_METHOD = 'IBT';

function isFilter(value: unknown): value is HardExampleFilter {
  return typeof value === 'object' && value !== null && typeof (value as { isHard?: unknown }).isHard === 'function';
}

/**
 * Resolves a HEM choice into a filter (or `undefined` for none). Unknown names and bad parameter
 * values throw here, at job creation, not at the first inference.
 */
export function createHemFilter(choice: HemChoice | undefined): HardExampleFilter | undefined {
  if (choice === null || choice === undefined) return undefined;
  if (isFilter(choice)) return choice;
  if (typeof choice !== 'object' || typeof (choice as { method?: unknown }).method !== 'string') {
    throw invalidArgument('hardExampleMining', choice, 'a filter with isHard(), or { method, param }');
  }
  const method = choice.method === '' ? DEFAULT_HEM_METHOD : choice.method;
  const cls = ClassFactory.getCls<new (params: unknown) => unknown>(ClassType.HEM, method);
  const filter = new cls(choice.param);
  if (!isFilter(filter))
    throw invalidArgument('hardExampleMining', method, 'a registered class whose instances have isHard(input)');
  // Sedna ignores parameters a filter does not know; we keep that (scripts force e.g. threshold_img
  // whatever filter the CRD picks) but say so, since it is usually a typo.
  const known = (cls as unknown as { paramNames?: readonly string[] }).paramNames;
  if (known !== undefined) {
    const unknown = Object.keys(choice.param).filter((k) => !known.includes(k));
    if (unknown.length > 0)
      getLogger('hem').warn(
        { filter: method, ignored: unknown },
        `hard example mining "${method}" ignores parameters it does not know: ${unknown.join(', ')}`,
      );
  }
  return filter;
}
