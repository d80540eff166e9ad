/**
 * The signing keys a device trusts and the checks made with them, browser-safe: ed25519 by
 * @noble/curves (RFC 8032 strict verification, as node:crypto does) and sha256 by @noble/hashes, so
 * a browser tab follows the cloud's key rotations with the same code as an agent
 * (edge/signing-keys.ts). signature.ts adds the Node-only signing and re-exports this module.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';

export const SIGNATURE_ALGORITHM = 'ed25519' as const;

/** DER prefix of an ed25519 SubjectPublicKeyInfo (RFC 8410): the 32 key bytes follow. */
const ED25519_SPKI_PREFIX = hexToBytes('302a300506032b6570032100');

const base64Bytes = (s: string): Uint8Array => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

/** The SPKI DER of an ed25519 public key PEM; throws when the PEM holds no such key. */
function ed25519Spki(publicKeyPem: string): Uint8Array {
  const m = /-----BEGIN PUBLIC KEY-----([A-Za-z0-9+/=\s]+)-----END PUBLIC KEY-----/.exec(publicKeyPem);
  const der = m ? base64Bytes(m[1]!.replace(/\s+/g, '')) : new Uint8Array();
  if (der.length !== ED25519_SPKI_PREFIX.length + 32 || ED25519_SPKI_PREFIX.some((b, i) => der[i] !== b))
    throw new Error('not an ed25519 SPKI public key PEM');
  return der;
}

/** Key id = first 16 hex digits of sha256(SPKI DER of the public key). */
export function publicKeyPemId(publicKeyPem: string): string {
  return bytesToHex(sha256(ed25519Spki(publicKeyPem))).slice(0, 16);
}

/** True when `signatureB64` is a valid ed25519 signature of `payload` by the PEM public key. */
export function verifyEd25519(payload: Uint8Array, signatureB64: string, publicKeyPem: string): boolean {
  try {
    const key = ed25519Spki(publicKeyPem).subarray(ED25519_SPKI_PREFIX.length);
    return ed25519.verify(base64Bytes(signatureB64), payload, key, { zip215: false });
  } catch {
    return false;
  }
}

/** The bytes that are signed for an artifact: its sha256 digest. */
export function artifactSignaturePayload(sha256Hex: string): Uint8Array {
  return hexToBytes(sha256Hex);
}

/** What the active key signs when it vouches for its successor: the successor's id and public key. */
export function keyEndorsementPayload(keyId: string, publicKeyPem: string): Uint8Array {
  return new TextEncoder().encode(`verge signing key endorsement\n${keyId}\n${publicKeyPem.trim()}\n`);
}

/** What a key of the set signs to revoke another one. */
export function keyRevocationPayload(keyId: string): Uint8Array {
  return new TextEncoder().encode(`verge signing key revocation\n${keyId}\n`);
}

/** The signing keys a device trusts: id → SPKI PEM, the ids it has seen revoked, and the set's `seq` it last applied. */
export interface KeyTrust {
  seq: number;
  keys: Record<string, string>;
  revoked: string[];
}

/** A device's trust right after enrollment: the one key the cloud handed it. */
export function initialKeyTrust(key: { key_id?: string; public_key_pem: string }): KeyTrust {
  return { seq: 0, keys: { [key.key_id || publicKeyPemId(key.public_key_pem)]: key.public_key_pem }, revoked: [] };
}

/** The public key of `keyId` when it is trusted and not revoked. */
export function trustedKey(trust: KeyTrust, keyId: string): string | undefined {
  return trust.revoked.includes(keyId) ? undefined : trust.keys[keyId];
}

/**
 * Undefined when `ref` carries a valid signature of its sha256 by a trusted, unrevoked key of
 * `trust`; else why not (one line).
 */
export function artifactTrustProblem(
  trust: KeyTrust,
  ref: { sha256: string; signature: string; key_id: string },
): string | undefined {
  const what = `artifact ${ref.sha256.slice(0, 12)}`;
  if (trust.revoked.includes(ref.key_id)) return `${what} is signed with key ${ref.key_id}, which the cloud revoked`;
  const pem = trustedKey(trust, ref.key_id);
  if (!pem)
    return `${what} is signed with key ${ref.key_id}, not a key this device trusts (${Object.keys(trust.keys).join(', ')})`;
  if (!verifyEd25519(artifactSignaturePayload(ref.sha256), ref.signature, pem))
    return `signature of ${what} does not verify against the cloud key ${ref.key_id}`;
  return undefined;
}

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
          idMatches = publicKeyPemId(k.public_key_pem) === k.key_id;
        } catch {
          idMatches = false;
        }
        if (by && idMatches && verifyEd25519(keyEndorsementPayload(k.key_id, k.public_key_pem), e.signature, by)) {
          keys[k.key_id] = k.public_key_pem;
          changed = true;
        }
      }
      const r = k.revoked;
      if (r && !revoked.has(k.key_id) && r.by !== k.key_id) {
        const by = usable(r.by);
        if (by && verifyEd25519(keyRevocationPayload(k.key_id), r.signature, by)) {
          revoked.add(k.key_id);
          changed = true;
        }
      }
    }
  }
  return { seq: Math.max(trust.seq, set.seq), keys, revoked: [...revoked].sort() };
}
