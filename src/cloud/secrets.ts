/**
 * Secrets of the control plane: API keys, device passwords, enrollment tokens (random, stored
 * hashed) and the ed25519 artifact-signing key (a file in the data dir).
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { publicKeyId } from '../protocol/index.ts';

/** 32 random bytes: 256 bits, enough that a fast hash (sha256) is a safe at-rest form. */
const SECRET_BYTES = 32;

export function newSecret(prefix: string): string {
  return `${prefix}${randomBytes(SECRET_BYTES).toString('base64url')}`;
}

/**
 * Stored form of a high-entropy secret. A slow KDF protects guessable passwords; these are random
 * 256-bit values, so sha256 is enough and keeps per-message broker auth cheap.
 */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function secretMatches(secret: string, storedHash: string): boolean {
  const a = Buffer.from(hashSecret(secret), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

export interface SigningKey {
  privateKey: KeyObject;
  publicKeyPem: string;
  keyId: string;
}

export const SIGNING_KEY_FILE = 'signing-key.pem';
export const ADMIN_KEY_FILE = 'admin.key';

/**
 * Load the signing key from the data dir, generating it on first start. Exclusive create (`wx`)
 * makes two replicas starting on one shared volume agree on a single key.
 */
export function loadOrCreateSigningKey(dataDir: string): SigningKey {
  const path = join(dataDir, SIGNING_KEY_FILE);
  try {
    const { privateKey } = generateKeyPairSync('ed25519');
    writeFileSync(path, privateKey.export({ type: 'pkcs8', format: 'pem' }), { flag: 'wx', mode: 0o600 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const privateKey = createPrivateKey(readFileSync(path));
  const publicKeyPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
  return { privateKey, publicKeyPem, keyId: publicKeyId(publicKeyPem) };
}
