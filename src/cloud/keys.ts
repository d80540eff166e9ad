/**
 * Keys: the operator API keys (admin.key on first start, more by POST /v1/api-keys) and the public
 * half of the artifact-signing key that devices verify with.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VergeError } from '../errors.ts';
import type { ApiKeyInfo, ApiKeyResponse, Role, SigningKeyResponse, SigningKeySet } from '../protocol/index.ts';
import type { ApiKeyRepository } from './repositories/index.ts';
import { ADMIN_KEY_FILE, hashSecret, newSecret } from './secrets.ts';
import type { SigningKeyring } from './signing-keys.ts';

/** The admin key file: read it if present, else create it exclusively (replicas on one volume agree). */
export function loadOrCreateAdminKey(dataDir: string): { key: string; path: string } {
  const path = join(dataDir, ADMIN_KEY_FILE);
  try {
    writeFileSync(path, newSecret('vk_') + '\n', { flag: 'wx', mode: 0o600 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  return { key: readFileSync(path, 'utf8').trim(), path };
}

/** Characters of a key's sha256 that name it in listings (48 bits: ids of one fleet's keys do not collide). */
const API_KEY_ID_CHARS = 12;
export const apiKeyId = (keyHash: string): string => keyHash.slice(0, API_KEY_ID_CHARS);

export class KeyService {
  constructor(
    private readonly apiKeys: ApiKeyRepository,
    private readonly signingKey: SigningKeyring,
    /** After a rotation or revocation: re-sign stored artifacts, tell devices (control-plane.ts). */
    private readonly afterKeyChange: () => Promise<void> = async () => undefined,
  ) {}

  /**
   * Register the admin key (idempotent: every replica does it at start, all reading one admin.key).
   * A replaced admin.key revokes the key it held before: the old file's key stops working.
   */
  async registerAdminKey(key: string): Promise<void> {
    const hash = hashSecret(key);
    await this.apiKeys.ensure(hash, 'admin', ADMIN_KEY_FILE);
    await this.apiKeys.revokeNamedExcept(ADMIN_KEY_FILE, hash);
  }

  async listApiKeys(): Promise<ApiKeyInfo[]> {
    return (await this.apiKeys.list()).map((k) => ({
      id: apiKeyId(k.key_hash),
      role: k.role,
      name: k.name,
      created_at: k.created_at,
    }));
  }

  /** Revoke the key with this id: requests with it answer 401 from now on. */
  async revokeApiKey(id: string): Promise<void> {
    if ((await this.apiKeys.revoke(id)) === 0) throw new VergeError('E_NOT_FOUND', `no API key with id ${id}`);
  }

  signingKeyResponse(): SigningKeyResponse {
    return { algorithm: 'ed25519', key_id: this.signingKey.keyId, public_key_pem: this.signingKey.publicKeyPem };
  }

  signingKeySet(): SigningKeySet {
    return this.signingKey.keySet();
  }

  /** `verge keys rotate`: a new active key, endorsed by the old one; stored artifacts are re-signed with it. */
  async rotateSigningKey(): Promise<SigningKeySet> {
    this.signingKey.rotate();
    await this.afterKeyChange();
    return this.signingKey.keySet();
  }

  /** `verge keys revoke <id>`: devices refuse artifacts signed by that key once they fetch the set. */
  async revokeSigningKey(keyId: string): Promise<SigningKeySet> {
    this.signingKey.revoke(keyId);
    await this.afterKeyChange();
    return this.signingKey.keySet();
  }

  async createApiKey(role: Role, name: string | null): Promise<ApiKeyResponse> {
    const key = newSecret('vk_');
    const hash = hashSecret(key);
    await this.apiKeys.insert(hash, role, name);
    return { id: apiKeyId(hash), key, role, name };
  }

  /** The role of a presented API key, or null when it is unknown. */
  roleOf(key: string): Promise<Role | null> {
    return this.apiKeys.role(hashSecret(key));
  }
}
