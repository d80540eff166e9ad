/**
 * Artifact signatures: ed25519 over the 32 raw bytes of the artifact's sha256 digest. Signing the
 * digest (not the file) lets an agent verify before or after a resumed download without re-reading
 * the file twice, and keeps signing independent of artifact size. Signing and KeyObject keys need
 * node:crypto (the cloud); what a device checks is in key-trust.ts (browser-safe), re-exported here.
 */
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { artifactSignaturePayload } from './key-trust.ts';

export * from './key-trust.ts';

/** Key id = first 16 hex digits of sha256(SPKI DER of the public key). */
export function publicKeyId(publicKey: KeyObject | string): string {
  const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
  const der = key.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex').slice(0, 16);
}

/** base64 ed25519 signature of an artifact digest. */
export function signArtifact(sha256Hex: string, privateKey: KeyObject | string): string {
  return sign(null, artifactSignaturePayload(sha256Hex), privateKey).toString('base64');
}

/** True when `signatureB64` is a valid signature of `sha256Hex` by the PEM/KeyObject public key. */
export function verifyArtifactSignature(
  sha256Hex: string,
  signatureB64: string,
  publicKey: KeyObject | string,
): boolean {
  try {
    return verify(null, artifactSignaturePayload(sha256Hex), publicKey, Buffer.from(signatureB64, 'base64'));
  } catch {
    return false;
  }
}
