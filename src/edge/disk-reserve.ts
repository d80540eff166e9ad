/**
 * A file holding a little disk space for the agent's database (finding 5 of issue 14). When
 * something else fills the disk, SQLite cannot even delete a row (in WAL mode a delete appends to
 * the WAL), so the agent could neither drop old telemetry nor queue new. Releasing this file first
 * gives it the room to drop the oldest telemetry and queue the newest; the space is taken back
 * once the disk has room again.
 */
import { existsSync, rmSync, statSync, writeFileSync } from 'node:fs';

/** Space held: room for the deletes and inserts of many telemetry windows (a row is ~1 KB). */
export const DISK_RESERVE_FILE_BYTES = 1 << 20;
/** After a release, wait this long before trying to take the space again. */
const RETAKE_MS = 60_000;

export class DiskReserve {
  private held: boolean;
  private triedAt = 0;

  constructor(
    private readonly path: string,
    private readonly bytes = DISK_RESERVE_FILE_BYTES,
  ) {
    this.held = existsSync(path) && statSync(path).size === bytes;
    if (!this.held) this.take(0);
  }

  /** Hold the space, if not held and not tried within RETAKE_MS; a disk without room just leaves it released. */
  take(now = Date.now()): void {
    if (this.held || now - this.triedAt < RETAKE_MS) return;
    this.triedAt = now;
    try {
      writeFileSync(this.path, Buffer.alloc(this.bytes), { mode: 0o600 });
      this.held = true;
    } catch {
      rmSync(this.path, { force: true });
    }
  }

  /** Give the space back to the disk; false when none was held. */
  release(): boolean {
    if (!this.held) return false;
    rmSync(this.path, { force: true });
    this.held = false;
    this.triedAt = Date.now();
    return true;
  }
}
