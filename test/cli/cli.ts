/** Spawn the real CLI (`node bin/verge.js ...`) and collect its exit code and streams. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const VERGE_BIN = join(ROOT, 'bin', 'verge.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** With `timeoutMs`, a command still running then is killed (its code is then null). */
export function verge(args: string[], env: Record<string, string> = {}, timeoutMs?: number): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [VERGE_BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, VERGE_DEBUG: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Run tasks with at most `limit` in flight (the CLI is CPU-heavy to start; machines have 2 cores). */
export async function pool<T, R>(items: readonly T[], limit: number, f: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]!);
    }
  });
  await Promise.all(workers);
  return out;
}

/**
 * A secret in a 0600 file for the `--…-file` options (`--api-key-file`, `--enroll-token-file`):
 * a secret on argv makes verge print a warning line, which bad-input tests would count as a second
 * line. Removed when the test process exits.
 */
export function secretFile(secret: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'verge-secret-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'secret');
  writeFileSync(path, `${secret}\n`, { mode: 0o600 });
  return path;
}
