/**
 * Python values as the restricted pickle reader produces them and the pickle writer consumes them.
 * Plain data maps to plain JavaScript (None → null, int → number or bigint, float → number,
 * str → string, bytes → Uint8Array, list → array); the Python types JavaScript has no twin for get
 * small classes, so a value written back is the same Python value (a tuple stays a tuple).
 *
 * An instance of an allowlisted class is a {@link PyObject}: its module, class name and the state
 * its `__setstate__` would have received. Nothing of the class runs: it is a record.
 */

/** A Python value read from a pickle. */
export type PyValue =
  null | boolean | number | bigint | string | Uint8Array | PyValue[] | PyTuple | PyDict | PySet | PyObject;

/** Keys a {@link PyDict} accepts: Python's hashable scalars. */
export type PyKey = null | boolean | number | bigint | string;

export class PyTuple {
  constructor(readonly items: readonly PyValue[]) {}
}

/** A dict, in insertion order (as Python 3.7+ keeps it). */
export class PyDict {
  readonly entries: Map<PyKey, PyValue>;

  constructor(entries?: Iterable<readonly [PyKey, PyValue]>) {
    this.entries = new Map(entries);
  }

  get(key: PyKey): PyValue | undefined {
    return this.entries.get(key);
  }

  /** A string-keyed lookup that tells "missing" from `None`. */
  has(key: PyKey): boolean {
    return this.entries.has(key);
  }
}

export class PySet {
  constructor(
    readonly items: readonly PyValue[],
    readonly frozen = false,
  ) {}
}

/** An instance of an allowlisted class: `module.name` plus the state BUILD gave it. */
export class PyObject {
  constructor(
    readonly module: string,
    readonly name: string,
    /** What `__setstate__` would get: usually a dict of attributes; `null` when never built. */
    public state: PyValue = null,
  ) {}

  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }

  /** An attribute from a dict state (undefined when absent or the state is not a dict). */
  attr(name: string): PyValue | undefined {
    return this.state instanceof PyDict ? this.state.get(name) : undefined;
  }
}
