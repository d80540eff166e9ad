/**
 * The model registry: content-addressed artifacts (uploaded once, by sha256), model versions
 * (immutable, semver) and their variants, each signed with the cloud's key at publish.
 */
import type { Readable } from 'node:stream';
import semver from 'semver';
import { VergeError } from '../errors.ts';
import {
  artifactDecipher,
  CONTENT_KEY_BYTES,
  decryptArtifact,
  ENCRYPTED_HEADER_BYTES,
  ENCRYPTION_OVERHEAD_BYTES,
  HTTP_PATHS,
  MAX_REPORT_BYTES,
  signArtifact,
  type LoadedMemory,
  type ModelVersion,
  type ModelsResponse,
  type PublishModelRequest,
} from '../protocol/index.ts';
import { measureModelMemory } from '../runtime/index.ts';
import type { ArtifactStore } from './artifacts.ts';
import type { ModelRepository } from './repositories/index.ts';
import type { SigningKey } from './secrets.ts';

/** Batch sizes a publisher measures a variant's loaded memory at: a served request is one sample. */
export const PUBLISHED_MEMORY_BATCHES: readonly number[] = Object.freeze([1]);

/**
 * The loaded memory to publish with a variant (protocol LoadedMemory), measured here on its plain
 * ONNX bytes (a child process; about a second for a small model). Undefined — and why, to `warn` —
 * when it cannot be measured: the variant is then published without it and agents estimate.
 */
export async function measurePublishedMemory(
  model: Uint8Array,
  warn: (why: string) => void,
): Promise<LoadedMemory | undefined> {
  try {
    return await measureModelMemory(model, PUBLISHED_MEMORY_BATCHES);
  } catch (e) {
    warn(`loaded memory not measured (agents will estimate it from the file size): ${(e as Error).message}`);
    return undefined;
  }
}

/** Where devices download an artifact (relative to the cloud's base URL). */
export const artifactUrl = (sha256: string): string => HTTP_PATHS.artifact(sha256);

/** `parent` lineage: `name@version`. */
const PARENT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*@\S+$/;

export class ModelRegistry {
  constructor(
    private readonly repo: ModelRepository,
    readonly artifacts: ArtifactStore,
    private readonly signingKey: SigningKey,
  ) {}

  async uploadArtifact(body: Readable): Promise<{ sha256: string; size: number }> {
    const a = await this.artifacts.put(body);
    await this.repo.recordArtifact(a.sha256, a.size);
    return a;
  }

  async publish(req: PublishModelRequest): Promise<ModelVersion> {
    const parent = req.parent ?? null;
    if (!semver.valid(req.version))
      throw new VergeError('E_BAD_ARGUMENT', `version '${req.version}' is not semver (like 1.2.0)`);
    if (parent !== null && !PARENT_PATTERN.test(parent))
      throw new VergeError('E_BAD_ARGUMENT', `parent '${parent}' must be name@version`);
    const size = await this.repo.artifactSize(req.sha256);
    if (size === null || !this.artifacts.has(req.sha256))
      throw new VergeError(
        'E_NOT_FOUND',
        `artifact ${req.sha256} was not uploaded (POST ${HTTP_PATHS.artifacts} first)`,
      );
    // A version has one parent: a variant may add it where none was recorded, never change it. The
    // optimization differs per variant (int8, fp16 of one version), so the first recorded is kept.
    const stored = (await this.version(req.name, req.version))?.parent ?? null;
    if (parent !== null && stored !== null && parent !== stored)
      throw new VergeError(
        'E_CONFLICT',
        `${req.name}@${req.version} already has parent '${stored}'; a variant cannot change it to '${parent}'`,
      );
    const report = req.report_sha256 ?? null;
    if (report !== null) await this.checkReport(report);
    if (req.encryption_key !== undefined) {
      await this.checkContentKey(req.sha256, size, Buffer.from(req.encryption_key, 'base64'));
      await this.repo.setContentKey(req.sha256, req.encryption_key);
    }
    await this.repo.upsertVersion({
      name: req.name,
      version: req.version,
      parent,
      optimization: req.optimization ?? null,
      metrics: req.metrics ?? {},
    });
    await this.repo.insertVariant(req.name, req.version, {
      variant: req.variant ?? 'fp32',
      precision: req.precision ?? 'fp32',
      profile: req.profile ?? null,
      sha256: req.sha256,
      size,
      signature: signArtifact(req.sha256, this.signingKey.privateKey),
      key_id: this.signingKey.keyId,
    });
    if (report !== null) await this.repo.setReport(req.name, req.version, report);
    if (req.loaded_memory !== undefined) await this.repo.setLoadedMemory(req.sha256, req.loaded_memory);
    return (await this.version(req.name, req.version))!;
  }

  /**
   * A confidential variant's key must open its artifact (the GCM tag checks out), or every device
   * would fail on it. Streamed: the plaintext is discarded as it is produced, never stored.
   */
  private async checkContentKey(sha256: string, size: number, key: Buffer): Promise<void> {
    const refuse = (why: string) =>
      new VergeError('E_BAD_ARGUMENT', `encryption_key does not open artifact ${sha256.slice(0, 12)}…: ${why}`);
    if (key.length !== CONTENT_KEY_BYTES) throw refuse(`a content key has ${CONTENT_KEY_BYTES} bytes`);
    if (size < ENCRYPTION_OVERHEAD_BYTES) throw refuse('it is not an encrypted artifact (too short)');
    const slice = async (start: number, end: number): Promise<Buffer> => {
      const parts: Buffer[] = [];
      for await (const c of this.artifacts.read(sha256, { start, end })) parts.push(c as Buffer);
      return Buffer.concat(parts);
    };
    const tagStart = size - (ENCRYPTION_OVERHEAD_BYTES - ENCRYPTED_HEADER_BYTES);
    let decipher;
    try {
      decipher = artifactDecipher(key, await slice(0, ENCRYPTED_HEADER_BYTES - 1), await slice(tagStart, size - 1));
    } catch (e) {
      throw refuse((e as Error).message);
    }
    try {
      if (tagStart > ENCRYPTED_HEADER_BYTES)
        for await (const c of this.artifacts.read(sha256, { start: ENCRYPTED_HEADER_BYTES, end: tagStart - 1 }))
          decipher.update(c as Buffer);
      decipher.final();
    } catch {
      throw refuse('wrong key or altered bytes');
    }
  }

  /** The content key (base64) of a confidential artifact; null for a plain one. */
  contentKey(sha256: string): Promise<string | null> {
    return this.repo.contentKey(sha256);
  }

  /** A model's ONNX bytes for the cloud's own use (hosted inference, retraining): decrypted when confidential. */
  async modelBytes(sha256: string): Promise<Uint8Array> {
    const chunks: Buffer[] = [];
    for await (const c of this.artifacts.read(sha256)) chunks.push(c as Buffer);
    const bytes = Buffer.concat(chunks);
    const key = await this.repo.contentKey(sha256);
    return key === null ? bytes : decryptArtifact(bytes, Buffer.from(key, 'base64'));
  }

  /** An optimize report must be an uploaded SVG of at most MAX_REPORT_BYTES. */
  private async checkReport(sha256: string): Promise<void> {
    const size = await this.repo.artifactSize(sha256);
    if (size === null || !this.artifacts.has(sha256))
      throw new VergeError('E_NOT_FOUND', `report ${sha256} was not uploaded (POST ${HTTP_PATHS.artifacts} first)`);
    if (size > MAX_REPORT_BYTES)
      throw new VergeError(
        'E_BAD_ARGUMENT',
        `report of ${size} bytes exceeds ${MAX_REPORT_BYTES} (an SVG from verge optimize)`,
      );
    const chunks: Buffer[] = [];
    for await (const c of this.artifacts.read(sha256)) chunks.push(c as Buffer);
    const head = Buffer.concat(chunks).toString('utf8', 0, 512).trimStart();
    if (!/^(<\?xml[^>]*>\s*)?<svg[\s>]/.test(head))
      throw new VergeError(
        'E_BAD_ARGUMENT',
        `report ${sha256.slice(0, 12)}… is not an SVG (verge optimize writes report.svg)`,
      );
  }

  version(name: string, version: string): Promise<ModelVersion | null> {
    return this.repo.getVersion(name, version, artifactUrl);
  }

  async list(name?: string): Promise<ModelsResponse> {
    const byName = new Map<string, ModelVersion[]>();
    for (const v of await this.repo.listVersions(name)) {
      const mv = (await this.version(v.name, v.version))!;
      byName.set(v.name, [...(byName.get(v.name) ?? []), mv]);
    }
    return {
      models: [...byName.entries()].map(([n, versions]) => ({
        name: n,
        versions: versions.sort((a, b) => semver.compare(a.version, b.version)),
      })),
    };
  }

  countNames(): Promise<number> {
    return this.repo.countNames();
  }
}
