/**
 * Hostile archives for the archive tests and the robustness suite, made without writing their
 * content: a decompression bomb is a tar whose header declares `bytes` of zeros, compressed as
 * concatenated gzip members of one pre-compressed MiB (1 GiB declared costs ~1 MB and ~30 ms).
 */
import fsp from 'node:fs/promises';
import zlib from 'node:zlib';

/** A 512-byte ustar header. `type` '0' is a file, '2' a symbolic link, '5' a folder. */
export function tarHeader(name: string, size: number, type = '0', linkname = ''): Buffer {
  const h = Buffer.alloc(512);
  const field = (value: string, at: number, length: number): void => {
    h.write(value.slice(0, length), at, 'utf8');
  };
  const octal = (value: number, at: number, length: number): void => {
    field(value.toString(8).padStart(length - 1, '0'), at, length - 1);
  };
  field(name, 0, 100);
  octal(type === '5' ? 0o755 : 0o644, 100, 8);
  octal(0, 108, 8);
  octal(0, 116, 8);
  octal(size, 124, 12);
  octal(0, 136, 12);
  h.fill(' ', 148, 156); // checksum counts as spaces while it is computed
  h.write(type, 156);
  field(linkname, 157, 100);
  h.write('ustar\u000000', 257, 'latin1');
  let sum = 0;
  for (const b of h) sum += b;
  field(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8);
  return h;
}

const MIB = 1024 * 1024;

/** Writes a `.tar.gz` with one entry `name` declaring `bytes` of zeros (a multiple of 1 MiB). */
export async function writeTarBomb(file: string, bytes: number, name = 'zeros.bin'): Promise<number> {
  const member = zlib.gzipSync(Buffer.alloc(MIB), { level: 9 });
  const parts: Buffer[] = [zlib.gzipSync(tarHeader(name, bytes))];
  for (let i = 0; i < bytes / MIB; i++) parts.push(member);
  parts.push(zlib.gzipSync(Buffer.alloc(1024))); // the two zero blocks that end an archive
  const archive = Buffer.concat(parts);
  await fsp.writeFile(file, archive);
  return archive.length;
}

/** A `.tar.gz` of the given entries (headers made here, so links may point anywhere). */
export async function writeTarGz(
  file: string,
  entries: readonly { name: string; type?: '0' | '2' | '5'; linkname?: string; content?: string }[],
): Promise<void> {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.content ?? '');
    parts.push(tarHeader(e.name, body.length, e.type ?? '0', e.linkname ?? ''));
    if (body.length > 0) parts.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  await fsp.writeFile(file, zlib.gzipSync(Buffer.concat(parts)));
}
