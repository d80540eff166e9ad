/** Operator API keys, stored as hashes (secrets.ts), each with a role. */
import type { Role } from '../../protocol/index.ts';
import { first, type SqlDatabase } from '../db/sql.ts';

export class ApiKeyRepository {
  constructor(private readonly db: SqlDatabase) {}

  async insert(keyHash: string, role: Role, name: string | null): Promise<void> {
    await this.db.run('INSERT INTO api_keys (key_hash, role, name, created_at) VALUES (?, ?, ?, ?)', [
      keyHash,
      role,
      name,
      Date.now(),
    ]);
  }

  /** Insert unless present (replicas starting together register the same admin key once). */
  async ensure(keyHash: string, role: Role, name: string | null): Promise<void> {
    await this.db.run(
      'INSERT INTO api_keys (key_hash, role, name, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (key_hash) DO NOTHING',
      [keyHash, role, name, Date.now()],
    );
  }

  /** Keys by id (the first API_KEY_ID_CHARS hex digits of their hash), oldest first. */
  async list(): Promise<{ key_hash: string; role: Role; name: string | null; created_at: number }[]> {
    const rows = await this.db.all<{ key_hash: string; role: Role; name: string | null; created_at: number }>(
      'SELECT key_hash, role, name, created_at FROM api_keys ORDER BY created_at, key_hash',
    );
    return rows.map((r) => ({ ...r, created_at: Number(r.created_at) }));
  }

  /** Delete the keys whose hash starts with `id`; returns how many. */
  async revoke(id: string): Promise<number> {
    const r = await this.db.run('DELETE FROM api_keys WHERE substr(key_hash, 1, ?) = ?', [id.length, id]);
    return r;
  }

  /** Delete keys registered under `name` other than `keepHash` (a replaced admin.key). */
  async revokeNamedExcept(name: string, keepHash: string): Promise<number> {
    const r = await this.db.run('DELETE FROM api_keys WHERE name = ? AND key_hash <> ?', [name, keepHash]);
    return r;
  }

  async role(keyHash: string): Promise<Role | null> {
    const r = await first<{ role: Role }>(this.db, 'SELECT role FROM api_keys WHERE key_hash = ?', [keyHash]);
    return r?.role ?? null;
  }
}
