/**
 * NumPy .npz archives: a zip of `<name>.npy` members (numpy.savez stores them, savez_compressed
 * deflates them). Zip handling is fflate's; members are .npy (npy.ts).
 */
import { readFileSync } from 'node:fs';
import { unzipSync, zipSync, type UnzipFileInfo, type Zippable } from 'fflate';
import { VergeError, fmtInt } from '../errors.ts';
import { writeFileAtomic } from '../onnx/index.ts';
import { encodeNpy, parseNpy, type NdArray } from './npy.ts';

const ZIP_MAGIC = [0x50, 0x4b]; // "PK"
/**
 * Deflate's largest expansion: 258 bytes per 2-bit code (RFC 1951), i.e. ~1032:1. A member whose
 * declared size exceeds its compressed size by more cannot be honest.
 */
const MAX_DEFLATE_RATIO = 1032;
/** Largest member: the largest typed array V8 makes on every platform (2^31 - 1 bytes). */
export const MAX_NPZ_MEMBER_BYTES = 2 ** 31 - 1;
const ZIP_STORED = 0;

/**
 * fflate allocates each member's output from the size its header declares, before inflating: a
 * 221-byte archive declaring 4 GB allocated 4 GB. Check the declared sizes first.
 */
function checkMemberSize(f: UnzipFileInfo, source: string): boolean {
  const limit =
    f.compression === ZIP_STORED ? f.size : Math.min(MAX_NPZ_MEMBER_BYTES, f.size * MAX_DEFLATE_RATIO + 1024);
  if (f.originalSize > limit)
    throw new VergeError(
      'E_DATA_INVALID',
      `${source}: member ${f.name} declares ${fmtInt(f.originalSize)} bytes from ${fmtInt(f.size)} compressed; at most ${fmtInt(limit)} are possible`,
    );
  return true;
}

export function isNpz(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === ZIP_MAGIC[0] && bytes[1] === ZIP_MAGIC[1];
}

/** Parse .npz bytes into arrays by name (the member name without `.npy`). */
export function parseNpz(bytes: Uint8Array, source = 'arrays.npz'): Record<string, NdArray> {
  if (!isNpz(bytes)) throw new VergeError('E_DATA_INVALID', `${source} is not an .npz (zip) archive`);
  let members: Record<string, Uint8Array>;
  try {
    members = unzipSync(bytes, { filter: (f) => checkMemberSize(f, source) });
  } catch (e) {
    if (e instanceof VergeError) throw e;
    throw new VergeError('E_DATA_INVALID', `${source} is a damaged or truncated zip archive (${(e as Error).message})`);
  }
  const out: Record<string, NdArray> = {};
  for (const [member, data] of Object.entries(members)) {
    if (member.endsWith('/')) continue; // directory entries
    const name = member.replace(/\.npy$/, '');
    out[name] = parseNpy(data, `${source}:${member}`);
  }
  return out;
}

/** Encode arrays as .npz; `compress` deflates members like numpy.savez_compressed. */
export function encodeNpz(arrays: Record<string, NdArray>, compress = false): Uint8Array {
  const files: Zippable = {};
  for (const [name, arr] of Object.entries(arrays)) {
    if (!name || name.includes('/')) throw new VergeError('E_BAD_ARGUMENT', `'${name}' cannot name an .npz member`);
    files[`${name}.npy`] = [encodeNpy(arr), { level: compress ? 6 : 0 }];
  }
  return zipSync(files);
}

export function readNpz(path: string): Record<string, NdArray> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new VergeError('E_FILE_NOT_FOUND', `${path} does not exist`);
    throw new VergeError('E_FILE_UNREADABLE', `${path} cannot be read (${code ?? (e as Error).message})`);
  }
  return parseNpz(bytes, path);
}

/** Write atomically (temp file + rename). Returns the byte count. */
export function writeNpz(path: string, arrays: Record<string, NdArray>, compress = false): number {
  const bytes = encodeNpz(arrays, compress);
  writeFileAtomic(path, bytes);
  return bytes.length;
}
