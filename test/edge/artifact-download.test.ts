import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadArtifact } from '../../src/edge/artifact-download.ts';
import { seedCnnBytes, sha256 } from './models.ts';
import { startThrottledServer, type ThrottledServer } from './throttled-server.ts';

const artifact = seedCnnBytes();
const digest = sha256(artifact);
const tampered = Uint8Array.from(artifact);
tampered[1000] = tampered[1000]! ^ 0xff;

let server: ThrottledServer;
let dir: string;
beforeAll(async () => {
  server = await startThrottledServer({ '/a': artifact, '/tampered': tampered });
  dir = mkdtempSync(join(tmpdir(), 'verge-dl-'));
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('artifact download', () => {
  it('resumes with a Range request after the downloading process is SIGKILLed, and verifies', async () => {
    server.ranges.length = 0;
    server.throttle = { chunk: 8 * 1024, delayMs: 30 }; // ~60 chunks: several seconds to kill it in
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(import.meta.dirname, 'download-child.ts'),
        server.url('/a'),
        digest,
        dir,
        String(artifact.length),
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const part = join(dir, `${digest}.part`);
    const killedAt = await new Promise<number>((resolve, reject) => {
      const poll = setInterval(() => {
        const size = existsSync(part) ? statSync(part).size : 0;
        if (size >= 64 * 1024) {
          clearInterval(poll);
          child.kill('SIGKILL');
          resolve(size);
        }
      }, 10);
      child.on('exit', (code) => {
        clearInterval(poll);
        if (code !== null) reject(new Error(`child exited (${code}) before it could be killed`));
      });
    });
    await new Promise((r) => child.once('close', r));
    const left = statSync(part).size;
    expect(left).toBeGreaterThanOrEqual(killedAt);
    expect(left).toBeLessThan(artifact.length);

    server.throttle = { chunk: 64 * 1024, delayMs: 0 };
    const res = await downloadArtifact({ url: server.url('/a'), sha256: digest, bytes: artifact.length }, dir);
    expect(res.resumedFrom).toBe(left);
    expect(server.ranges.at(-1)).toBe(`bytes=${left}-`);
    expect(Buffer.compare(readFileSync(res.path), Buffer.from(artifact))).toBe(0);
    expect(existsSync(part)).toBe(false);
    rmSync(res.path);
  }, 30_000);

  it('resumes an aborted in-process download', async () => {
    server.throttle = { chunk: 8 * 1024, delayMs: 20 };
    const ac = new AbortController();
    const first = downloadArtifact(
      {
        url: server.url('/a'),
        sha256: digest,
        bytes: artifact.length,
        signal: ac.signal,
        onProgress: (n) => n > 100_000 && ac.abort(),
      },
      dir,
    );
    await expect(first).rejects.toMatchObject({ code: 'E_NETWORK' });
    server.throttle = { chunk: 64 * 1024, delayMs: 0 };
    const res = await downloadArtifact({ url: server.url('/a'), sha256: digest, bytes: artifact.length }, dir);
    expect(res.resumedFrom).toBeGreaterThan(50_000);
    expect(sha256(readFileSync(res.path))).toBe(digest);
    rmSync(res.path);
  });

  it('starts over when the server ignores Range', async () => {
    server.throttle = { chunk: 8 * 1024, delayMs: 20 };
    const ac = new AbortController();
    await downloadArtifact(
      { url: server.url('/a'), sha256: digest, signal: ac.signal, onProgress: (n) => n > 50_000 && ac.abort() },
      dir,
    ).catch(() => undefined);
    server.honorRange = false;
    server.throttle = { chunk: 64 * 1024, delayMs: 0 };
    try {
      const res = await downloadArtifact({ url: server.url('/a'), sha256: digest, bytes: artifact.length }, dir);
      expect(sha256(readFileSync(res.path))).toBe(digest);
      rmSync(res.path);
    } finally {
      server.honorRange = true;
    }
  });

  it('refuses a tampered artifact (E_INTEGRITY) and deletes it', async () => {
    server.throttle = { chunk: 64 * 1024, delayMs: 0 };
    await expect(
      downloadArtifact({ url: server.url('/tampered'), sha256: digest, bytes: artifact.length }, dir),
    ).rejects.toMatchObject({
      code: 'E_INTEGRITY',
    });
    expect(existsSync(join(dir, `${digest}.part`))).toBe(false);
    expect(existsSync(join(dir, `${digest}.download`))).toBe(false);
  });

  it('reports a missing artifact and an unreachable server with codes', async () => {
    await expect(downloadArtifact({ url: server.url('/missing'), sha256: digest }, dir)).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
    });
    await expect(downloadArtifact({ url: 'http://127.0.0.1:1/x', sha256: digest }, dir)).rejects.toMatchObject({
      code: 'E_NETWORK',
    });
  });
});
