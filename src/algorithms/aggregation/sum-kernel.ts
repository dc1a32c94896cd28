/**
 * The running sum behind FedAvg: `acc[i] += w[i] * n` over float64, with a check that `w` holds
 * no NaN or infinity, and the final `acc[i] / total`.
 *
 * Two interchangeable kernels give bit-identical results (IEEE float64 multiply, add and divide;
 * round-to-nearest float32 output):
 *
 * - `wasm-simd`: a WebAssembly module of about 17 KB (hand-assembled below, no toolchain needed) that
 *   processes two float32 lanes per f64x2 operation. The accumulator lives in the module's
 *   memory; each update is copied through a 256 KiB staging block (so the kernel never holds a
 *   second copy of a message) and checked for non-finite values block by block while the block
 *   is in cache. About 1.6× a plain JS loop here, close to memory bandwidth: a float64 sum must
 *   read 4 B and read+write 16 B per parameter per client.
 * - `js`: plain loops over a Float64Array; used for float64/integer tensors, and for everything
 *   when WebAssembly SIMD is unavailable or the memory cannot grow.
 */

/** Elements per staging block (256 KiB of float32). */
const BLOCK = 64 * 1024;
const STAGE_BYTES = BLOCK * 4;
/**
 * Updates summed in one pass by `addMany`/`finishMany`: the staging block is cut into this many
 * slots of {@link SLOT} elements, one per update, so a block of every update and the block of the
 * sum they go into (64 KiB) stay in the 2 MiB L2 cache together.
 */
export const MAX_BATCH = 8;
const SLOT = BLOCK / MAX_BATCH;
/** Elements per iteration of the multi-update passes: their blocks are cut to a multiple of it. */
const MANY_STEP = 8;
const SLOT_BYTES = SLOT * 4;
/** The block the multi-update passes write to (float64 sums, or float32 output), after the staging block. */
const OUT_BASE = STAGE_BYTES;
/** The float64 sum starts after the staging block and the output block. */
const ACC_BASE = STAGE_BYTES + SLOT * 8;
const PAGE = 65536;

/** The sum kernels: WebAssembly SIMD, or plain JavaScript (bit-identical results). */
export type KernelName = 'wasm-simd' | 'js';
export type SourceArray = Float32Array | Float64Array | Int32Array | Uint8Array | BigInt64Array;

/** A float64 accumulator of a fixed capacity with add/finish operations. */
export interface SumKernel {
  readonly name: KernelName;
  /** Makes room for `count` elements; contents are unspecified until assigned. */
  reserve(count: number): void;
  /**
   * `acc[offset + i] = (assign ? 0 : acc[offset + i]) + src[i] * scale`. Returns -1, or the
   * index of the first NaN/infinite value in `src`; then, in add mode, the region is restored to
   * what it was (to within one float64 rounding), and in assign mode it is left unspecified.
   */
  add(offset: number, src: SourceArray, scale: number, assign: boolean): number;
  /** `out[i] = acc[offset + i] / total` (float32 output rounds to nearest). */
  finish(offset: number, total: number, out: Float32Array | Float64Array): void;
  /** A view on the accumulator (valid until the next `reserve`). */
  view(offset: number, count: number): Float64Array;
  /**
   * `acc[offset + i] = (assign ? 0 : acc[offset + i]) + Σ_j sources[j][i] * scales[j]`, summed in
   * the order of `sources` (the same float64 operations as one `add` per source, so the same
   * bits), for at most {@link MAX_BATCH} sources of equal length. Returns, per source, -1 or the
   * index of its first NaN/infinite value; such a source is left out of the whole region (its
   * blocks already added are subtracted back, as `add` does), the others are summed. When every
   * source is bad in assign mode, the region is unspecified.
   */
  addMany(offset: number, sources: readonly Float32Array[], scales: readonly number[], assign: boolean): number[];
  /**
   * Optional fused last step: `out[i] = ((assign ? 0 : acc[offset + i]) + Σ_j sources[j][i] *
   * scales[j]) / total`, without writing the sum back (the same bits as `addMany` then `finish`).
   * Returns the same per-source result as `addMany`; when any source is bad, `out` is unspecified
   * and the accumulator untouched, and the caller takes the `addMany` path instead.
   */
  finishMany?(
    offset: number,
    sources: readonly Float32Array[],
    scales: readonly number[],
    assign: boolean,
    total: number,
    out: Float32Array,
  ): number[];
}

// JS loops over one range; each returns the first non-finite index, or -1 after writing. One
// function per array type keeps each loop monomorphic (a generic one runs ~2.5× slower in V8).

function addF32(
  acc: Float64Array,
  at: number,
  src: Float32Array,
  from: number,
  to: number,
  scale: number,
  assign: boolean,
): number {
  for (let i = from; i < to; i++) {
    const v = src[i] as number;
    if (v - v !== 0) return i;
  }
  if (assign) for (let i = from; i < to; i++) acc[at + i] = (src[i] as number) * scale;
  else for (let i = from; i < to; i++) acc[at + i] = (acc[at + i] as number) + (src[i] as number) * scale;
  return -1;
}

function addF64(
  acc: Float64Array,
  at: number,
  src: Float64Array,
  from: number,
  to: number,
  scale: number,
  assign: boolean,
): number {
  for (let i = from; i < to; i++) {
    const v = src[i] as number;
    if (v - v !== 0) return i;
  }
  if (assign) for (let i = from; i < to; i++) acc[at + i] = (src[i] as number) * scale;
  else for (let i = from; i < to; i++) acc[at + i] = (acc[at + i] as number) + (src[i] as number) * scale;
  return -1;
}

function addInt(
  acc: Float64Array,
  at: number,
  src: Int32Array | Uint8Array,
  from: number,
  to: number,
  scale: number,
  assign: boolean,
): number {
  if (assign) for (let i = from; i < to; i++) acc[at + i] = (src[i] as number) * scale;
  else for (let i = from; i < to; i++) acc[at + i] = (acc[at + i] as number) + (src[i] as number) * scale;
  return -1;
}

function addI64(
  acc: Float64Array,
  at: number,
  src: BigInt64Array,
  from: number,
  to: number,
  scale: number,
  assign: boolean,
): number {
  for (let i = from; i < to; i++) {
    const v = Number(src[i]) * scale;
    acc[at + i] = assign ? v : (acc[at + i] as number) + v;
  }
  return -1;
}

function jsAdd(
  acc: Float64Array,
  at: number,
  src: SourceArray,
  from: number,
  to: number,
  scale: number,
  assign: boolean,
): number {
  if (src instanceof Float32Array) return addF32(acc, at, src, from, to, scale, assign);
  if (src instanceof Float64Array) return addF64(acc, at, src, from, to, scale, assign);
  if (src instanceof BigInt64Array) return addI64(acc, at, src, from, to, scale, assign);
  return addInt(acc, at, src, from, to, scale, assign);
}

/** Adds in blocks, undoing the blocks already added when a later one holds a non-finite value. */
function blockedAdd(
  src: SourceArray,
  scale: number,
  assign: boolean,
  block: (from: number, to: number, scale: number, assign: boolean) => number,
): number {
  for (let from = 0; from < src.length; from += BLOCK) {
    const bad = block(from, Math.min(src.length, from + BLOCK), scale, assign);
    if (bad >= 0) {
      // (a + w·n) − w·n: w·n is exact in float64 for float32 w and n < 2^29, so this restores a to
      // within half an ulp. Assign mode needs no undo: the caller reassigns everything.
      if (!assign) for (let f = 0; f < from; f += BLOCK) block(f, Math.min(from, f + BLOCK), -scale, false);
      return bad;
    }
  }
  return -1;
}

/** `out[i] = acc[offset + i] / total`. */
function divide(acc: Float64Array, offset: number, total: number, out: Float32Array | Float64Array): void {
  for (let i = 0; i < out.length; i++) out[i] = (acc[offset + i] as number) / total;
}

class JsKernel implements SumKernel {
  readonly name = 'js' as const;
  private acc = new Float64Array(0);

  reserve(count: number): void {
    if (this.acc.length < count) this.acc = new Float64Array(count);
  }

  add(offset: number, src: SourceArray, scale: number, assign: boolean): number {
    return blockedAdd(src, scale, assign, (from, to, s, a) => jsAdd(this.acc, offset, src, from, to, s, a));
  }

  finish(offset: number, total: number, out: Float32Array | Float64Array): void {
    divide(this.acc, offset, total, out);
  }

  view(offset: number, count: number): Float64Array {
    return this.acc.subarray(offset, offset + count);
  }

  addMany(offset: number, sources: readonly Float32Array[], scales: readonly number[], assign: boolean): number[] {
    return addEach(this, offset, sources, scales, assign);
  }
}

/** `addMany` as one `add` per source: a bad source in assign mode leaves the region to the next. */
function addEach(
  kernel: SumKernel,
  offset: number,
  sources: readonly Float32Array[],
  scales: readonly number[],
  assign: boolean,
): number[] {
  let assigning = assign;
  return sources.map((src, j) => {
    const bad = kernel.add(offset, src, scales[j] as number, assigning);
    if (bad < 0) assigning = false;
    return bad;
  });
}

// ---------------------------------------------------------------------------------------------
// The WebAssembly module, assembled from opcodes (WebAssembly 2.0 with fixed-width SIMD).

const uleb = (value: number): number[] => {
  const out: number[] = [];
  let n = value >>> 0;
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
};
const sleb = (value: number): number[] => {
  const out: number[] = [];
  let n = value | 0;
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
};
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const sized = (bytes: number[]): number[] => [...uleb(bytes.length), ...bytes];
const section = (id: number, bytes: number[]): number[] => [id, ...sized(bytes)];
const I32 = 0x7f;
const F64 = 0x7c;
const V128 = 0x7b;
const simd = (op: number): number[] => [0xfd, ...uleb(op)];
const memarg = (offset = 0): number[] => [0, ...uleb(offset)]; // alignment hint 1 byte: any address works
const get = (i: number): number[] => [0x20, i];
const set = (i: number): number[] => [0x21, i];
const tee = (i: number): number[] => [0x22, i];
const i32c = (v: number): number[] => [0x41, ...sleb(v)];
const [ADD, SHL, GE_U, EQZ, BR, BR_IF, BLOCK_OP, LOOP, IF, ELSE, END, RETURN, VOID] = [
  0x6a, 0x74, 0x4f, 0x45, 0x0c, 0x0d, 0x02, 0x03, 0x04, 0x05, 0x0b, 0x0f, 0x40,
];
/** memory.copy (bulk memory), memory 0 to memory 0. */
const MEMORY_COPY = [0xfc, 0x0a, 0x00, 0x00];
const S = {
  load: 0x00,
  store: 0x0b,
  i32x4Splat: 0x11,
  f64x2Splat: 0x14,
  i32x4Eq: 0x37,
  and: 0x4e,
  or: 0x50,
  anyTrue: 0x53,
  store64Lane: 0x5b,
  load64Zero: 0x5d,
  demoteZero: 0x5e,
  promoteLow: 0x5f,
  f64x2Add: 0xf0,
  f64x2Sub: 0xf1,
  f64x2Mul: 0xf2,
  f64x2Div: 0xf3,
};

/** `while (i < end) { body; i += step }` over local `i`. */
const whileLoop = (i: number, end: number, step: number, body: number[]): number[] => [
  BLOCK_OP,
  VOID,
  LOOP,
  VOID,
  ...get(i),
  ...get(end),
  GE_U,
  BR_IF,
  1,
  ...body,
  ...get(i),
  ...i32c(step),
  ADD,
  ...set(i),
  BR,
  0,
  END,
  END,
];

// Pieces every function's prologue or loop repeats.
/** A function's locals after its parameters: `i32s` i32 locals, then `v128s` v128 locals. */
const locals = (i32s: number, v128s: number): number[] =>
  vec([
    [...uleb(i32s), I32],
    [...uleb(v128s), V128],
  ]);
/** `end = count * 4`: the byte length of `count` float32 values (loops run over float32 byte offsets). */
const float32Bytes = (count: number, end: number): number[] => [...get(count), ...i32c(2), SHL, ...set(end)];
/** `into = f64x2.splat(from)`. */
const splatF64 = (from: number, into: number): number[] => [...get(from), ...simd(S.f64x2Splat), ...set(into)];
/** `base + 2 * offset` on the stack: the float64 element's address for a float32 byte offset. */
const float64Address = (base: number, offset: number): number[] => [...get(base), ...get(offset), ...i32c(1), SHL, ADD];

// accumulate(acc, src, count, scale, add) -> i32: 1 (and nothing written) if src[0..count) holds a
// NaN/infinity, else acc[k] = (add ? acc[k] : 0) + f64(src[k]) * scale; count is a multiple of 4.
// Locals: 5 i (byte offset in src), 6 end, 7 bad, 8 scale×2, 9 exponent mask.
function accumulateBody(add: boolean): number[] {
  // Two f64x2 lanes per iteration: src bytes i..i+8 and i+8..i+16, acc bytes 2i..2i+16 and +16..+32.
  const half = (srcOffset: number, accOffset: number): number[] => [
    ...float64Address(0, 5),
    ...(add ? [...float64Address(0, 5), ...simd(S.load), ...memarg(accOffset)] : []),
    ...get(1),
    ...get(5),
    ADD,
    ...simd(S.load64Zero),
    ...memarg(srcOffset),
    ...simd(S.promoteLow),
    ...get(8),
    ...simd(S.f64x2Mul),
    ...(add ? simd(S.f64x2Add) : []),
    ...simd(S.store),
    ...memarg(accOffset),
  ];
  return whileLoop(5, 6, 16, [...half(0, 0), ...half(8, 16)]);
}
/**
 * Leaves 1 on the stack if src_f32[0..count) holds a NaN or ±infinity (exponent bits all ones),
 * else 0; `count` is a multiple of 4. The arguments are local indexes (i, end: i32; bad, mask: v128).
 */
function nonFiniteScan(l: { src: number; count: number; i: number; end: number; bad: number; mask: number }): number[] {
  return [
    ...float32Bytes(l.count, l.end),
    ...i32c(0x7f800000),
    ...simd(S.i32x4Splat),
    ...set(l.mask),
    ...whileLoop(l.i, l.end, 16, [
      ...get(l.src),
      ...get(l.i),
      ADD,
      ...simd(S.load),
      ...memarg(0),
      ...get(l.mask),
      ...simd(S.and),
      ...get(l.mask),
      ...simd(S.i32x4Eq),
      ...get(l.bad),
      ...simd(S.or),
      ...set(l.bad),
    ]),
    ...get(l.bad),
    ...simd(S.anyTrue),
  ];
}
const accumulateFn: number[] = [
  ...locals(2, 3),
  ...nonFiniteScan({ src: 1, count: 2, i: 5, end: 6, bad: 7, mask: 9 }),
  IF,
  VOID,
  ...i32c(1),
  RETURN,
  END,
  ...splatF64(3, 8),
  ...i32c(0),
  ...set(5),
  ...get(4),
  IF,
  VOID,
  ...accumulateBody(true),
  ELSE,
  ...accumulateBody(false),
  END,
  ...i32c(0),
  END,
];
// finish(acc, dst, count, total): dst_f32[k] = f32(acc[k] / total); count is a multiple of 2.
// Locals: 4 j (byte offset in dst), 5 end, 6 total×2.
const finishFn: number[] = [
  ...locals(2, 1),
  ...float32Bytes(2, 5),
  ...splatF64(3, 6),
  ...whileLoop(4, 5, 8, [
    ...get(1),
    ...get(4),
    ADD,
    ...float64Address(0, 4),
    ...simd(S.load),
    ...memarg(0),
    ...get(6),
    ...simd(S.f64x2Div),
    ...simd(S.demoteZero),
    ...simd(S.store64Lane),
    ...memarg(0),
    0,
  ]),
  END,
];
// check(src, count) -> i32: 1 if src_f32[0..count) (at byte address src) holds a NaN/infinity;
// count is a multiple of 4. Locals: 2 i (byte offset), 3 end, 4 bad, 5 exponent mask.
const checkFn: number[] = [...locals(2, 2), ...nonFiniteScan({ src: 0, count: 1, i: 2, end: 3, bad: 4, mask: 5 }), END];

/**
 * sum<k>(acc, count, add, s_0 .. s_k-1) -> i32: v[e] = (add ? acc[e] + p_0 : p_0) + p_1 + ... with
 * p_j = f64(slot_j[e]) * s_j (slot j at byte SLOT_BYTES * j), into the temp block at OUT_BASE; then,
 * unless some v is NaN or infinite (returns 1: a source holds one), copied over acc. count is a
 * multiple of 8.
 * sum<k>out(acc, count, add, total, s_0 ..) -> i32: the same v divided by total, as float32 into the
 * output block at OUT_BASE; acc is not written.
 * The k slots are read in one pass, so the sum's block is loaded and stored once per k updates,
 * and the NaN check is one subtract-and-or per result (v - v is +0 exactly when v is finite)
 * instead of one per source value. Blocks are multiples of 8 elements (`MANY_STEP`).
 */
function sumManyFn(k: number, out: boolean): number[] {
  const scaleBase = out ? 4 : 3;
  const i = scaleBase + k;
  const end = i + 1;
  const v = end + 1;
  const bad = v + 1;
  const splat = (j: number): number => bad + 1 + j;
  const totalSplat = bad + 1 + k;
  const half = (h: number, add: boolean): number[] => {
    const products = Array.from({ length: k }, (_, j) => [
      ...get(i),
      ...simd(S.load64Zero),
      ...memarg(j * SLOT_BYTES + h),
      ...simd(S.promoteLow),
      ...get(splat(j)),
      ...simd(S.f64x2Mul),
      ...(add || j > 0 ? simd(S.f64x2Add) : []),
    ]).flat();
    const value = [
      ...(add ? [...float64Address(0, i), ...simd(S.load), ...memarg(2 * h)] : []),
      ...products,
      ...tee(v),
    ];
    const flag = [...get(bad), ...get(v), ...get(v), ...simd(S.f64x2Sub), ...simd(S.or), ...set(bad)];
    if (!out) return [...get(i), ...i32c(1), SHL, ...value, ...simd(S.store), ...memarg(OUT_BASE + 2 * h), ...flag];
    return [
      ...get(i),
      ...value,
      ...get(totalSplat),
      ...simd(S.f64x2Div),
      ...simd(S.demoteZero),
      ...simd(S.store64Lane),
      ...memarg(OUT_BASE + h),
      0,
      ...flag,
    ];
  };
  // Eight elements (four f64x2 sums) per iteration: each element's sum is a chain of k dependent
  // adds in a fixed order (so the bits equal one add per update), and four independent chains
  // keep the adder busy instead of waiting on one chain's latency.
  const loop = (add: boolean): number[] =>
    whileLoop(i, end, 32, [...half(0, add), ...half(8, add), ...half(16, add), ...half(24, add)]);
  const copyBack = [
    ...get(bad),
    ...simd(S.anyTrue),
    EQZ,
    IF,
    VOID,
    ...get(0),
    ...i32c(OUT_BASE),
    ...get(1),
    ...i32c(3),
    SHL,
    ...MEMORY_COPY,
    END,
  ];
  return [
    ...locals(2, 2 + k + (out ? 1 : 0)),
    ...float32Bytes(1, end),
    ...Array.from({ length: k }, (_, j) => splatF64(scaleBase + j, splat(j))).flat(),
    ...(out ? splatF64(3, totalSplat) : []),
    ...get(2),
    IF,
    VOID,
    ...loop(true),
    ELSE,
    ...loop(false),
    END,
    ...(out ? [] : copyBack),
    ...get(bad),
    ...simd(S.anyTrue),
    END,
  ];
}
const BATCH_SIZES = Array.from({ length: MAX_BATCH }, (_, j) => j + 1);
const sumType = (k: number, out: boolean): number[] => [
  0x60,
  ...vec([[I32], [I32], [I32], ...Array.from({ length: k + (out ? 1 : 0) }, () => [F64])]),
  ...vec([[I32]]),
];

const name = (text: string): number[] => vec(Array.from(new TextEncoder().encode(text), (byte) => [byte]));

/** The module's bytes (exported for tests). */
export const SUM_KERNEL_WASM = new Uint8Array([
  0x00,
  0x61,
  0x73,
  0x6d,
  0x01,
  0x00,
  0x00,
  0x00,
  ...section(
    1,
    vec([
      [0x60, ...vec([[I32], [I32], [I32], [F64], [I32]]), ...vec([[I32]])],
      [0x60, ...vec([[I32], [I32], [I32], [F64]]), ...vec([])],
      [0x60, ...vec([[I32], [I32]]), ...vec([[I32]])],
      ...BATCH_SIZES.map((k) => sumType(k, false)),
      ...BATCH_SIZES.map((k) => sumType(k, true)),
    ]),
  ),
  // Function j has type j: accumulate, finish, check, sum1..sumN, sum1out..sumNout.
  ...section(3, vec(Array.from({ length: 3 + 2 * MAX_BATCH }, (_, j) => uleb(j)))),
  // The staging and output blocks; the sum grows it.
  ...section(5, vec([[0x00, ...uleb(Math.ceil(ACC_BASE / PAGE))]])),
  ...section(
    7,
    vec([
      [...name('memory'), 0x02, 0],
      [...name('accumulate'), 0x00, 0],
      [...name('finish'), 0x00, 1],
      [...name('check'), 0x00, 2],
      ...BATCH_SIZES.map((k) => [...name(`sum${k}`), 0x00, ...uleb(2 + k)]),
      ...BATCH_SIZES.map((k) => [...name(`sum${k}out`), 0x00, ...uleb(2 + MAX_BATCH + k)]),
    ]),
  ),
  ...section(
    10,
    vec([
      sized(accumulateFn),
      sized(finishFn),
      sized(checkFn),
      ...BATCH_SIZES.map((k) => sized(sumManyFn(k, false))),
      ...BATCH_SIZES.map((k) => sized(sumManyFn(k, true))),
    ]),
  ),
]);

// The project's `lib` has no DOM, where TypeScript declares WebAssembly: the few parts used here.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
type WasmModule = object;
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule) => { readonly exports: unknown };
}
const WASM = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

interface KernelExports {
  memory: WasmMemory;
  // Properties, not methods: the exports are plain functions, safe to call detached.
  accumulate: (acc: number, src: number, count: number, scale: number, add: number) => number;
  finish: (acc: number, dst: number, count: number, total: number) => void;
  check: (src: number, count: number) => number;
}
/** `sum<k>` and `sum<k>out`: (acc, count, add, [total,] scale_0 .. scale_k-1) -> 1 if a source value is not finite. */
type SumFn = (acc: number, count: number, add: number, ...numbers: number[]) => number;

let compiled: WasmModule | null | undefined;

function wasmModule(): WasmModule | null {
  if (compiled === undefined) {
    try {
      compiled = WASM?.validate(SUM_KERNEL_WASM) === true ? new WASM.Module(SUM_KERNEL_WASM) : null;
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

class WasmKernel implements SumKernel {
  readonly name = 'wasm-simd' as const;
  private readonly exports: KernelExports;
  private capacity = 0;
  private acc = new Float64Array(0);
  private stage = new Float32Array(0);
  private outBlock = new Float32Array(0);
  /** `sums[k]`, `sumOuts[k]`: the k-update passes. */
  private readonly sums: SumFn[];
  private readonly sumOuts: SumFn[];

  constructor(api: WasmApi, module: WasmModule) {
    const exports = new api.Instance(module).exports;
    this.exports = exports as KernelExports;
    const fns = exports as Readonly<Record<string, SumFn>>;
    this.sums = BATCH_SIZES.map((k) => fns[`sum${k}`] as SumFn);
    this.sumOuts = BATCH_SIZES.map((k) => fns[`sum${k}out`] as SumFn);
    this.remap();
  }

  /** Views go stale when the memory grows. */
  private remap(): void {
    const buffer = this.exports.memory.buffer;
    this.stage = new Float32Array(buffer, 0, BLOCK);
    this.outBlock = new Float32Array(buffer, OUT_BASE, SLOT);
    this.acc = new Float64Array(buffer, ACC_BASE, this.capacity);
  }

  reserve(count: number): void {
    if (count <= this.capacity) return;
    const needed = Math.ceil((ACC_BASE + count * 8) / PAGE);
    const have = this.exports.memory.buffer.byteLength / PAGE;
    if (needed > have) this.exports.memory.grow(needed - have); // RangeError past the engine's limit
    this.capacity = count;
    this.remap();
  }

  add(offset: number, src: SourceArray, scale: number, assign: boolean): number {
    if (!(src instanceof Float32Array)) {
      return blockedAdd(src, scale, assign, (from, to, s, a) => jsAdd(this.acc, offset, src, from, to, s, a));
    }
    const { accumulate } = this.exports;
    const stage = this.stage;
    return blockedAdd(src, scale, assign, (from, to, s, a) => {
      const main = (to - from) & ~3;
      // The tail first: it is checked before anything of this block is written.
      const bad = jsAdd(this.acc, offset, src, from + main, to, s, a);
      if (bad >= 0) return bad;
      if (main === 0) return -1;
      stage.set(src.subarray(from, from + main));
      if (accumulate(ACC_BASE + (offset + from) * 8, 0, main, s, a ? 0 : 1) === 0) return -1;
      if (!a) jsAdd(this.acc, offset, src, from + main, to, -s, false); // undo the tail
      const at = WasmKernel.firstNonFinite(src, from, from + main);
      return at >= 0 ? at : from; // `from` unreachable: the kernel and the scan agree on what is finite
    });
  }

  finish(offset: number, total: number, out: Float32Array | Float64Array): void {
    if (!(out instanceof Float32Array)) {
      divide(this.acc, offset, total, out);
      return;
    }
    const { finish } = this.exports;
    for (let from = 0; from < out.length; from += BLOCK) {
      const count = Math.min(BLOCK, out.length - from);
      const main = count & ~1;
      if (main > 0) {
        finish(ACC_BASE + (offset + from) * 8, 0, main, total);
        out.set(this.stage.subarray(0, main), from);
      }
      if (main < count) out[from + main] = (this.acc[offset + from + main] as number) / total;
    }
  }

  /** Index of the first NaN/infinite value of `src[from, to)`, or -1. */
  private static firstNonFinite(src: Float32Array, from: number, to: number): number {
    for (let i = from; i < to; i++) if ((src[i] as number) - (src[i] as number) !== 0) return i;
    return -1;
  }

  /** Copies `src[from, from + count)` into staging slot `slot`. */
  private stageBlock(src: Float32Array, from: number, count: number, slot: number): void {
    this.stage.set(src.subarray(from, from + count), slot * SLOT);
  }

  /** The sum of the sources at element `i` (the block tails), in source order, as the kernel computes it. */
  private tailSum(
    i: number,
    at: number,
    sources: readonly Float32Array[],
    active: readonly number[],
    scales: readonly number[],
    assign: boolean,
  ): number {
    let v = assign ? 0 : (this.acc[at + i] as number);
    active.forEach((j, n) => {
      const p = ((sources[j] as Float32Array)[i] as number) * (scales[j] as number);
      v = n === 0 && assign ? p : v + p;
    });
    return v;
  }

  addMany(offset: number, sources: readonly Float32Array[], scales: readonly number[], assign: boolean): number[] {
    if (sources.length <= 1) return addEach(this, offset, sources, scales, assign);
    if (sources.length > MAX_BATCH) throw new RangeError(`addMany takes at most ${MAX_BATCH} sources`);
    const bad = sources.map(() => -1);
    // A source found bad leaves the region: its blocks already added come back out (exact
    // products, so to within one float64 rounding), its later blocks are skipped.
    const drop = (j: number, at: number, from: number): void => {
      bad[j] = at;
      if (from > 0) jsAdd(this.acc, offset, sources[j] as Float32Array, 0, from, -(scales[j] as number), false);
    };
    let active = sources.map((_, j) => j);
    const length = (sources[0] as Float32Array).length;
    for (let from = 0; from < length && active.length > 0; from += SLOT) {
      const to = Math.min(length, from + SLOT);
      const main = (to - from) & ~(MANY_STEP - 1);
      active = active.filter((j) => {
        const at = WasmKernel.firstNonFinite(sources[j] as Float32Array, from + main, to);
        if (at >= 0) drop(j, at, from);
        return at < 0;
      });
      if (main > 0 && active.length > 0) {
        const pass = (): number => {
          active.forEach((j, slot) => {
            this.stageBlock(sources[j] as Float32Array, from, main, slot);
          });
          const sum = this.sums[active.length - 1] as SumFn;
          return sum(ACC_BASE + (offset + from) * 8, main, assign ? 0 : 1, ...active.map((j) => scales[j] as number));
        };
        // A bad value anywhere in the block: nothing was written; find its sources and sum again.
        if (pass() !== 0) {
          active = active.filter((j) => {
            const at = WasmKernel.firstNonFinite(sources[j] as Float32Array, from, from + main);
            if (at >= 0) drop(j, at, from);
            return at < 0;
          });
          if (active.length > 0) pass();
        }
      }
      for (let i = from + main; i < to; i++)
        this.acc[offset + i] = this.tailSum(i, offset, sources, active, scales, assign);
    }
    return bad;
  }

  finishMany(
    offset: number,
    sources: readonly Float32Array[],
    scales: readonly number[],
    assign: boolean,
    total: number,
    out: Float32Array,
  ): number[] {
    if (sources.length > MAX_BATCH) throw new RangeError(`finishMany takes at most ${MAX_BATCH} sources`);
    const bad = sources.map(() => -1);
    const all = sources.map((_, j) => j);
    const sumOut = this.sumOuts[sources.length - 1] as SumFn;
    const findBad = (from: number, to: number): number[] => {
      sources.forEach((src, j) => (bad[j] = WasmKernel.firstNonFinite(src, from, to)));
      return bad;
    };
    for (let from = 0; from < out.length; from += SLOT) {
      const to = Math.min(out.length, from + SLOT);
      const main = (to - from) & ~(MANY_STEP - 1);
      if (main > 0) {
        sources.forEach((src, j) => {
          this.stageBlock(src, from, main, j);
        });
        if (sumOut(ACC_BASE + (offset + from) * 8, main, assign ? 0 : 1, total, ...scales) !== 0)
          return findBad(from, from + main);
        out.set(this.outBlock.subarray(0, main), from);
      }
      for (let i = from + main; i < to; i++) {
        const v = this.tailSum(i, offset, sources, all, scales, assign);
        if (v - v !== 0) return findBad(from + main, to);
        out[i] = v / total;
      }
    }
    return bad;
  }

  view(offset: number, count: number): Float64Array {
    return this.acc.subarray(offset, offset + count);
  }
}

/** Which kernels this runtime can run. */
export function availableKernels(): KernelName[] {
  return wasmModule() === null ? ['js'] : ['wasm-simd', 'js'];
}

/** A new kernel: WebAssembly SIMD when available (or asked for), else JS. */
export function createSumKernel(preference: KernelName | 'auto' = 'auto'): SumKernel {
  if (preference === 'js') return new JsKernel();
  const module = wasmModule();
  if (module === null || WASM === undefined) {
    if (preference === 'wasm-simd') throw new Error('WebAssembly SIMD is not available in this runtime');
    return new JsKernel();
  }
  return new WasmKernel(WASM, module);
}

/** Falls back to the JS kernel when the WebAssembly memory cannot grow to `count` elements. */
export function reserveOrFallback(kernel: SumKernel, count: number): SumKernel {
  try {
    kernel.reserve(count);
    return kernel;
  } catch (err) {
    if (kernel.name === 'js' || !(err instanceof RangeError)) throw err;
    const js = new JsKernel();
    js.reserve(count);
    return js;
  }
}
