/**
 * Content-addressed artifact store: `<data-dir>/artifacts/<aa>/<sha256>`. Uploads stream to a
 * temp file while hashing and are renamed into place, so a partial upload never appears.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { VergeError } from '../errors.ts';

export class ArtifactStore {
  readonly root: string;
  /** Artifacts whose bytes were hashed since this process started, by `size:mtime` of the file then. */
  private readonly verifiedAs = new Map<string, string>();
  constructor(dataDir: string) {
    this.root = join(dataDir, 'artifacts');
    mkdirSync(join(this.root, 'tmp'), { recursive: true });
  }

  pathOf(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new VergeError('E_BAD_ARGUMENT', `invalid sha256 '${sha256}'`);
    return join(this.root, sha256.slice(0, 2), sha256);
  }

  has(sha256: string): boolean {
    return existsSync(this.pathOf(sha256));
  }

  size(sha256: string): number {
    return statSync(this.pathOf(sha256)).size;
  }

  /** Store a stream; returns its sha256 and size. Idempotent for identical content. */
  async put(source: Readable): Promise<{ sha256: string; size: number }> {
    const tmp = join(this.root, 'tmp', `${process.pid}-${randomBytes(8).toString('hex')}`);
    const hash = createHash('sha256');
    let size = 0;
    source.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      size += chunk.length;
    });
    try {
      await pipeline(source, createWriteStream(tmp));
    } catch (e) {
      rmSync(tmp, { force: true });
      throw new VergeError('E_NETWORK', `artifact upload interrupted: ${(e as Error).message}`);
    }
    const sha256 = hash.digest('hex');
    const dest = this.pathOf(sha256);
    mkdirSync(join(this.root, sha256.slice(0, 2)), { recursive: true });
    renameSync(tmp, dest);
    return { sha256, size };
  }

  async putBytes(bytes: Uint8Array): Promise<{ sha256: string; size: number }> {
    const { Readable } = await import('node:stream');
    return this.put(Readable.from([Buffer.from(bytes)]));
  }

  /**
   * Whether the stored bytes still hash to their name: hashed once per process (and again when the
   * file's size or mtime changes), so an artifact altered or damaged on disk is never served. A
   * mismatching file is moved aside to `<sha256>.corrupt`: it then reads as missing.
   */
  async verify(sha256: string): Promise<boolean> {
    const path = this.pathOf(sha256);
    const st = statSync(path);
    const stamp = `${st.size}:${st.mtimeMs}`;
    if (this.verifiedAs.get(sha256) === stamp) return true;
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
    if (hash.digest('hex') === sha256) {
      this.verifiedAs.set(sha256, stamp);
      return true;
    }
    this.verifiedAs.delete(sha256);
    renameSync(path, `${path}.corrupt`);
    return false;
  }

  read(sha256: string, range?: { start: number; end: number }): Readable {
    return createReadStream(this.pathOf(sha256), range);
  }
}

/**
 * Parse a single `Range: bytes=a-b` / `bytes=a-` / `bytes=-n` header against a size.
 * Returns null for no/unsupported header (serve whole), 'unsatisfiable' for a bad range.
 */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | null | 'unsatisfiable' {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return null; // multi-range or other units: ignore, serve the whole body (RFC 9110 allows it)
  const [, a, b] = m;
  let start: number;
  let end: number;
  if (a === '' && b === '') return 'unsatisfiable';
  if (a === '') {
    start = Math.max(0, size - Number(b));
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}
