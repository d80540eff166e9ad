/**
 * Logins of control-plane replicas on an external Mosquitto whose auth files verge writes. Each
 * replica has its own username (the broker makes it the client id: `use_username_as_clientid`),
 * so replicas never take over each other's session; every replica writes every account into the
 * password file, so files written by any replica agree.
 */
import type { SqlDatabase } from '../db/sql.ts';

export interface BrokerAccount {
  username: string;
  /** Mosquitto `$7$` hash of the replica's password. */
  password_hash: string;
}

export class BrokerAccountRepository {
  constructor(private readonly db: SqlDatabase) {}

  /** Register or refresh this replica's login. */
  async upsert(username: string, passwordHash: string): Promise<void> {
    await this.db.run(
      `INSERT INTO broker_accounts (username, password_hash, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash, updated_at = excluded.updated_at`,
      [username, passwordHash, Date.now()],
    );
  }

  /** Accounts refreshed since `since` (a replica gone for longer loses its login). */
  async active(since: number): Promise<BrokerAccount[]> {
    return this.db.all<BrokerAccount & Record<string, unknown>>(
      'SELECT username, password_hash FROM broker_accounts WHERE updated_at >= ? ORDER BY username',
      [since],
    );
  }
}
