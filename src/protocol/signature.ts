/**
 * Artifact signatures: ed25519 over the 32 raw bytes of the artifact's sha256 digest. Signing the
 * digest (not the file) lets an agent verify before or after a resumed download without re-reading
 * the file twice, and keeps signing independent of artifact size.
 */
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

export const SIGNATURE_ALGORITHM = 'ed25519' as const;

/** The bytes that are signed for an artifact: its sha256 digest. */
export function artifactSignaturePayload(sha256Hex: string): Buffer {
  return Buffer.from(sha256Hex, 'hex');
}

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
