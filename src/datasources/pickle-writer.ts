/**
 * Writes {@link PyValue}s as a protocol 4 pickle (what joblib writes), so the knowledge base can
 * hand a Python Sedna worker back its index after a status change. Objects become
 * `module.name` + NEWOBJ + BUILD with their state, exactly what Python's pickle writes for a plain
 * class; nothing else is referenced. Shared values are written once per reference (no memo), and a
 * value that contains itself is refused.
 */
import { SednaError } from '../common/errors.js';
import { PyDict, PyObject, PySet, PyTuple, type PyValue } from './pickle-values.js';

class Out {
  private chunks: Uint8Array[] = [];
  private buffer = new Uint8Array(4096);
  private used = 0;
  private readonly view = (): DataView => new DataView(this.buffer.buffer);

  byte(b: number): void {
    this.room(1);
    this.buffer[this.used++] = b;
  }

  bytes(data: Uint8Array): void {
    if (data.length > 1024) {
      this.flush();
      this.chunks.push(data);
      return;
    }
    this.room(data.length);
    this.buffer.set(data, this.used);
    this.used += data.length;
  }

  u32(n: number): void {
    this.room(4);
    this.view().setUint32(this.used, n, true);
    this.used += 4;
  }

  i32(n: number): void {
    this.room(4);
    this.view().setInt32(this.used, n, true);
    this.used += 4;
  }

  u16(n: number): void {
    this.room(2);
    this.view().setUint16(this.used, n, true);
    this.used += 2;
  }

  f64(n: number): void {
    this.room(8);
    this.view().setFloat64(this.used, n, false);
    this.used += 8;
  }

  finish(): Uint8Array {
    this.flush();
    return Buffer.concat(this.chunks);
  }

  private room(n: number): void {
    if (this.used + n <= this.buffer.length) return;
    this.flush();
    if (n > this.buffer.length) this.buffer = new Uint8Array(n);
  }

  private flush(): void {
    if (this.used === 0) return;
    this.chunks.push(this.buffer.slice(0, this.used));
    this.used = 0;
  }
}

const utf8 = new TextEncoder();

/** Two's complement little-endian bytes of `n`, as LONG1 wants them (shortest form). */
function longBytes(n: bigint): Uint8Array {
  const out: number[] = [];
  let v = n;
  for (;;) {
    const byte = Number(v & 0xffn);
    out.push(byte);
    v >>= 8n;
    if ((v === 0n && (byte & 0x80) === 0) || (v === -1n && (byte & 0x80) !== 0)) break;
  }
  return Uint8Array.from(out);
}

/** Serialises `value` as a protocol 4 pickle. Throws SEDNA_ERR_INVALID_ARGUMENT for a cycle. */
export function writePickle(value: PyValue): Uint8Array {
  const out = new Out();
  const onPath = new Set<object>();
  const str = (s: string): void => {
    const data = utf8.encode(s);
    if (data.length < 256) {
      out.byte(0x8c); // SHORT_BINUNICODE
      out.byte(data.length);
    } else {
      out.byte(0x58); // BINUNICODE
      out.u32(data.length);
    }
    out.bytes(data);
  };
  const int = (n: number | bigint): void => {
    if (typeof n === 'number' && n >= 0 && n < 256) {
      out.byte(0x4b);
      out.byte(n);
    } else if (typeof n === 'number' && n >= 0 && n < 65536) {
      out.byte(0x4d);
      out.u16(n);
    } else if (typeof n === 'number' && n >= -0x80000000 && n <= 0x7fffffff) {
      out.byte(0x4a);
      out.i32(n);
    } else {
      const bytes = longBytes(BigInt(n));
      out.byte(0x8a); // LONG1
      out.byte(bytes.length);
      out.bytes(bytes);
    }
  };
  const write = (v: PyValue): void => {
    if (v === null) {
      out.byte(0x4e);
      return;
    }
    if (v === true) {
      out.byte(0x88);
      return;
    }
    if (v === false) {
      out.byte(0x89);
      return;
    }
    if (typeof v === 'bigint') {
      int(v);
      return;
    }
    if (typeof v === 'number') {
      if (Number.isInteger(v) && !Object.is(v, -0) && Number.isSafeInteger(v)) {
        int(v);
        return;
      }
      out.byte(0x47); // BINFLOAT
      out.f64(v);
      return;
    }
    if (typeof v === 'string') {
      str(v);
      return;
    }
    if (v instanceof Uint8Array) {
      if (v.length < 256) {
        out.byte(0x43);
        out.byte(v.length);
      } else {
        out.byte(0x42);
        out.u32(v.length);
      }
      out.bytes(v);
      return;
    }
    if (onPath.has(v)) {
      throw new SednaError('SEDNA_ERR_INVALID_ARGUMENT', 'cannot pickle a value that contains itself');
    }
    onPath.add(v);
    try {
      if (Array.isArray(v)) {
        out.byte(0x5d); // EMPTY_LIST
        if (v.length > 0) {
          out.byte(0x28);
          for (const item of v) write(item);
          out.byte(0x65); // APPENDS
        }
      } else if (v instanceof PyTuple) {
        if (v.items.length === 0) out.byte(0x29);
        else {
          out.byte(0x28);
          for (const item of v.items) write(item);
          out.byte(0x74); // TUPLE
        }
      } else if (v instanceof PyDict) {
        out.byte(0x7d); // EMPTY_DICT
        if (v.entries.size > 0) {
          out.byte(0x28);
          for (const [key, item] of v.entries) {
            write(key);
            write(item);
          }
          out.byte(0x75); // SETITEMS
        }
      } else if (v instanceof PySet) {
        if (v.frozen) {
          out.byte(0x28);
          for (const item of v.items) write(item);
          out.byte(0x91); // FROZENSET
        } else {
          out.byte(0x8f); // EMPTY_SET
          if (v.items.length > 0) {
            out.byte(0x28);
            for (const item of v.items) write(item);
            out.byte(0x90); // ADDITEMS
          }
        }
      } else if (v instanceof PyObject) {
        str(v.module);
        str(v.name);
        out.byte(0x93); // STACK_GLOBAL
        out.byte(0x29); // EMPTY_TUPLE
        out.byte(0x81); // NEWOBJ
        if (v.state !== null) {
          write(v.state);
          out.byte(0x62); // BUILD
        }
      }
    } finally {
      onPath.delete(v);
    }
  };
  out.byte(0x80);
  out.byte(4); // PROTO 4
  write(value);
  out.byte(0x2e); // STOP
  return out.finish();
}
