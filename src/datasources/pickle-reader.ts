/**
 * A restricted pickle reader for the files Python Sedna workers send the knowledge base (joblib
 * dumps of the lifelong-learning index, spec §3.9). It interprets pickle opcodes as data only and
 * never calls anything: a class reference is allowed only when its `module.name` is on the
 * caller's allowlist (Sedna's artifact classes), and an instance becomes a {@link PyObject} record
 * holding the state Python would have set. Every other class or function a pickle names (numpy,
 * pandas, sklearn, `os.system`...) is refused with SEDNA_ERR_PICKLE_REJECTED at the opcode that
 * names it, before anything after it is read.
 *
 * Supported: the binary opcodes of protocols 2 to 5 (joblib writes 4), without out-of-band buffers.
 * Protocol 0/1 text opcodes, persistent ids and the extension registry are refused as unsupported.
 * Malformed input (truncated, a bad length, a stack underflow) is SEDNA_ERR_DATA_FORMAT.
 */
import { SednaError, showValue } from '../common/errors.js';
import { PyDict, PyObject, PySet, PyTuple, type PyKey, type PyValue } from './pickle-values.js';

export interface PickleReadOptions {
  /** `module.name` of every class that may be instantiated (e.g. `sedna.datasources.BaseDataSource`). */
  readonly allowedClasses: ReadonlySet<string>;
  /** What the bytes are, for messages (a file name). */
  readonly source?: string;
  /** Deepest nesting of containers accepted (default 100). */
  readonly maxDepth?: number;
}

/** A class or function named by GLOBAL / STACK_GLOBAL and found acceptable. */
class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}

  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/**
 * Pure functions a pickle may call through REDUCE, each with its arguments checked: protocol 2
 * writes instances as `copyreg._reconstructor(cls, object, None)`, sets as `set([...])`, bytes as
 * `_codecs.encode(str, 'latin1')`.
 */
const CALLABLES = new Set([
  'copyreg._reconstructor',
  'builtins.set',
  'builtins.frozenset',
  '_codecs.encode',
  'collections.OrderedDict',
  'builtins.object',
]);

const MARK = Symbol('mark');
type StackItem = PyValue | PyGlobal | typeof MARK;

export function pickleFormatError(source: string, offset: number, problem: string): SednaError {
  return new SednaError('SEDNA_ERR_DATA_FORMAT', `${source}: not a readable pickle (${problem} at byte ${offset})`, {
    details: { source, offset, problem },
  });
}

function rejected(source: string, offset: number, what: string, hint: string): SednaError {
  return new SednaError(
    'SEDNA_ERR_PICKLE_REJECTED',
    `${source}: refused to read a pickle that uses ${what} (byte ${offset}); ${hint}`,
    { details: { source, offset, what } },
  );
}

const CLASS_HINT =
  'only Sedna index classes and plain data (lists, dicts, numbers, strings) are read, nothing is ever executed: ' +
  'keep samples as lists instead of numpy arrays or DataFrames, or send the JSON index (docs/lifelong-learning.md)';

/** Reads one pickle. Throws SEDNA_ERR_PICKLE_REJECTED or SEDNA_ERR_DATA_FORMAT. */
export function readPickle(bytes: Uint8Array, options: PickleReadOptions): PyValue {
  return new Reader(bytes, options).run();
}

class Reader {
  private pos = 0;
  private stack: StackItem[] = [];
  private readonly marks: StackItem[][] = [];
  private readonly memo = new Map<number, StackItem>();
  private readonly view: DataView;
  private readonly source: string;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private opStart = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly options: PickleReadOptions,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.source = options.source ?? 'pickle';
  }

  run(): PyValue {
    for (;;) {
      if (this.pos >= this.bytes.length) throw this.bad('the data ends before the STOP opcode');
      this.opStart = this.pos;
      const op = this.bytes[this.pos++] as number;
      if (op === 0x2e) break; // STOP
      this.step(op);
    }
    if (this.marks.length > 0) throw this.bad('a MARK was never closed');
    if (this.stack.length !== 1) throw this.bad(`STOP with ${this.stack.length} values on the stack`);
    const result = this.value(this.stack[0] as StackItem);
    checkShape(result, this.options.maxDepth ?? 100, this.source);
    return result;
  }

  private step(op: number): void {
    switch (op) {
      case 0x80: // PROTO
        if (this.u8() > 5) throw this.bad('pickle protocol above 5');
        return;
      case 0x95: // FRAME: a length hint only
        this.skip(8);
        return;
      case 0x28: // MARK
        this.marks.push(this.stack);
        this.stack = [];
        return;
      case 0x30: // POP
        this.pop();
        return;
      case 0x31: // POP_MARK
        this.popMark();
        return;
      case 0x32: // DUP
        this.push(this.top());
        return;
      case 0x4e: // NONE
        this.push(null);
        return;
      case 0x88: // NEWTRUE
        this.push(true);
        return;
      case 0x89: // NEWFALSE
        this.push(false);
        return;
      case 0x4b: // BININT1
        this.push(this.u8());
        return;
      case 0x4d: // BININT2
        this.push(this.view.getUint16(this.take(2), true));
        return;
      case 0x4a: // BININT
        this.push(this.view.getInt32(this.take(4), true));
        return;
      case 0x8a: // LONG1
        this.push(this.long(this.u8()));
        return;
      case 0x8b: // LONG4
        this.push(this.long(this.length(this.view.getInt32(this.take(4), true))));
        return;
      case 0x47: // BINFLOAT (big-endian)
        this.push(this.view.getFloat64(this.take(8), false));
        return;
      case 0x8c: // SHORT_BINUNICODE
        this.push(this.text(this.u8()));
        return;
      case 0x58: // BINUNICODE
        this.push(this.text(this.length(this.view.getUint32(this.take(4), true))));
        return;
      case 0x8d: // BINUNICODE8
        this.push(this.text(this.length8()));
        return;
      case 0x55: // SHORT_BINSTRING (Python 2 str)
        this.push(this.latin1(this.u8()));
        return;
      case 0x54: // BINSTRING
        this.push(this.latin1(this.length(this.view.getInt32(this.take(4), true))));
        return;
      case 0x43: // SHORT_BINBYTES
        this.push(this.raw(this.u8()));
        return;
      case 0x42: // BINBYTES
        this.push(this.raw(this.length(this.view.getUint32(this.take(4), true))));
        return;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        this.push(this.raw(this.length8()));
        return;
      case 0x5d: // EMPTY_LIST
        this.push([]);
        return;
      case 0x6c: // LIST
        this.push(this.popMark().map((v) => this.value(v)));
        return;
      case 0x61: // APPEND
        this.appendTo(this.peekBelow(1), [this.pop()]);
        return;
      case 0x65: {
        // APPENDS
        const items = this.popMark();
        this.appendTo(this.top(), items);
        return;
      }
      case 0x29: // EMPTY_TUPLE
        this.push(new PyTuple([]));
        return;
      case 0x85: // TUPLE1
      case 0x86: // TUPLE2
      case 0x87: {
        // TUPLE3
        const n = op - 0x84;
        const items: StackItem[] = [];
        for (let i = 0; i < n; i++) items.unshift(this.pop());
        this.push(this.tuple(items));
        return;
      }
      case 0x74: // TUPLE
        this.push(this.tuple(this.popMark()));
        return;
      case 0x7d: // EMPTY_DICT
        this.push(new PyDict());
        return;
      case 0x64: {
        // DICT
        const dict = new PyDict();
        this.setItems(dict, this.popMark());
        this.push(dict);
        return;
      }
      case 0x73: {
        // SETITEM
        const value = this.pop();
        const key = this.pop();
        this.setItems(this.top(), [key, value]);
        return;
      }
      case 0x75: {
        // SETITEMS
        const items = this.popMark();
        this.setItems(this.top(), items);
        return;
      }
      case 0x8f: // EMPTY_SET
        this.push(new PySet([]));
        return;
      case 0x90: {
        // ADDITEMS
        const items = this.popMark().map((v) => this.value(v));
        const set = this.top();
        if (!(set instanceof PySet) || set.frozen) throw this.bad('ADDITEMS on something that is not a set');
        (set.items as PyValue[]).push(...items);
        return;
      }
      case 0x91: // FROZENSET
        this.push(
          new PySet(
            this.popMark().map((v) => this.value(v)),
            true,
          ),
        );
        return;
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = this.line();
        const name = this.line();
        this.push(this.global(module, name));
        return;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = this.pop();
        const module = this.pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw this.bad('STACK_GLOBAL without two strings');
        this.push(this.global(module, name));
        return;
      }
      case 0x81: {
        // NEWOBJ cls.__new__(cls, *args)
        const args = this.pop();
        this.push(this.instantiate(this.pop(), args));
        return;
      }
      case 0x92: {
        // NEWOBJ_EX cls.__new__(cls, *args, **kwargs)
        const kwargs = this.pop();
        const args = this.pop();
        if (!(kwargs instanceof PyDict) || kwargs.entries.size > 0)
          throw rejected(this.source, this.opStart, 'keyword arguments to a constructor', CLASS_HINT);
        this.push(this.instantiate(this.pop(), args));
        return;
      }
      case 0x52: {
        // REDUCE callable(*args)
        const args = this.pop();
        const callable = this.pop();
        this.push(this.reduce(callable, args));
        return;
      }
      case 0x62: {
        // BUILD obj.__setstate__(state)
        const state = this.value(this.pop());
        const target = this.top();
        if (!(target instanceof PyObject)) throw this.bad('BUILD on something that is not an object');
        target.state = mergeState(target.state, state, () => this.bad('BUILD with an unsupported state'));
        return;
      }
      case 0x94: // MEMOIZE
        this.memo.set(this.memo.size, this.top());
        return;
      case 0x71: // BINPUT
        this.memo.set(this.u8(), this.top());
        return;
      case 0x72: // LONG_BINPUT
        this.memo.set(this.view.getUint32(this.take(4), true), this.top());
        return;
      case 0x68: // BINGET
        this.push(this.recall(this.u8()));
        return;
      case 0x6a: // LONG_BINGET
        this.push(this.recall(this.view.getUint32(this.take(4), true)));
        return;
      case 0x97: // NEXT_BUFFER
      case 0x98: // READONLY_BUFFER
        throw rejected(this.source, this.opStart, 'out-of-band buffers (protocol 5)', CLASS_HINT);
      case 0x50: // PERSID
      case 0x51: // BINPERSID
        throw rejected(this.source, this.opStart, 'persistent ids', CLASS_HINT);
      case 0x82: // EXT1
      case 0x83: // EXT2
      case 0x84: // EXT4
        throw rejected(this.source, this.opStart, 'the copyreg extension registry', CLASS_HINT);
      case 0x69: // INST
      case 0x6f: // OBJ
        throw rejected(this.source, this.opStart, 'protocol 0/1 instance creation', CLASS_HINT);
      default:
        throw this.bad(
          `unsupported opcode 0x${op.toString(16).padStart(2, '0')} (write the pickle with protocol 2 or newer; joblib's default is 4)`,
        );
    }
  }

  // --- stack ---------------------------------------------------------------------------------

  private push(item: StackItem): void {
    this.stack.push(item);
  }

  private pop(): StackItem {
    if (this.stack.length === 0) throw this.bad('stack underflow');
    return this.stack.pop() as StackItem;
  }

  private top(): StackItem {
    if (this.stack.length === 0) throw this.bad('stack underflow');
    return this.stack[this.stack.length - 1] as StackItem;
  }

  private peekBelow(depth: number): StackItem {
    const item = this.stack[this.stack.length - 1 - depth];
    if (item === undefined) throw this.bad('stack underflow');
    return item;
  }

  private popMark(): StackItem[] {
    const items = this.stack;
    const previous = this.marks.pop();
    if (previous === undefined) throw this.bad('no MARK to pop to');
    this.stack = previous;
    return items;
  }

  /** A stack item as a value: class references never leak into data. */
  private value(item: StackItem): PyValue {
    if (item === MARK) throw this.bad('a MARK used as a value');
    if (item instanceof PyGlobal) {
      throw rejected(this.source, this.opStart, `${item.qualifiedName} as a value`, CLASS_HINT);
    }
    return item;
  }

  /**
   * A tuple may hold class references for a moment (the arguments of REDUCE / NEWOBJ); one that
   * ends up in the data is refused by the final shape check.
   */
  private tuple(items: StackItem[]): PyTuple {
    if (items.includes(MARK)) throw this.bad('a MARK used as a value');
    return new PyTuple(items as PyValue[]);
  }

  private recall(index: number): StackItem {
    const item = this.memo.get(index);
    if (item === undefined) throw this.bad(`memo entry ${index} was never stored`);
    return item;
  }

  private appendTo(target: StackItem, items: StackItem[]): void {
    if (!Array.isArray(target)) throw this.bad('APPEND to something that is not a list');
    for (const item of items) target.push(this.value(item));
  }

  private setItems(target: StackItem, items: StackItem[]): void {
    if (!(target instanceof PyDict)) throw this.bad('SETITEM on something that is not a dict');
    if (items.length % 2 !== 0) throw this.bad('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) {
      const key = this.value(items[i] as StackItem);
      if (!isKey(key)) throw this.bad(`a dict key of an unsupported type (${describe(key)})`);
      target.entries.set(key, this.value(items[i + 1] as StackItem));
    }
  }

  // --- classes and calls ----------------------------------------------------------------------

  private global(module: string, name: string): PyGlobal {
    const qualified = `${module}.${name}`;
    if (this.options.allowedClasses.has(qualified) || CALLABLES.has(qualified)) return new PyGlobal(module, name);
    throw rejected(this.source, this.opStart, `the Python class or function ${showValue(qualified)}`, CLASS_HINT);
  }

  private isClass(item: StackItem): item is PyGlobal {
    return item instanceof PyGlobal && this.options.allowedClasses.has(item.qualifiedName);
  }

  private instantiate(cls: StackItem, args: StackItem): PyObject {
    if (!this.isClass(cls)) throw this.bad('NEWOBJ of something that is not an allowed class');
    if (!(args instanceof PyTuple) || args.items.length > 0) {
      throw rejected(this.source, this.opStart, `constructor arguments for ${cls.qualifiedName}`, CLASS_HINT);
    }
    return new PyObject(cls.module, cls.name);
  }

  private reduce(callable: StackItem, args: StackItem): PyValue {
    if (!(callable instanceof PyGlobal) || !(args instanceof PyTuple)) throw this.bad('REDUCE without a callable');
    const a = args.items;
    switch (callable.qualifiedName) {
      case 'copyreg._reconstructor': {
        // Tuples may hold class references (see tuple()); PyValue's type does not say so.
        const [cls, base, state] = a as unknown as (StackItem | undefined)[];
        if (a.length === 3 && cls !== undefined && this.isClass(cls) && state === null && isObjectBase(base)) {
          return new PyObject(cls.module, cls.name);
        }
        break;
      }
      case 'builtins.set':
      case 'builtins.frozenset': {
        const items = a.length === 0 ? [] : a[0];
        if (a.length <= 1 && Array.isArray(items)) return new PySet([...items], callable.name === 'frozenset');
        break;
      }
      case 'collections.OrderedDict':
        if (a.length === 0) return new PyDict();
        break;
      case '_codecs.encode':
        if (a.length === 2 && typeof a[0] === 'string' && a[1] === 'latin1') {
          return Uint8Array.from(a[0], (c) => c.charCodeAt(0) & 0xff);
        }
        break;
    }
    throw rejected(
      this.source,
      this.opStart,
      `a call to ${callable.qualifiedName} with these arguments (${describe(a)})`,
      CLASS_HINT,
    );
  }

  // --- bytes ----------------------------------------------------------------------------------

  private take(n: number): number {
    const at = this.pos;
    if (at + n > this.bytes.length) throw this.bad(`truncated: ${n} more bytes expected`);
    this.pos += n;
    return at;
  }

  private skip(n: number): void {
    this.take(n);
  }

  private u8(): number {
    return this.bytes[this.take(1)] as number;
  }

  private length(n: number): number {
    if (n < 0 || n > this.bytes.length - this.pos) throw this.bad(`a length of ${n} bytes runs past the end`);
    return n;
  }

  private length8(): number {
    const at = this.take(8);
    const n = this.view.getBigUint64(at, true);
    if (n > BigInt(this.bytes.length - this.pos)) throw this.bad(`a length of ${n} bytes runs past the end`);
    return Number(n);
  }

  private raw(n: number): Uint8Array {
    const at = this.take(n);
    return this.bytes.slice(at, at + n);
  }

  private text(n: number): string {
    const at = this.take(n);
    try {
      return this.decoder.decode(this.bytes.subarray(at, at + n));
    } catch {
      throw this.bad('a string that is not valid UTF-8');
    }
  }

  private latin1(n: number): string {
    const at = this.take(n);
    let s = '';
    for (let i = at; i < at + n; i++) s += String.fromCharCode(this.bytes[i] as number);
    return s;
  }

  private line(): string {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0 || end - this.pos > 1024) throw this.bad('GLOBAL without a newline-terminated name');
    const s = this.latin1(end - this.pos);
    this.pos = end + 1;
    return s;
  }

  /** A little-endian two's complement integer: a number when it is safe, else a bigint. */
  private long(n: number): number | bigint {
    const at = this.take(n);
    if (n === 0) return 0;
    let value = 0n;
    for (let i = n - 1; i >= 0; i--) value = (value << 8n) | BigInt(this.bytes[at + i] as number);
    if (((this.bytes[at + n - 1] as number) & 0x80) !== 0) value -= 1n << BigInt(8 * n);
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  }

  private bad(problem: string): SednaError {
    return pickleFormatError(this.source, this.opStart, problem);
  }
}

function isObjectBase(item: unknown): boolean {
  return item instanceof PyGlobal && item.qualifiedName === 'builtins.object';
}

function isKey(value: PyValue): value is PyKey {
  return (
    value === null ||
    typeof value === 'string' ||
    typeof value === 'number' ||
    typeof value === 'bigint' ||
    typeof value === 'boolean'
  );
}

function describe(value: unknown): string {
  if (value === null) return 'None';
  if (Array.isArray(value)) return `list of ${value.length}`;
  if (value instanceof PyTuple) return `tuple of ${value.items.length}`;
  if (value instanceof PyObject) return value.qualifiedName;
  if (value instanceof PyGlobal) return value.qualifiedName;
  return typeof value;
}

/** BUILD's state: a dict (attributes), or `(dict, slots dict)`; merged into earlier state. */
function mergeState(current: PyValue, state: PyValue, bad: () => SednaError): PyValue {
  let dict: PyDict;
  if (state instanceof PyDict) dict = state;
  else if (state instanceof PyTuple && state.items.length === 2) {
    const [attrs, slots] = state.items;
    dict = new PyDict();
    for (const part of [attrs, slots]) {
      if (part === null || part === undefined) continue;
      if (!(part instanceof PyDict)) throw bad();
      for (const [k, v] of part.entries) dict.entries.set(k, v);
    }
  } else if (state === null) return current;
  else throw bad();
  if (current === null) return dict;
  if (!(current instanceof PyDict)) throw bad();
  for (const [k, v] of dict.entries) current.entries.set(k, v);
  return current;
}

/** Refuses cycles (a list that contains itself) and nesting deeper than `maxDepth`. */
function checkShape(root: PyValue, maxDepth: number, source: string): void {
  const onPath = new Set<object>();
  const done = new Set<object>();
  const visit = (value: PyValue, depth: number): void => {
    if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return;
    if ((value as unknown) instanceof PyGlobal) {
      throw rejected(source, 0, `${(value as unknown as PyGlobal).qualifiedName} as a value`, CLASS_HINT);
    }
    if (done.has(value)) return;
    if (onPath.has(value)) throw pickleFormatError(source, 0, 'a value that contains itself (a cycle)');
    if (depth > maxDepth) throw pickleFormatError(source, 0, `values nested deeper than ${maxDepth} levels`);
    onPath.add(value);
    for (const child of children(value)) visit(child, depth + 1);
    onPath.delete(value);
    done.add(value);
  };
  visit(root, 0);
}

function children(value: PyValue[] | PyTuple | PyDict | PySet | PyObject): readonly PyValue[] {
  if (Array.isArray(value)) return value;
  if (value instanceof PyTuple || value instanceof PySet) return value.items;
  if (value instanceof PyDict) return [...value.entries.values()];
  return [value.state];
}
