/**
 * The cryptographic building blocks of secure aggregation, all from audited libraries that run in
 * browsers and Node alike (@noble/curves, @noble/ciphers, @noble/hashes, shamir-secret-sharing):
 * X25519 key agreement, HKDF-SHA256, a ChaCha20 keystream as the mask generator, AES-256-GCM for
 * the share bundles clients send each other through the server, and Shamir sharing over GF(2⁸).
 */
import { gcm } from '@noble/ciphers/aes.js';
import { chacha20 } from '@noble/ciphers/chacha.js';
import { randomBytes } from '@noble/ciphers/utils.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { combine, split } from 'shamir-secret-sharing';
import { VergeError } from '../../errors.ts';

export interface KeyPair {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

export const SEED_BYTES = 32;
const NONCE_BYTES = 12;
const encoder = new TextEncoder();

export function keyPair(): KeyPair {
  const { secretKey, publicKey } = x25519.keygen();
  return { secretKey, publicKey };
}

export function randomSeed(): Uint8Array {
  return randomBytes(SEED_BYTES);
}

/** A 32-byte key both parties derive from X25519(sk_a, pk_b); `info` separates uses (masks vs encryption). */
export function agree(secretKey: Uint8Array, publicKey: Uint8Array, info: string): Uint8Array {
  let shared: Uint8Array;
  try {
    shared = x25519.getSharedSecret(secretKey, publicKey);
  } catch (e) {
    throw new VergeError('E_PROTOCOL', `secure aggregation: invalid public key (${(e as Error).message})`);
  }
  return hkdf(sha256, shared, undefined, encoder.encode(info), 32);
}

/** `length` pseudo-random 32-bit words from a 32-byte seed (ChaCha20 keystream, zero nonce: each seed is used once). */
export function maskStream(seed: Uint8Array, length: number): Uint32Array {
  const bytes = chacha20(seed, new Uint8Array(NONCE_BYTES), new Uint8Array(length * 4));
  return new Uint32Array(bytes.buffer, bytes.byteOffset, length);
}

/** AES-256-GCM with a random nonce, bound to `aad`: nonce ‖ ciphertext ‖ tag. */
export function seal(key: Uint8Array, plaintext: Uint8Array, aad: string): Uint8Array {
  const nonce = randomBytes(NONCE_BYTES);
  const ct = gcm(key, nonce, encoder.encode(aad)).encrypt(plaintext);
  const out = new Uint8Array(NONCE_BYTES + ct.length);
  out.set(nonce);
  out.set(ct, NONCE_BYTES);
  return out;
}

export function open(key: Uint8Array, sealed: Uint8Array, aad: string): Uint8Array {
  try {
    return gcm(key, sealed.subarray(0, NONCE_BYTES), encoder.encode(aad)).decrypt(sealed.subarray(NONCE_BYTES));
  } catch {
    throw new VergeError('E_INTEGRITY', `secure aggregation: a share bundle does not authenticate (${aad})`);
  }
}

/** Shamir: `count` shares, any `threshold` of which give back `secret` (GF(2⁸), at most 255 shares). */
export function shareSecret(secret: Uint8Array, count: number, threshold: number): Promise<Uint8Array[]> {
  return split(secret, count, threshold);
}

export function recoverSecret(shares: Uint8Array[]): Promise<Uint8Array> {
  return combine(shares);
}
