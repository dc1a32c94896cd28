/** The coded error a call throws or a promise rejects with; fails the test if there is none. */
import { SednaError } from '../../src/common/errors.js';

type ErrorClass<T extends SednaError> = abstract new (...args: never[]) => T;

/** The SednaError `fn` throws (another error is rethrown; no error fails the test). */
export function errorOf<T extends SednaError = SednaError>(
  fn: () => unknown,
  type: ErrorClass<T> = SednaError as unknown as ErrorClass<T>,
): T {
  try {
    fn();
  } catch (err) {
    if (err instanceof type) return err;
    throw err;
  }
  throw new Error(`expected a ${type.name}, but the call succeeded`);
}

/** The SednaError `promise` rejects with (another error is rethrown; success fails the test). */
export async function rejectionOf<T extends SednaError = SednaError>(
  promise: Promise<unknown>,
  type: ErrorClass<T> = SednaError as unknown as ErrorClass<T>,
): Promise<T> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof type) return err;
    throw err;
  }
  throw new Error(`expected a ${type.name}, but the call succeeded`);
}
