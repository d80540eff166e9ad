/**
 * Keys: the operator API keys (admin.key on first start, more by POST /v1/api-keys) and the public
 * half of the artifact-signing key that devices verify with.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ApiKeyResponse, Role, SigningKeyResponse } from '../protocol/index.ts';
import type { ApiKeyRepository } from './repositories/index.ts';
import { ADMIN_KEY_FILE, hashSecret, newSecret, type SigningKey } from './secrets.ts';

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

export class KeyService {
  constructor(
    private readonly apiKeys: ApiKeyRepository,
    private readonly signingKey: SigningKey,
  ) {}

  /** Register the admin key (idempotent: every replica does it at start). */
  async registerAdminKey(key: string): Promise<void> {
    await this.apiKeys.ensure(hashSecret(key), 'admin', ADMIN_KEY_FILE);
  }

  signingKeyResponse(): SigningKeyResponse {
    return { algorithm: 'ed25519', key_id: this.signingKey.keyId, public_key_pem: this.signingKey.publicKeyPem };
  }

  async createApiKey(role: Role, name: string | null): Promise<ApiKeyResponse> {
    const key = newSecret('vk_');
    await this.apiKeys.insert(hashSecret(key), role, name);
    return { key, role, name };
  }

  /** The role of a presented API key, or null when it is unknown. */
  roleOf(key: string): Promise<Role | null> {
    return this.apiKeys.role(hashSecret(key));
  }
}
