/**
 * Everything an agent keeps across restarts, in its data dir:
 *   agent.db              SQLite: identity (from enrollment), models being served, the deploy
 *                         generation applied, and the outbox (telemetry and acks not yet
 *                         acknowledged by the broker)
 *   artifacts/<sha>.onnx  verified model artifacts, content-addressed (a confidential model's is
 *                         its ciphertext: artifact-keys.ts opens it in memory)
 *   downloads/            partial downloads (<sha>.part), resumed by the next attempt
 * A restarted agent serves its last good models from here before it has talked to the cloud.
 */
import Database from 'better-sqlite3';
import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { VergeError } from '../errors.ts';
import { DiskReserve } from './disk-reserve.ts';
import type { EnrollResponse, KeyTrust } from '../protocol/index.ts';

export interface AgentIdentity {
  device_id: string;
  name: string;
  password: string;
  mqtt_url: string;
  cloud_url: string;
  signing_key: EnrollResponse['signing_key'];
  tags: Record<string, string>;
  enrolled_at: number;
  /** mTLS: the certificate the cloud issued at enrollment and this device's private key (PEM). */
  client_certificate?: string;
  client_key?: string;
  /**
   * Confidential artifacts: this device's X25519 private key (PKCS#8 PEM), generated at enrollment
   * or on the first start of an agent enrolled before; `registered` once the cloud holds its public key.
   */
  encryption_key?: string;
  encryption_key_registered?: boolean;
  /** The cloud said at enrollment that it sends telemetry receipts (EnrollResponse.telemetry_receipts). */
  telemetry_receipts?: boolean;
  /** Telemetry records per message the cloud said at enrollment it accepts (EnrollResponse.telemetry_batch). */
  telemetry_batch?: number;
}

/** A model the agent serves (or served last): enough to reload it offline and to report it. */
export interface ActiveModel {
  name: string;
  version: string;
  variant: string;
  sha256: string;
  deployment_id: string | null;
}

export interface OutboxRow {
  seq: number;
  id: string;
  topic: string;
  payload: Buffer;
  qos: 0 | 1;
  /** 1: a telemetry record that asked for a receipt: kept after the PUBACK until the cloud names it. */
  receipt: 0 | 1;
}

/** agent.db holds the device's credentials: readable by the agent's user only. */
const SECRET_FILE_MODE = 0o600;

function prepareStatements(db: Database.Database) {
  return {
    getKv: db.prepare('SELECT value FROM kv WHERE key = ?'),
    setKv: db.prepare(
      'INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
    ),
    enqueue: db.prepare(
      'INSERT OR IGNORE INTO outbox (id, topic, payload, qos, created_at, receipt) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    pending: db.prepare('SELECT seq, id, topic, payload, qos, receipt FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?'),
    delivered: db.prepare('DELETE FROM outbox WHERE seq = ?'),
    pendingCount: db.prepare('SELECT COUNT(*) AS n FROM outbox'),
  };
}

export class AgentStore {
  readonly db: Database.Database;
  readonly artifactsDir: string;
  readonly downloadsDir: string;
  /** Space released on SQLITE_FULL so the oldest telemetry can make room (disk-reserve.ts). */
  private readonly reserve: DiskReserve;

  constructor(readonly dataDir: string) {
    try {
      mkdirSync(dataDir, { recursive: true });
      this.artifactsDir = join(dataDir, 'artifacts');
      this.downloadsDir = join(dataDir, 'downloads');
      mkdirSync(this.artifactsDir, { recursive: true });
      mkdirSync(this.downloadsDir, { recursive: true });
      const file = join(dataDir, 'agent.db');
      this.db = new Database(file);
      // the device's broker password and keys are in here: owner only. SQLite gives the -wal and
      // -shm files it creates the database file's mode; existing ones (older agents) are fixed too
      for (const f of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(f)) chmodSync(f, SECRET_FILE_MODE);
    } catch (e) {
      throw new VergeError('E_FILE_UNREADABLE', `cannot open agent data dir ${dataDir}: ${(e as Error).message}`);
    }
    this.reserve = new DiskReserve(join(dataDir, 'disk-reserve'));
    this.db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode: a committed row survives a crash or kill of the agent (the WAL is in
    // the OS before commit returns); only a power cut can drop the last commits. FULL would
    // fsync every telemetry row (~8 ms each here).
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS active_models (
        name TEXT PRIMARY KEY, version TEXT NOT NULL, variant TEXT NOT NULL, sha256 TEXT NOT NULL,
        deployment_id TEXT, activated_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS model_history (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, version TEXT NOT NULL,
        variant TEXT NOT NULL, sha256 TEXT NOT NULL, deployment_id TEXT, activated_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS artifact_keys (sha256 TEXT PRIMARY KEY, wrapped TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, topic TEXT NOT NULL,
        payload BLOB NOT NULL, qos INTEGER NOT NULL, created_at INTEGER NOT NULL);
    `);
    // rows queued by an agent before telemetry receipts asked for none
    const outboxColumns = this.db.prepare('PRAGMA table_info(outbox)').all() as { name: string }[];
    if (!outboxColumns.some((c) => c.name === 'receipt'))
      this.db.exec('ALTER TABLE outbox ADD COLUMN receipt INTEGER NOT NULL DEFAULT 0');
    this.sql = prepareStatements(this.db);
  }

  /** The statements run per message (the outbox pump reads and deletes rows per record), compiled once. */
  private readonly sql: ReturnType<typeof prepareStatements>;

  private getKv(key: string): string | undefined {
    return (this.sql.getKv.get(key) as { value: string } | undefined)?.value;
  }

  private setKv(key: string, value: string): void {
    this.sql.setKv.run(key, value);
  }

  /** Whether `dataDir` holds an enrolled identity, without creating anything. */
  static peekIdentity(dataDir: string): boolean {
    const path = join(dataDir, 'agent.db');
    if (!existsSync(path)) return false;
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      return (
        !!db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'kv'").get() &&
        !!db.prepare("SELECT 1 FROM kv WHERE key = 'identity'").get()
      );
    } finally {
      db.close();
    }
  }

  identity(): AgentIdentity | undefined {
    const raw = this.getKv('identity');
    return raw ? (JSON.parse(raw) as AgentIdentity) : undefined;
  }

  saveIdentity(id: AgentIdentity): void {
    this.setKv('identity', JSON.stringify(id));
  }

  /** The signing keys this device trusts (protocol key-trust.ts KeyTrust); undefined until a key set was first applied. */
  keyTrust(): KeyTrust | undefined {
    const raw = this.getKv('signing_keys');
    return raw ? (JSON.parse(raw) as KeyTrust) : undefined;
  }

  saveKeyTrust(t: KeyTrust): void {
    this.setKv('signing_keys', JSON.stringify(t));
  }

  /** A confidential artifact's content key as the cloud wrapped it to this device (WrappedArtifactKey JSON). */
  wrappedKey(sha256: string): unknown {
    const r = this.db.prepare('SELECT wrapped FROM artifact_keys WHERE sha256 = ?').get(sha256) as
      { wrapped: string } | undefined;
    return r ? (JSON.parse(r.wrapped) as unknown) : undefined;
  }

  saveWrappedKey(sha256: string, wrapped: unknown): void {
    this.db
      .prepare(
        'INSERT INTO artifact_keys (sha256, wrapped) VALUES (?, ?) ON CONFLICT(sha256) DO UPDATE SET wrapped = excluded.wrapped',
      )
      .run(sha256, JSON.stringify(wrapped));
  }

  /** Highest deploy generation fully applied (retained re-deliveries of it are no-ops). */
  appliedGeneration(): number {
    return Number(this.getKv('generation') ?? -1);
  }

  setAppliedGeneration(g: number): void {
    this.setKv('generation', String(g));
  }

  activeModels(): ActiveModel[] {
    return this.db
      .prepare('SELECT name, version, variant, sha256, deployment_id FROM active_models ORDER BY name')
      .all() as ActiveModel[];
  }

  /** Record `m` as served; the one it replaces stays in history (and its artifact on disk) as the fallback. */
  activate(m: ActiveModel): void {
    const now = Date.now();
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO active_models (name, version, variant, sha256, deployment_id, activated_at) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT(name) DO UPDATE SET version = excluded.version, variant = excluded.variant, sha256 = excluded.sha256,
             deployment_id = excluded.deployment_id, activated_at = excluded.activated_at`,
        )
        .run(m.name, m.version, m.variant, m.sha256, m.deployment_id, now);
      this.db
        .prepare(
          'INSERT INTO model_history (name, version, variant, sha256, deployment_id, activated_at) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(m.name, m.version, m.variant, m.sha256, m.deployment_id, now);
    })();
  }

  deactivate(name: string): void {
    this.db.prepare('DELETE FROM active_models WHERE name = ?').run(name);
  }

  /** Earlier good models of `name`, newest first, excluding `exceptSha`. */
  previousModels(name: string, exceptSha?: string): ActiveModel[] {
    return this.db
      .prepare(
        `SELECT name, version, variant, sha256, deployment_id FROM model_history WHERE name = ? AND sha256 != ?
         GROUP BY sha256 ORDER BY MAX(seq) DESC`,
      )
      .all(name, exceptSha ?? '') as ActiveModel[];
  }

  artifactPath(sha256: string): string {
    return join(this.artifactsDir, `${sha256}.onnx`);
  }

  hasArtifact(sha256: string): boolean {
    return existsSync(this.artifactPath(sha256));
  }

  /** Move a verified download into the store. */
  storeArtifact(sha256: string, verifiedFile: string): string {
    const dest = this.artifactPath(sha256);
    renameSync(verifiedFile, dest);
    return dest;
  }

  dropArtifact(sha256: string): void {
    this.db.prepare('DELETE FROM artifact_keys WHERE sha256 = ?').run(sha256);
    try {
      unlinkSync(this.artifactPath(sha256));
    } catch {
      /* already gone */
    }
  }

  /**
   * Delete artifacts no longer needed: keep the active ones and, per model, the `keepPrevious`
   * most recent earlier ones (the rollback and corruption fallback).
   */
  collectGarbage(keepPrevious = 1): string[] {
    const keep = new Set<string>();
    for (const m of this.activeModels()) {
      keep.add(m.sha256);
      for (const p of this.previousModels(m.name, m.sha256).slice(0, keepPrevious)) keep.add(p.sha256);
    }
    const removed: string[] = [];
    for (const f of readdirSync(this.artifactsDir)) {
      const sha = f.replace(/\.onnx$/, '');
      if (f.endsWith('.onnx') && !keep.has(sha)) {
        this.dropArtifact(sha);
        removed.push(sha);
      }
    }
    return removed;
  }

  // ---- outbox: at-least-once delivery of telemetry and acks ------------------------------------

  /**
   * Queue a message. On a full disk (SQLITE_FULL: something else took the space) the reserve file
   * is released and the oldest queued telemetry deleted to make room — acks are kept, they settle
   * deployments — and the insert retried; when nothing can be freed the message itself is refused. Never throws SQLITE_FULL:
   * serving must not stop because telemetry cannot be kept.
   */
  enqueue(id: string, topic: string, payload: Buffer, qos: 0 | 1 = 1, receipt = false): EnqueueResult {
    const insert = () => this.sql.enqueue.run(id, topic, payload, qos, Date.now(), receipt ? 1 : 0);
    if (attempt(insert)) {
      this.reserve.take(); // once the disk has room again (at most once a minute)
      return { dropped: 0, refused: false };
    }
    // full: the reserve gives SQLite room to delete, then the oldest telemetry makes room
    this.reserve.release();
    let dropped = 0;
    attempt(() => {
      dropped = this.db
        .prepare(
          `DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE topic LIKE '%/telemetry' ORDER BY seq LIMIT ?)`,
        )
        .run(DISK_FULL_DROP_ROWS).changes;
    });
    return { dropped, refused: !(dropped > 0 && attempt(insert)) };
  }

  /** Oldest pending rows with seq > afterSeq. */
  pending(limit: number, afterSeq = 0): OutboxRow[] {
    return this.sql.pending.all(afterSeq, limit) as OutboxRow[];
  }

  delivered(seq: number): void {
    this.sql.delivered.run(seq);
  }

  /** Delete many delivered rows in one transaction. */
  deliveredMany(seqs: readonly number[]): void {
    const del = this.sql.delivered;
    this.db.transaction(() => {
      for (const s of seqs) del.run(s);
    })();
  }

  /**
   * Whether this device's cloud sends telemetry receipts: said at enrollment, or a receipt came.
   * Then a record no receipt named is sent again; otherwise (an older cloud) the PUBACK settles it.
   */
  cloudSendsReceipts(): boolean {
    return this.identity()?.telemetry_receipts === true || this.getKv('telemetry_receipts') === '1';
  }

  markCloudSendsReceipts(): void {
    if (this.getKv('telemetry_receipts') !== '1') this.setKv('telemetry_receipts', '1');
  }

  /**
   * Telemetry records per message this device's cloud accepts: as its last receipt said, else as
   * enrollment said; 1 (no batches) when neither did.
   */
  cloudTelemetryBatch(): number {
    const n = Number(this.getKv('telemetry_batch') ?? this.identity()?.telemetry_batch ?? 1);
    return Number.isSafeInteger(n) && n >= 1 ? n : 1;
  }

  markCloudTelemetryBatch(records: number): void {
    if (this.getKv('telemetry_batch') !== String(records)) this.setKv('telemetry_batch', String(records));
  }

  pendingCount(): number {
    return (this.sql.pendingCount.get() as { n: number }).n;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** What a full disk cost one enqueue: telemetry rows deleted to make room, and whether the message itself was refused. */
export interface EnqueueResult {
  dropped: number;
  refused: boolean;
}

/** Telemetry rows deleted at once when the disk is full: frees a few pages for the new row. */
const DISK_FULL_DROP_ROWS = 64;

/** Run a write; false when the disk is full (SQLITE_FULL), any other error is thrown. */
function attempt(write: () => void): boolean {
  try {
    write();
    return true;
  } catch (e) {
    if ((e as { code?: string }).code === 'SQLITE_FULL') return false;
    throw e;
  }
}
