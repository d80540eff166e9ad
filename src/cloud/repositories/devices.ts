/**
 * Devices and the enrollment tokens that create them (one aggregate: enrollment consumes a token
 * and creates the device in one transaction).
 */
import { VergeError } from '../../errors.ts';
import { isAssignedDeviceId, type DeviceProfile, type ServedModel } from '../../protocol/index.ts';
import { first, isUniqueViolation, jsonColumn, type SqlDatabase, type SqlExecutor } from '../db/sql.ts';

export interface DeviceRecord {
  id: string;
  name: string;
  secret_hash: string;
  tags: Record<string, string>;
  profile: DeviceProfile | null;
  presence: 'online' | 'offline';
  revoked_at: number | null;
  last_seen: number | null;
  models: ServedModel[];
  generation: number;
  enrolled_at: number;
  /** Password hash in the external broker's format (Mosquitto $7$), for generated auth files. */
  broker_hash: string | null;
}

export interface NewDevice {
  id: string;
  name: string;
  secretHash: string;
  brokerHash: string;
  profile: DeviceProfile;
  /** The device's X25519 public key (raw, base64) for confidential artifacts, when it sent one. */
  encryptionKey?: string;
}

export interface Heartbeat {
  id: string;
  profile: DeviceProfile;
  models: ServedModel[];
  at: number;
}

function toDevice(r: Record<string, unknown>): DeviceRecord {
  return {
    id: r.id as string,
    name: r.name as string,
    secret_hash: r.secret_hash as string,
    tags: jsonColumn(r.tags, {}),
    profile: jsonColumn(r.profile, null),
    presence: r.presence as 'online' | 'offline',
    revoked_at: (r.revoked_at as number | null) ?? null,
    last_seen: (r.last_seen as number | null) ?? null,
    models: jsonColumn(r.models, []),
    generation: Number(r.generation),
    enrolled_at: Number(r.enrolled_at),
    broker_hash: (r.broker_hash as string | null) ?? null,
  };
}

const HEARTBEAT_UPDATE =
  "UPDATE devices SET profile = ?, models = ?, last_seen = ?, presence = 'online' WHERE id = ? AND revoked_at IS NULL";

export class DeviceRepository {
  constructor(private readonly db: SqlDatabase) {}

  // ---- enrollment ----
  async insertEnrollToken(tokenHash: string, tags: Record<string, string>, expiresAt: number): Promise<void> {
    await this.db.run('INSERT INTO enroll_tokens (token_hash, tags, expires_at, created_at) VALUES (?, ?, ?, ?)', [
      tokenHash,
      JSON.stringify(tags),
      expiresAt,
      Date.now(),
    ]);
  }

  /**
   * Consume a token and create the device in one transaction: a token works exactly once, even
   * when two enrollments race on two replicas (the conditional UPDATE decides).
   */
  async enroll(tokenHash: string, device: NewDevice): Promise<DeviceRecord> {
    try {
      return await this.db.transaction((tx) => this.enrollIn(tx, tokenHash, device));
    } catch (e) {
      if (isUniqueViolation(e))
        throw new VergeError('E_CONFLICT', `a device named '${device.name}' is already enrolled`);
      throw e;
    }
  }

  private async enrollIn(tx: SqlExecutor, tokenHash: string, device: NewDevice): Promise<DeviceRecord> {
    const now = Date.now();
    const tok = await first<{ tags: string; used_at: number | null; expires_at: number }>(
      tx,
      'SELECT tags, used_at, expires_at FROM enroll_tokens WHERE token_hash = ?',
      [tokenHash],
    );
    if (!tok) throw new VergeError('E_AUTH', 'unknown enrollment token');
    if (tok.used_at !== null) throw new VergeError('E_AUTH', 'enrollment token already used');
    if (Number(tok.expires_at) <= now) throw new VergeError('E_AUTH', 'enrollment token expired');
    const taken = await first(tx, 'SELECT id FROM devices WHERE name = ?', [device.name]);
    if (taken) throw new VergeError('E_CONFLICT', `a device named '${device.name}' is already enrolled`);
    const changed = await tx.run(
      'UPDATE enroll_tokens SET used_at = ?, device_id = ? WHERE token_hash = ? AND used_at IS NULL',
      [now, device.id, tokenHash],
    );
    if (changed !== 1) throw new VergeError('E_AUTH', 'enrollment token already used');
    await tx.run(
      `INSERT INTO devices (id, name, secret_hash, tags, profile, presence, models, generation, enrolled_at, broker_hash)
       VALUES (?, ?, ?, ?, ?, 'offline', '[]', 0, ?, ?)`,
      [device.id, device.name, device.secretHash, tok.tags, JSON.stringify(device.profile), now, device.brokerHash],
    );
    if (device.encryptionKey)
      await tx.run('INSERT INTO device_encryption_keys (device_id, public_key, created_at) VALUES (?, ?, ?)', [
        device.id,
        device.encryptionKey,
        now,
      ]);
    return (await this.getWith(tx, device.id))!;
  }

  // ---- devices ----
  /** An id-shaped key names an id only; anything else names a name only (isAssignedDeviceId). */
  private async getWith(ex: SqlExecutor, idOrName: string): Promise<DeviceRecord | null> {
    const r = isAssignedDeviceId(idOrName)
      ? await first(ex, 'SELECT * FROM devices WHERE id = ?', [idOrName])
      : await first(ex, 'SELECT * FROM devices WHERE name = ?', [idOrName]);
    return r ? toDevice(r) : null;
  }

  /** By id, else by name. */
  get(idOrName: string): Promise<DeviceRecord | null> {
    return this.getWith(this.db, idOrName);
  }

  /**
   * What a login is checked against, by id only (a name never logs in): the password hash and the
   * revocation time, without decoding the row's JSON columns (one read per MQTT CONNECT).
   */
  async credentials(id: string): Promise<{ secret_hash: string; revoked_at: number | null } | null> {
    const r = await first<{ secret_hash: string; revoked_at: number | null }>(
      this.db,
      'SELECT secret_hash, revoked_at FROM devices WHERE id = ?',
      [id],
    );
    return r ? { secret_hash: r.secret_hash, revoked_at: r.revoked_at ?? null } : null;
  }

  async list(): Promise<DeviceRecord[]> {
    return (await this.db.all('SELECT * FROM devices ORDER BY name')).map(toDevice);
  }

  async revoke(id: string): Promise<void> {
    await this.db.run('UPDATE devices SET revoked_at = ?, presence = ? WHERE id = ? AND revoked_at IS NULL', [
      Date.now(),
      'offline',
      id,
    ]);
  }

  /** Many heartbeats in one transaction (they arrive from the whole fleet every few seconds). */
  async recordHeartbeats(beats: Heartbeat[]): Promise<void> {
    if (beats.length === 0) return;
    await this.db.transaction(async (tx) => {
      for (const b of beats)
        await tx.run(HEARTBEAT_UPDATE, [JSON.stringify(b.profile), JSON.stringify(b.models), b.at, b.id]);
    });
  }

  async recordPresence(id: string, presence: 'online' | 'offline', at: number): Promise<void> {
    await this.db.run('UPDATE devices SET presence = ?, last_seen = ? WHERE id = ? AND revoked_at IS NULL', [
      presence,
      at,
      id,
    ]);
  }

  /** Replace the entry for one model in what the device reports serving (a `loaded` ack is news before the next heartbeat). */
  async recordServedModel(id: string, served: ServedModel): Promise<void> {
    await this.db.transaction(async (tx) => {
      const r = await first<{ models: string }>(tx, 'SELECT models FROM devices WHERE id = ?', [id]);
      if (!r) return;
      const models = jsonColumn<ServedModel[]>(r.models, []).filter((m) => m.name !== served.name);
      models.push(served);
      await tx.run('UPDATE devices SET models = ? WHERE id = ?', [JSON.stringify(models), id]);
    });
  }

  /** The device's X25519 public key (raw, base64), or null when it registered none. */
  async encryptionKey(id: string): Promise<string | null> {
    const r = await first<{ public_key: string }>(
      this.db,
      'SELECT public_key FROM device_encryption_keys WHERE device_id = ?',
      [id],
    );
    return r?.public_key ?? null;
  }

  /**
   * Register the device's X25519 public key; the first registration wins (a stolen password cannot
   * replace the key content keys are wrapped to). False when the device already has another key.
   */
  async registerEncryptionKey(id: string, publicKey: string): Promise<boolean> {
    await this.db.run(
      'INSERT INTO device_encryption_keys (device_id, public_key, created_at) VALUES (?, ?, ?) ON CONFLICT (device_id) DO NOTHING',
      [id, publicKey, Date.now()],
    );
    return (await this.encryptionKey(id)) === publicKey;
  }

  /** Atomically bump and return the device's desired-state generation. */
  async nextGeneration(id: string): Promise<number> {
    const r = await first<{ generation: number }>(
      this.db,
      'UPDATE devices SET generation = generation + 1 WHERE id = ? RETURNING generation',
      [id],
    );
    return Number(r?.generation ?? 0);
  }
}
