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

  async role(keyHash: string): Promise<Role | null> {
    const r = await first<{ role: Role }>(this.db, 'SELECT role FROM api_keys WHERE key_hash = ?', [keyHash]);
    return r?.role ?? null;
  }
}
