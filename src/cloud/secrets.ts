/**
 * Secrets of the control plane: API keys, device passwords, enrollment tokens (random, stored
 * hashed); the ed25519 artifact-signing keys are in signing-keys.ts.
 */
import { createHash, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';

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

/** The key artifacts are signed with now (signing-keys.ts SigningKeyring: the active key of the set). */
export interface SigningKey {
  privateKey: KeyObject;
  publicKeyPem: string;
  keyId: string;
}

export const ADMIN_KEY_FILE = 'admin.key';
