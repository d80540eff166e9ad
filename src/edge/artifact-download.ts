/**
 * Artifact download over HTTP with resume. A partial download lives in `<sha256>.part`; the next
 * attempt (same process or a new one after a crash) asks for the rest with a Range header, hashes
 * the whole file, and only a file whose sha256 matches the expected digest is moved into place.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, renameSync, statfsSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { VergeError, fmtInt } from '../errors.ts';
import { errorInfo } from './http-error.ts';

export interface DownloadRequest {
  url: string;
  /** Expected sha256 of the whole artifact, lowercase hex. */
  sha256: string;
  /** Expected size in bytes, when known (lets a too-long partial file be discarded early). */
  bytes?: number;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** HTTP to the cloud (cloud-channel.ts: the agent's CA and client certificate); default: global fetch. */
  fetch?: typeof fetch;
  /** Called as bytes arrive (total = expected size when known). */
  onProgress?: (received: number, total: number | undefined) => void;
}

export interface DownloadResult {
  path: string;
  bytes: number;
  /** Bytes already on disk from an earlier, interrupted attempt (0 = fresh download). */
  resumedFrom: number;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;
/**
 * Free space a download must leave on the agent's disk: its database (identity, outbox, telemetry)
 * keeps working, so a model too large for the disk fails its deployment instead of the agent.
 */
export const DISK_RESERVE_BYTES = 8 * 1024 * 1024;

/** Bytes available to this process on the file system of `dir` (null when it cannot be told). */
function freeBytes(dir: string): number | null {
  try {
    const s = statfsSync(dir);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return null;
  }
}

async function hashFile(path: string): Promise<ReturnType<typeof createHash>> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h;
}

export async function sha256File(path: string): Promise<string> {
  return (await hashFile(path)).digest('hex');
}

/**
 * Download `req.url` into `dir/<sha256>.part`, resuming a partial file, and verify the digest.
 * Returns the path of the verified file `dir/<sha256>.download` (the caller checks the signature
 * and moves it into its store). Throws E_INTEGRITY when the digest does not match (the bad file is
 * deleted so the next attempt starts clean) and E_NETWORK when the server cannot be reached.
 */
export async function downloadArtifact(req: DownloadRequest, dir: string): Promise<DownloadResult> {
  try {
    return await downloadOnce(req, dir);
  } catch (e) {
    // a partial file left by an earlier attempt may itself be what is corrupt (a disk fault, a
    // server that changed mid-way): it was deleted, so one fresh download decides. Only a fresh
    // download that does not match is the artifact's fault (and final for the deployment)
    if (e instanceof VergeError && e.code === 'E_INTEGRITY' && (e as { resumed?: boolean }).resumed)
      return downloadOnce(req, dir);
    throw e;
  }
}

async function downloadOnce(req: DownloadRequest, dir: string): Promise<DownloadResult> {
  const sha = req.sha256.toLowerCase();
  if (!SHA256_HEX.test(sha))
    throw new VergeError('E_BAD_ARGUMENT', `artifact digest '${req.sha256}' is not a sha256 hex string`);
  const part = join(dir, `${sha}.part`);
  const done = join(dir, `${sha}.download`);
  let have = existsSync(part) ? statSync(part).size : 0;
  if (req.bytes !== undefined && have > req.bytes) {
    unlinkSync(part);
    have = 0;
  }
  if (req.bytes !== undefined) {
    // before the first byte: a disk filled by a download is what crashed the agent in a loop
    const free = freeBytes(dir);
    const missing = req.bytes - have;
    if (free !== null && free < missing + DISK_RESERVE_BYTES)
      throw new VergeError(
        'E_TOO_LARGE',
        `artifact ${sha.slice(0, 12)} needs ${fmtInt(missing)} more bytes in ${dir}, which has ${fmtInt(free)} free ` +
          `(${fmtInt(DISK_RESERVE_BYTES)} stay free for the agent's database); free space and the deployment is retried`,
      );
  }
  const resumedFrom = have;
  const headers: Record<string, string> = { ...(req.headers ?? {}) };
  if (have > 0) headers.range = `bytes=${have}-`;

  let res: Response;
  try {
    res = await (req.fetch ?? fetch)(req.url, { headers, signal: req.signal });
  } catch (e) {
    if (req.signal?.aborted) throw new VergeError('E_NETWORK', `download of ${req.url} aborted`);
    throw new VergeError(
      'E_NETWORK',
      `cannot download ${req.url}: ${(e as Error).cause ? String((e as Error & { cause: Error }).cause.message) : (e as Error).message}`,
    );
  }

  let append: boolean;
  if (res.status === 206) {
    const range = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '');
    if (!range || Number(range[1]) !== have) {
      await res.body?.cancel();
      unlinkSync(part);
      throw new VergeError(
        'E_NETWORK',
        `server answered ${req.url} with range '${res.headers.get('content-range')}' instead of bytes ${have}-; retry starts over`,
      );
    }
    append = true;
  } else if (res.status === 416 && have > 0) {
    // The partial file is already whole: the previous attempt died between the last byte and the rename.
    await res.body?.cancel();
    append = true;
  } else if (res.status === 200) {
    append = false; // server ignores ranges: start over
  } else {
    // the control plane re-hashes what it serves: a damaged stored artifact answers 500 E_INTEGRITY
    // (and is set aside, so a retry would only find 404): that is the artifact's integrity failing
    if ((await errorInfo(res))?.code === 'E_INTEGRITY')
      throw new VergeError('E_INTEGRITY', `the server refused ${req.url}: its stored copy does not match its digest`);
    const code = res.status === 401 || res.status === 403 ? 'E_AUTH' : res.status === 404 ? 'E_NOT_FOUND' : 'E_NETWORK';
    throw new VergeError(code, `download of ${req.url} failed: HTTP ${res.status}`);
  }

  const hash = append && have > 0 ? await hashFile(part) : createHash('sha256');
  let received = append ? have : 0;
  const total = req.bytes;
  if (res.status !== 416 && res.body) {
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        received += chunk.length;
        req.onProgress?.(received, total);
        if (total !== undefined && received > total) {
          cb(
            new VergeError(
              'E_INTEGRITY',
              `artifact ${sha.slice(0, 12)} is longer than the announced ${fmtInt(total)} bytes`,
            ),
          );
          return;
        }
        cb(null, chunk);
      },
    });
    try {
      await pipeline(
        Readable.fromWeb(res.body as import('node:stream/web').ReadableStream),
        counter,
        createWriteStream(part, { flags: append ? 'a' : 'w' }),
        { signal: req.signal },
      );
    } catch (e) {
      if (e instanceof VergeError) {
        safeUnlink(part);
        throw Object.assign(e, { resumed: resumedFrom > 0 });
      }
      // Keep the partial file: the next attempt resumes from it.
      throw new VergeError(
        'E_NETWORK',
        `download of ${req.url} interrupted after ${fmtInt(received)} bytes (${(e as Error).message}); it resumes on retry`,
      );
    }
  }
  const digest = hash.digest('hex');
  if (digest !== sha || (total !== undefined && received !== total)) {
    safeUnlink(part);
    throw Object.assign(
      new VergeError(
        'E_INTEGRITY',
        `artifact from ${req.url} is corrupt: sha256 ${digest.slice(0, 12)}…, ${fmtInt(received)} bytes; expected ${sha.slice(0, 12)}…${total !== undefined ? `, ${fmtInt(total)} bytes` : ''}`,
      ),
      { resumed: resumedFrom > 0 },
    );
  }
  renameSync(part, done);
  return { path: done, bytes: received, resumedFrom };
}

function safeUnlink(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* already gone */
  }
}
