/** The model registry's tables: uploaded artifacts, model versions and their variants. */
import { VergeError } from '../../errors.ts';
import type { LoadedMemory, ModelVariant, ModelVersion } from '../../protocol/index.ts';
import { first, jsonColumn, type SqlDatabase } from '../db/sql.ts';

export interface NewModelVersion {
  name: string;
  version: string;
  parent: string | null;
  optimization: string | null;
  metrics: Record<string, number>;
}

export class ModelRepository {
  constructor(private readonly db: SqlDatabase) {}

  async recordArtifact(sha256: string, size: number): Promise<void> {
    await this.db.run(
      'INSERT INTO artifacts (sha256, size, created_at) VALUES (?, ?, ?) ON CONFLICT (sha256) DO NOTHING',
      [sha256, size, Date.now()],
    );
  }

  async artifactSize(sha256: string): Promise<number | null> {
    const r = await first<{ size: number }>(this.db, 'SELECT size FROM artifacts WHERE sha256 = ?', [sha256]);
    return r ? Number(r.size) : null;
  }

  /** Keep the content key of an encrypted artifact (first one wins: a sha256 names one ciphertext). */
  async setContentKey(sha256: string, keyB64: string): Promise<void> {
    await this.db.run(
      'INSERT INTO artifact_keys (sha256, content_key, created_at) VALUES (?, ?, ?) ON CONFLICT (sha256) DO NOTHING',
      [sha256, keyB64, Date.now()],
    );
  }

  /** The content key (base64) of an encrypted artifact; null for a plain one. */
  async contentKey(sha256: string): Promise<string | null> {
    const r = await first<{ content_key: string }>(this.db, 'SELECT content_key FROM artifact_keys WHERE sha256 = ?', [
      sha256,
    ]);
    return r?.content_key ?? null;
  }

  /**
   * Keep the loaded memory measured for an artifact. The first measurement stays: a variant's record
   * does not change once devices may have chosen by it, and a re-measurement differs by noise.
   */
  async setLoadedMemory(sha256: string, loaded: LoadedMemory): Promise<void> {
    const sorted = [...loaded].sort((a, b) => a.batch - b.batch);
    await this.db.run(
      'INSERT INTO artifact_memory (sha256, loaded, created_at) VALUES (?, ?, ?) ON CONFLICT (sha256) DO NOTHING',
      [sha256, JSON.stringify(sorted), Date.now()],
    );
  }

  /** A new version, or the lineage a later variant's publish gives where the version had none. */
  async upsertVersion(v: NewModelVersion): Promise<void> {
    await this.db.run(
      `INSERT INTO model_versions (name, version, parent, optimization, metrics, created_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (name, version) DO UPDATE SET
         parent = COALESCE(model_versions.parent, excluded.parent),
         optimization = COALESCE(model_versions.optimization, excluded.optimization)`,
      [v.name, v.version, v.parent, v.optimization, JSON.stringify(v.metrics), Date.now()],
    );
  }

  /** Insert a variant; identical re-publish is a no-op, a different artifact under the same name is E_CONFLICT. */
  async insertVariant(name: string, version: string, v: Omit<ModelVariant, 'created_at' | 'url'>): Promise<void> {
    const existing = await first<{ sha256: string }>(
      this.db,
      'SELECT sha256 FROM model_variants WHERE name = ? AND version = ? AND variant = ?',
      [name, version, v.variant],
    );
    if (existing) {
      if (existing.sha256 === v.sha256) return;
      throw new VergeError(
        'E_CONFLICT',
        `${name}@${version} variant ${v.variant} already exists with a different artifact (versions are immutable)`,
      );
    }
    await this.db.run(
      `INSERT INTO model_variants (name, version, variant, precision, profile, sha256, size, signature, key_id, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name, version, variant) DO NOTHING`,
      [name, version, v.variant, v.precision, v.profile, v.sha256, v.size, v.signature, v.key_id, Date.now()],
    );
  }

  /**
   * Re-sign every variant not signed by `keyId` (after a key rotation), so versions published
   * before it verify with the new key — also on devices enrolled after it, which trust only that key.
   * Returns how many artifacts were re-signed.
   */
  async resignVariants(keyId: string, signatureOf: (sha256: string) => string): Promise<number> {
    const rows = await this.db.all<{ sha256: string }>('SELECT DISTINCT sha256 FROM model_variants WHERE key_id <> ?', [
      keyId,
    ]);
    for (const r of rows)
      await this.db.run('UPDATE model_variants SET signature = ?, key_id = ? WHERE sha256 = ? AND key_id <> ?', [
        signatureOf(r.sha256),
        keyId,
        r.sha256,
        keyId,
      ]);
    return rows.length;
  }

  /** Attach the version's optimize report; the same again is a no-op, a different one E_CONFLICT. */
  async setReport(name: string, version: string, sha256: string): Promise<void> {
    const existing = await first<{ sha256: string }>(
      this.db,
      'SELECT sha256 FROM model_reports WHERE name = ? AND version = ?',
      [name, version],
    );
    if (existing) {
      if (existing.sha256 === sha256) return;
      throw new VergeError(
        'E_CONFLICT',
        `${name}@${version} already has an optimize report (${existing.sha256.slice(0, 12)}…)`,
      );
    }
    await this.db.run('INSERT INTO model_reports (name, version, sha256) VALUES (?, ?, ?)', [name, version, sha256]);
  }

  async getVersion(name: string, version: string, artifactUrl: (sha: string) => string): Promise<ModelVersion | null> {
    const r = await first(this.db, 'SELECT * FROM model_versions WHERE name = ? AND version = ?', [name, version]);
    if (!r) return null;
    const variants = await this.db.all(
      `SELECT v.*, k.sha256 AS encrypted, m.loaded AS loaded FROM model_variants v
       LEFT JOIN artifact_keys k ON k.sha256 = v.sha256 LEFT JOIN artifact_memory m ON m.sha256 = v.sha256
       WHERE v.name = ? AND v.version = ? ORDER BY v.variant`,
      [name, version],
    );
    const report = await first<{ sha256: string }>(
      this.db,
      'SELECT sha256 FROM model_reports WHERE name = ? AND version = ?',
      [name, version],
    );
    return {
      name,
      version,
      report_sha256: report?.sha256 ?? null,
      parent: (r.parent as string | null) ?? null,
      optimization: (r.optimization as string | null) ?? null,
      metrics: jsonColumn(r.metrics, {}),
      created_at: Number(r.created_at),
      variants: variants.map((x) => ({
        variant: x.variant as string,
        precision: x.precision as ModelVariant['precision'],
        profile: (x.profile as string | null) ?? null,
        sha256: x.sha256 as string,
        size: Number(x.size),
        url: artifactUrl(x.sha256 as string),
        signature: x.signature as string,
        key_id: x.key_id as string,
        ...(x.encrypted ? { encryption: 'aes-256-gcm' as const } : {}),
        ...(x.loaded ? { loaded_memory: jsonColumn<LoadedMemory>(x.loaded, []) } : {}),
        created_at: Number(x.created_at),
      })),
    };
  }

  async listVersions(name?: string): Promise<{ name: string; version: string }[]> {
    return name
      ? this.db.all('SELECT name, version FROM model_versions WHERE name = ? ORDER BY created_at', [name])
      : this.db.all('SELECT name, version FROM model_versions ORDER BY name, created_at');
  }

  async countNames(): Promise<number> {
    const r = await first<{ n: number }>(this.db, 'SELECT COUNT(DISTINCT name) AS n FROM model_versions');
    return Number(r?.n ?? 0);
  }
}
