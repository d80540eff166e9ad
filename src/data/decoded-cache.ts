/**
 * On-disk cache of decoded samples (images today): decoding thousands of files costs far more
 * than reading one array back, so a second run over the same folder reads the cache. The key
 * hashes everything the decoded bytes depend on (files with sizes and modification times,
 * decode settings); a changed file is a new key. Stored as .npz (npz.ts): `x` uint8 [n, per]
 * and `ok` uint8 [n] (0 = the file could not be decoded).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { readNpz, writeNpz } from './npz.ts';

/** Bump when the decoded representation changes, so old cache files are never read. */
const CACHE_VERSION = 1;

export interface DecodedBatch {
  /** Decoded samples, `per` bytes each, in file order. */
  x: Uint8Array;
  /** 1 where the file decoded, 0 where it was corrupt or unreadable. */
  ok: Uint8Array;
}

export function cacheKey(kind: string, parts: unknown): string {
  const h = createHash('sha256').update(JSON.stringify({ v: CACHE_VERSION, kind, parts }));
  return `${kind}-${h.digest('hex').slice(0, 32)}`;
}

export function readDecodedCache(dir: string, key: string, n: number, per: number): DecodedBatch | undefined {
  const path = join(dir, `${key}.npz`);
  if (!existsSync(path)) return undefined;
  try {
    const a = readNpz(path);
    const x = a.x;
    const ok = a.ok;
    if (!x || !ok || x.dtype !== 'uint8' || ok.dtype !== 'uint8') return undefined;
    if (x.shape.join(',') !== `${n},${per}` || ok.shape.join(',') !== `${n}`) return undefined;
    return { x: x.data as Uint8Array, ok: ok.data as Uint8Array };
  } catch {
    return undefined; // a damaged cache file is rebuilt, never fatal
  }
}

export function writeDecodedCache(dir: string, key: string, batch: DecodedBatch, per: number): void {
  mkdirSync(dir, { recursive: true });
  const n = batch.ok.length;
  writeNpz(join(dir, `${key}.npz`), {
    x: { dtype: 'uint8', shape: [n, per], data: batch.x },
    ok: { dtype: 'uint8', shape: [n], data: batch.ok },
  });
}
