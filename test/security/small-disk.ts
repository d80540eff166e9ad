/** A 16 MiB tmpfs for the disk-full attacks (disk-full, sqlite-full): mounting needs root. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The mount's path, or why it could not be mounted (the tests skip with it). */
export function smallDisk(prefix: string): { path: string; skip: string | null; unmount(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', path], { stdio: 'pipe' });
  } catch (e) {
    rmSync(path, { recursive: true, force: true });
    const why = String((e as { stderr?: Buffer }).stderr ?? e).trim();
    return { path, skip: `cannot mount a 16 MiB tmpfs (needs root): ${why}`, unmount: () => undefined };
  }
  return {
    path,
    skip: null,
    unmount() {
      execFileSync('umount', [path]);
      rmSync(path, { recursive: true, force: true });
    },
  };
}
