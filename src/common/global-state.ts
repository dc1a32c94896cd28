/**
 * Process-wide state kept on `globalThis` under a `Symbol.for` key, so two copies of sedna-sdk in
 * one process (a nested node_modules, a bundle plus a dependency) share one registry.
 */
export function globalState<T>(name: string, init: () => T): T {
  const key = Symbol.for(name);
  const holder = globalThis as unknown as Record<symbol, T | undefined>;
  let current = holder[key];
  if (current === undefined) {
    current = init();
    Object.defineProperty(globalThis, key, { value: current, enumerable: false, configurable: false, writable: false });
  }
  return current;
}
