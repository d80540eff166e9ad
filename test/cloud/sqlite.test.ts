/**
 * SqliteDatabase's background WAL checkpointer: checkpoints happen off the main connection, and
 * when the checkpointer is gone the main connection checkpoints again at SQLite's default.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteDatabase } from '../../src/cloud/db/sqlite.ts';

const dir = mkdtempSync(join(tmpdir(), 'verge-sqlite-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Internals = { checkpointer: Worker | null; db: { pragma(s: string, o: { simple: true }): unknown } };
const autocheckpoint = (db: SqliteDatabase) =>
  (db as unknown as Internals).db.pragma('wal_autocheckpoint', { simple: true });

async function fill(db: SqliteDatabase, n: number): Promise<void> {
  await db.run('CREATE TABLE IF NOT EXISTS t (id TEXT PRIMARY KEY, v TEXT NOT NULL)');
  const rows = Array.from({ length: n }, (_, i) => [`${Math.random()}-${i}`, 'x'.repeat(200)]);
  const changes = await db.runEach('INSERT INTO t (id, v) VALUES (?, ?) ON CONFLICT (id) DO NOTHING', rows);
  expect(changes.every((c) => c === 1)).toBe(true);
  // the same rows again: runEach reports 0 changes for each
  expect(
    await db.runEach('INSERT INTO t (id, v) VALUES (?, ?) ON CONFLICT (id) DO NOTHING', rows.slice(0, 10)),
  ).toEqual(new Array(10).fill(0));
}

describe('SqliteDatabase WAL checkpoints', () => {
  it('are done by a background connection, not by commits on the main one', async () => {
    const path = join(dir, 'a.db');
    const db = new SqliteDatabase(path);
    try {
      expect(autocheckpoint(db)).toBe(20_000);
      await fill(db, 20_000); // ~5 MB of WAL: well past SQLite's default 1,000-page threshold
      const before = statSync(path).size;
      const until = Date.now() + 10_000;
      while (statSync(path).size <= before && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      expect(statSync(path).size).toBeGreaterThan(before + 1_000_000);
    } finally {
      await db.close();
    }
  });

  it('fall back to the main connection when the checkpointer is gone', async () => {
    const db = new SqliteDatabase(join(dir, 'b.db'));
    try {
      const worker = (db as unknown as Internals).checkpointer!;
      await worker.terminate();
      expect(autocheckpoint(db)).toBe(1000);
      await fill(db, 100);
    } finally {
      await db.close();
    }
  });
});
