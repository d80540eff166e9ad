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

// ---- signing key rotation ---------------------------------------------------------------------

/** What the active key signs when it vouches for its successor: the successor's id and public key. */
export function keyEndorsementPayload(keyId: string, publicKeyPem: string): Buffer {
  return Buffer.from(`verge signing key endorsement\n${keyId}\n${publicKeyPem.trim()}\n`);
}

/** What a key of the set signs to revoke another one. */
export function keyRevocationPayload(keyId: string): Buffer {
  return Buffer.from(`verge signing key revocation\n${keyId}\n`);
}

/** The signing keys a device trusts: id → SPKI PEM, the ids it has seen revoked, and the set's `seq` it last applied. */
export interface KeyTrust {
  seq: number;
  keys: Record<string, string>;
  revoked: string[];
}

/** A device's trust right after enrollment: the one key the cloud handed it. */
export function initialKeyTrust(key: { key_id?: string; public_key_pem: string }): KeyTrust {
  return { seq: 0, keys: { [key.key_id || publicKeyId(key.public_key_pem)]: key.public_key_pem }, revoked: [] };
}

/** The public key of `keyId` when it is trusted and not revoked. */
export function trustedKey(trust: KeyTrust, keyId: string): string | undefined {
  return trust.revoked.includes(keyId) ? undefined : trust.keys[keyId];
}

const verifies = (payload: Buffer, pem: string, signatureB64: string): boolean => {
  try {
    return verify(null, payload, pem, Buffer.from(signatureB64, 'base64'));
  } catch {
    return false;
  }
};

/**
 * Extend a device's trust with a key set fetched from the cloud. A key becomes trusted only when a
 * key already trusted (and not revoked) endorsed it, and its id matches its public key; a key is
 * revoked when a trusted, unrevoked other key signed its revocation. Nothing in the set can remove
 * trust in any other way, and a revoked key stays revoked (it is never trusted again). Applied until
 * nothing changes, so a chain K1 → K2 → K3 is followed in one fetch.
 */
export function applyKeySet(
  trust: KeyTrust,
  set: {
    seq: number;
    keys: {
      key_id: string;
      public_key_pem: string;
      endorsed_by?: { key_id: string; signature: string };
      revoked?: { by: string; signature: string };
    }[];
  },
): KeyTrust {
  const keys = { ...trust.keys };
  const revoked = new Set(trust.revoked);
  const usable = (id: string): string | undefined => (revoked.has(id) ? undefined : keys[id]);
  for (let changed = true; changed;) {
    changed = false;
    for (const k of set.keys) {
      const e = k.endorsed_by;
      if (!keys[k.key_id] && !revoked.has(k.key_id) && e) {
        const by = usable(e.key_id);
        let idMatches: boolean;
        try {
          idMatches = publicKeyId(k.public_key_pem) === k.key_id;
        } catch {
          idMatches = false;
        }
        if (by && idMatches && verifies(keyEndorsementPayload(k.key_id, k.public_key_pem), by, e.signature)) {
          keys[k.key_id] = k.public_key_pem;
          changed = true;
        }
      }
      const r = k.revoked;
      if (r && !revoked.has(k.key_id) && r.by !== k.key_id) {
        const by = usable(r.by);
        if (by && verifies(keyRevocationPayload(k.key_id), by, r.signature)) {
          revoked.add(k.key_id);
          changed = true;
        }
      }
    }
  }
  return { seq: Math.max(trust.seq, set.seq), keys, revoked: [...revoked].sort() };
}
