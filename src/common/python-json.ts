/**
 * JSON for Python peers: the same JSON values Python's `json.dumps` writes, so a Python worker's
 * `np.asarray(...)` gets the dtype it would get from another Python worker.
 *
 * `JSON.stringify` writes the float `1.0` as `1`, which Python reads as an int (an int64 array
 * instead of float64). Here numbers from float typed arrays (Float32Array, Float64Array), alone or
 * shaped by a {@link JsonTensor}, are written in the style of Python's `repr(float)`: `1.0`,
 * `0.1`, `1e-05`, `1e+16`. Numbers from integer typed arrays are written as integers, and plain JS
 * numbers as `JSON.stringify` writes them (a JS number does not say whether it is a float).
 *
 * The bytes differ from Python's (no spaces after `,` and `:`; JSON's `null` where Python writes
 * the non-standard `NaN`/`Infinity`): the same JSON values, not the same bytes.
 */

/** Typed arrays whose numbers are written as floats. */
type FloatArray = Float32Array | Float64Array;
/** Typed arrays whose numbers are written as integers. */
type IntArray = Int8Array | Int16Array | Int32Array | Uint8Array | Uint8ClampedArray | Uint16Array | Uint32Array;
type BigIntArray = BigInt64Array | BigUint64Array;
export type JsonTensorData = FloatArray | IntArray | BigIntArray;

/**
 * A typed array with a shape, written as nested lists (`[[1.0, 2.0], [3.0, 4.0]]` for shape
 * [2, 2]; the bare number for shape []). `JSON.stringify` writes it too (through `toJSON`), but
 * with JavaScript's number style.
 */
export class JsonTensor {
  constructor(
    readonly data: JsonTensorData,
    readonly shape: readonly number[],
  ) {
    const count = shape.reduce((n, d) => n * d, 1);
    if (count !== data.length) {
      throw new RangeError(`JsonTensor: shape [${shape.join(', ')}] needs ${count} values, got ${data.length}`);
    }
  }

  toJSON(): unknown {
    return JSON.parse(toPythonJson(this)) as unknown;
  }
}

/**
 * A finite double as Python's `repr(float)` writes it: the shortest digits that read back to the
 * same double (as JavaScript's), with `.0` on whole numbers, and exponent notation below 1e-4 and
 * from 1e16 (two-digit exponent with its sign: `1e-05`). NaN and ±Infinity give `null` (JSON).
 */
export function pythonFloat(v: number): string {
  if (v - v !== 0) return 'null'; // NaN or ±Infinity
  const a = v < 0 ? -v : v;
  // Python switches to exponents where the decimal point would sit 4 places right of the digits'
  // start or 16 left of it; JavaScript at 1e-7 and 1e21.
  if (a < 1e16 && (a >= 1e-4 || a === 0)) {
    if (Number.isInteger(v)) return v === 0 && 1 / v < 0 ? '-0.0' : `${v}.0`;
    return `${v}`;
  }
  return exponentForm(v);
}

function exponentForm(v: number): string {
  const s = v.toExponential(); // shortest round-trip digits, `1.5e+16` / `1e-7`
  const e = s.indexOf('e');
  const sign = s[e + 1] as string;
  const digits = s.slice(e + 2);
  return `${s.slice(0, e)}e${sign}${digits.length < 2 ? `0${digits}` : digits}`;
}

function isFloatArray(value: unknown): value is FloatArray {
  return value instanceof Float32Array || value instanceof Float64Array;
}

// Whole-number tokens of JSON.stringify's output (between `[`/`,` and `,`/`]`), up to 16 digits:
// Python writes them with `.0`.
const WHOLE_TOKEN = /(?<=[,[])-?\d{1,16}(?=[,\]])/g;
// `-1024.0` ... `1024.0`: one-hot inputs, labels and counts need no number formatting at all.
const SMALL_WHOLE = Array.from({ length: 2049 }, (_, i) => `${i - 1024}.0`);

/**
 * Floats in Python's style at close to JSON.stringify's speed. A scan of the values picks the
 * way: mostly whole numbers are joined from cached strings; other data is written by
 * JSON.stringify (the same shortest round-trip digits as Python) and only the tokens whose style
 * differs are patched: whole numbers get `.0`, and the rare exponents and 1e-6 <= |v| < 1e-4
 * are rewritten one by one. -0 and |v| >= 1e16 take the per-value path.
 */
function floatList(data: FloatArray, start: number, count: number): string {
  let whole = 0;
  let patch = false;
  const end = start + count;
  for (let i = start; i < end; i++) {
    const v = data[i] as number;
    if (v === Math.floor(v)) {
      if ((v === 0 && 1 / v < 0) || ((v >= 1e16 || v <= -1e16) && v - v === 0)) return joined(data, start, count);
      whole++;
    } else if (v < 1e-4 && v > -1e-4) patch = true;
  }
  if (whole * 4 > count) return joined(data, start, count);
  let text = JSON.stringify(Array.from(data.subarray(start, end)));
  if (whole > 0) text = text.replace(WHOLE_TOKEN, '$&.0');
  return patch ? patchSmall(text) : text;
}

/** Rewrites the tokens JSON.stringify writes as `1e-7` or `0.00001` in Python's style (`1e-07`, `1e-05`). */
function patchSmall(text: string): string {
  let out = '';
  let from = 0;
  let e = text.indexOf('e');
  let z = text.indexOf('0.0000');
  for (;;) {
    if (e >= 0 && e < from) e = text.indexOf('e', from);
    if (z >= 0 && z < from) z = text.indexOf('0.0000', from);
    const hit = e < 0 ? z : z < 0 ? e : Math.min(e, z);
    if (hit < 0) break;
    let a = hit;
    while (a > 0 && text[a - 1] !== ',' && text[a - 1] !== '[') a--;
    let b = hit;
    while (b < text.length && text[b] !== ',' && text[b] !== ']') b++;
    out += text.slice(from, a) + pythonFloat(Number(text.slice(a, b)));
    from = b;
  }
  return from === 0 ? text : out + text.slice(from);
}

/** One value at a time; Array.join formats the plain floats natively. */
function joined(data: FloatArray, start: number, count: number): string {
  const parts = new Array<number | string>(count);
  for (let i = 0; i < count; i++) {
    const v = data[start + i] as number;
    if (v !== Math.floor(v) && (v >= 1e-4 || v <= -1e-4)) parts[i] = v;
    else if (v === Math.floor(v) && v > -1025 && v < 1025 && !(v === 0 && 1 / v < 0))
      parts[i] = SMALL_WHOLE[v + 1024] as string;
    else parts[i] = pythonFloat(v);
  }
  return `[${parts.join(',')}]`;
}

function flatList(data: JsonTensorData, start: number, count: number): string {
  if (count === 0) return '[]';
  if (isFloatArray(data)) return floatList(data, start, count);
  // Integers (and bigints) print the same in both languages.
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    let out = `[${String(data[start])}`;
    for (let i = 1; i < count; i++) out += `,${String(data[start + i])}`;
    return `${out}]`;
  }
  return JSON.stringify(Array.from(data.subarray(start, start + count)));
}

function nestedList(data: JsonTensorData, shape: readonly number[], dim: number, start: number): string {
  const size = shape[dim] as number;
  if (dim === shape.length - 1) return flatList(data, start, size);
  const inner = shape.slice(dim + 1).reduce((n, d) => n * d, 1);
  let out = '[';
  for (let i = 0; i < size; i++) {
    if (i > 0) out += ',';
    out += nestedList(data, shape, dim + 1, start + i * inner);
  }
  return `${out}]`;
}

function tensorJson(t: JsonTensor): string {
  if (t.shape.length === 0) return isFloatArray(t.data) ? pythonFloat(t.data[0] as number) : String(t.data[0]);
  return nestedList(t.data, t.shape, 0, 0);
}

/**
 * JSON text for `value`, as `JSON.stringify(value)` but with float typed arrays and
 * {@link JsonTensor}s written in Python's float style, integer typed arrays as lists of integers
 * (JSON.stringify writes typed arrays as objects) and bigints as integers. Everything else
 * follows JSON.stringify (`toJSON`, skipped `undefined`/functions, `null` for non-finite numbers).
 */
export function toPythonJson(value: unknown): string {
  return write(value, '') ?? 'null';
}

function write(value: unknown, key: string): string | undefined {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'number':
      return JSON.stringify(value);
    case 'bigint':
      return value.toString();
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    case 'object':
      break;
  }
  if (value instanceof JsonTensor) return tensorJson(value);
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const data = value as unknown as JsonTensorData;
    return flatList(data, 0, data.length);
  }
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      out += write(value[i], String(i)) ?? 'null';
    }
    return `${out}]`;
  }
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return write((toJSON as (k: string) => unknown).call(value, key), key);
  let out = '{';
  let first = true;
  for (const k of Object.keys(value)) {
    const v = write((value as Record<string, unknown>)[k], k);
    if (v === undefined) continue;
    out += `${first ? '' : ','}${JSON.stringify(k)}:${v}`;
    first = false;
  }
  return `${out}}`;
}
