/**
 * Confidential artifacts (docs/security.md, "Model confidentiality"). Node-only (node:crypto), like
 * signature.ts.
 *
 * An encrypted artifact is `MAGIC (8) ‖ nonce (12) ‖ AES-256-GCM ciphertext ‖ tag (16)` under a
 * random 32-byte content key, the magic as associated data. The artifact's sha256 and signature
 * are those of these bytes: a device checks them before it holds any key, and the cloud re-hashes
 * what it serves without decrypting. The GCM tag then authenticates the plaintext under the key.
 *
 * A content key reaches a device wrapped to the device's static X25519 key: an ephemeral X25519 key
 * agreed with it, HKDF-SHA256 (salt = ephemeral ‖ device public keys, info = artifact sha256 and
 * device id) → a key-encryption key, AES-256-GCM over the content key with the same info as
 * associated data. A wrapped key opens only with that device's private key, only for that artifact.
 */
import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  type Decipher,
  type KeyObject,
} from 'node:crypto';
import { VergeError } from '../errors.ts';
import type { WrappedArtifactKey } from './http.ts';

/** First bytes of an encrypted artifact: an ONNX file (a protobuf) cannot start with them (0x56 is a field with wire type 6). */
export const ENCRYPTED_ARTIFACT_MAGIC = 'VRGENC01';
const MAGIC = Buffer.from(ENCRYPTED_ARTIFACT_MAGIC, 'latin1');
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** Bytes before the ciphertext: the magic and the nonce. */
export const ENCRYPTED_HEADER_BYTES = MAGIC.length + NONCE_BYTES;
/** Bytes an encrypted artifact adds to its plaintext. */
export const ENCRYPTION_OVERHEAD_BYTES = ENCRYPTED_HEADER_BYTES + TAG_BYTES;
export const CONTENT_KEY_BYTES = 32;
export const KEY_WRAP_ALGORITHM = 'x25519-hkdf-sha256-aes-256-gcm' as const;

export function isEncryptedArtifact(bytes: Uint8Array): boolean {
  return bytes.length >= ENCRYPTION_OVERHEAD_BYTES && MAGIC.equals(bytes.subarray(0, 8));
}

/** Encrypt a model under a new random content key (or `key`). */
export function encryptArtifact(
  plain: Uint8Array,
  key: Uint8Array = randomBytes(CONTENT_KEY_BYTES),
): {
  bytes: Buffer;
  key: Buffer;
} {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce).setAAD(MAGIC);
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return {
    bytes: Buffer.concat([MAGIC, nonce, body, cipher.getAuthTag()]),
    key: Buffer.from(key),
  };
}

/**
 * A decipher for the ciphertext between header and tag (for streaming a large artifact); its
 * `final()` throws when the key or the bytes are wrong.
 */
export function artifactDecipher(key: Uint8Array, header: Uint8Array, tag: Uint8Array): Decipher {
  if (key.length !== CONTENT_KEY_BYTES)
    throw new VergeError('E_BAD_ARGUMENT', `a content key has ${CONTENT_KEY_BYTES} bytes, not ${key.length}`);
  if (!MAGIC.equals(Buffer.from(header.subarray(0, MAGIC.length))))
    throw new VergeError('E_INTEGRITY', 'not an encrypted verge artifact (no VRGENC01 header)');
  return createDecipheriv('aes-256-gcm', key, header.subarray(MAGIC.length, ENCRYPTED_HEADER_BYTES))
    .setAAD(MAGIC)
    .setAuthTag(tag);
}

/** The model inside an encrypted artifact; E_INTEGRITY when the key does not open it or the bytes were altered. */
export function decryptArtifact(bytes: Uint8Array, key: Uint8Array): Buffer {
  if (!isEncryptedArtifact(bytes)) throw new VergeError('E_INTEGRITY', 'not an encrypted verge artifact');
  const d = artifactDecipher(key, bytes.subarray(0, ENCRYPTED_HEADER_BYTES), bytes.subarray(bytes.length - TAG_BYTES));
  try {
    return Buffer.concat([d.update(bytes.subarray(ENCRYPTED_HEADER_BYTES, bytes.length - TAG_BYTES)), d.final()]);
  } catch {
    throw new VergeError('E_INTEGRITY', 'the content key does not open this artifact (wrong key or altered bytes)');
  }
}

// ---- device keys and key wrap ----------------------------------------------------------------

/** A device's X25519 key pair: the public key raw in base64 (the wire form), the private key PKCS#8 PEM. */
export function generateDeviceEncryptionKey(): { publicKey: string; privateKeyPem: string } {
  const { privateKey } = generateKeyPairSync('x25519');
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return { publicKey: deviceEncryptionPublicKey(privateKeyPem), privateKeyPem };
}

/** The raw base64 public key of a PKCS#8 PEM X25519 private key. */
export function deviceEncryptionPublicKey(privateKeyPem: string): string {
  return rawPublic(createPublicKey(createPrivateKey(privateKeyPem)));
}

function rawPublic(key: KeyObject): string {
  const x = key.export({ format: 'jwk' }).x;
  if (!x) throw new VergeError('E_BAD_ARGUMENT', 'not an X25519 key');
  return Buffer.from(x, 'base64url').toString('base64');
}

function x25519Public(rawB64: string): KeyObject {
  const raw = Buffer.from(rawB64, 'base64');
  if (raw.length !== 32) throw new VergeError('E_BAD_ARGUMENT', 'an X25519 public key has 32 bytes');
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: raw.toString('base64url') }, format: 'jwk' });
}

/** Binds a wrapped key to one artifact and one device: a key wrapped for another cannot be passed off. */
function wrapInfo(sha256: string, deviceId: string): Buffer {
  return Buffer.from(`verge/v1 artifact key ${sha256} for ${deviceId}`, 'utf8');
}

function keyEncryptionKey(shared: Buffer, ephemeralB64: string, deviceB64: string, info: Buffer): Buffer {
  const salt = Buffer.concat([Buffer.from(ephemeralB64, 'base64'), Buffer.from(deviceB64, 'base64')]);
  return Buffer.from(hkdfSync('sha256', shared, salt, info, 32));
}

/** Wrap a content key to a device's X25519 public key, for artifact `sha256`. */
export function wrapArtifactKey(
  contentKey: Uint8Array,
  devicePublicKey: string,
  ctx: { sha256: string; deviceId: string },
): WrappedArtifactKey {
  const ephemeral = generateKeyPairSync('x25519');
  const ephemeralB64 = rawPublic(ephemeral.publicKey);
  const shared = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: x25519Public(devicePublicKey) });
  const info = wrapInfo(ctx.sha256, ctx.deviceId);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', keyEncryptionKey(shared, ephemeralB64, devicePublicKey, info), nonce);
  cipher.setAAD(info);
  const wrapped = Buffer.concat([cipher.update(contentKey), cipher.final(), cipher.getAuthTag()]);
  return {
    algorithm: KEY_WRAP_ALGORITHM,
    sha256: ctx.sha256,
    device_id: ctx.deviceId,
    ephemeral_public_key: ephemeralB64,
    nonce: nonce.toString('base64'),
    wrapped_key: wrapped.toString('base64'),
  };
}

/** The content key in `w`, opened with the device's private key; E_INTEGRITY when it was not wrapped for this device and artifact. */
export function unwrapArtifactKey(
  w: WrappedArtifactKey,
  privateKeyPem: string,
  ctx: { sha256: string; deviceId: string },
): Buffer {
  try {
    const privateKey = createPrivateKey(privateKeyPem);
    const shared = diffieHellman({ privateKey, publicKey: x25519Public(w.ephemeral_public_key) });
    const info = wrapInfo(ctx.sha256, ctx.deviceId);
    const kek = keyEncryptionKey(shared, w.ephemeral_public_key, rawPublic(createPublicKey(privateKey)), info);
    const wrapped = Buffer.from(w.wrapped_key, 'base64');
    const d = createDecipheriv('aes-256-gcm', kek, Buffer.from(w.nonce, 'base64'))
      .setAAD(info)
      .setAuthTag(wrapped.subarray(CONTENT_KEY_BYTES));
    return Buffer.concat([d.update(wrapped.subarray(0, CONTENT_KEY_BYTES)), d.final()]);
  } catch {
    throw new VergeError(
      'E_INTEGRITY',
      `the content key of artifact ${ctx.sha256.slice(0, 12)} was not wrapped for this device (${ctx.deviceId})`,
    );
  }
}
