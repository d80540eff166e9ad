/**
 * The control plane's artifact-signing keys: one active key signs, older keys stay listed so what
 * they signed can be checked, and a rotation is vouched for by the key it replaces. Files in the
 * data dir (trusted, shared by replicas on one volume):
 *
 * - `signing-key.pem`: the fleet's first key (k8s copies it in from the Secret);
 * - `signing-keys/<key_id>.pem`: keys made by `verge keys rotate` (0600);
 * - `signing-keys.json`: the key set devices fetch (GET /v1/signing-keys) — ids, public keys,
 *   endorsements, revocations and the active id. Written whole by rename, re-read when it changes,
 *   so a rotation made through one replica is what every replica signs with next.
 *
 * A missing key is never silently replaced: when the database already has devices or models and
 * the active key's file is gone, opening fails unless `init` (then a new, unendorsed key is made
 * active and devices refuse its artifacts until they re-enroll — the operator asked for it).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VergeError } from '../errors.ts';
import {
  keyEndorsementPayload,
  keyRevocationPayload,
  MAX_SIGNING_KEYS,
  publicKeyId,
  SigningKeySet,
  type SigningKeyEntry,
} from '../protocol/index.ts';
import type { SigningKey } from './secrets.ts';

export const SIGNING_KEY_FILE = 'signing-key.pem';
export const SIGNING_KEYS_FILE = 'signing-keys.json';
export const SIGNING_KEYS_DIR = 'signing-keys';

export interface OpenKeyringOptions {
  /** Create a new key when the active one is missing although the fleet exists (`verge cloud --init`). */
  init?: boolean;
  /** True when the database already holds devices or published models (a key must have existed). */
  fleetExists: boolean;
  log?: (line: string) => void;
}

const publicPem = (k: KeyObject): string => createPublicKey(k).export({ type: 'spki', format: 'pem' }).toString();
const signB64 = (payload: Uint8Array, k: KeyObject): string => sign(null, payload, k).toString('base64');

/** The signing key set and the active private key; satisfies SigningKey with whatever key is active now. */
export class SigningKeyring implements SigningKey {
  private set!: SigningKeySet;
  private active!: { privateKey: KeyObject; publicKeyPem: string; keyId: string };
  private stamp = '';

  private constructor(private readonly dataDir: string) {}

  static open(dataDir: string, opts: OpenKeyringOptions): SigningKeyring {
    const ring = new SigningKeyring(dataDir);
    if (!existsSync(ring.setPath)) ring.firstSet(opts);
    ring.reload(opts);
    return ring;
  }

  get privateKey(): KeyObject {
    return this.current().privateKey;
  }
  get publicKeyPem(): string {
    return this.current().publicKeyPem;
  }
  get keyId(): string {
    return this.current().keyId;
  }

  keySet(): SigningKeySet {
    this.current();
    return this.set;
  }

  /** Make a new key active, endorsed by the active one; returns the new set. */
  rotate(): SigningKeySet {
    const old = this.current();
    if (this.set.keys.length >= MAX_SIGNING_KEYS)
      throw new VergeError('E_CONFLICT', `the key set already lists ${MAX_SIGNING_KEYS} keys`);
    const { privateKey } = generateKeyPairSync('ed25519');
    const pem = publicPem(privateKey);
    const keyId = publicKeyId(pem);
    mkdirSync(join(this.dataDir, SIGNING_KEYS_DIR), { recursive: true, mode: 0o700 });
    writeFileSync(this.keyPath(keyId), privateKey.export({ type: 'pkcs8', format: 'pem' }), {
      flag: 'wx',
      mode: 0o600,
    });
    const entry: SigningKeyEntry = {
      key_id: keyId,
      public_key_pem: pem,
      created_at: Date.now(),
      endorsed_by: { key_id: old.keyId, signature: signB64(keyEndorsementPayload(keyId, pem), old.privateKey) },
    };
    this.write({ seq: this.set.seq + 1, active: keyId, keys: [...this.set.keys, entry] });
    return this.keySet();
  }

  /** Revoke a retired key: devices refuse it from their next key-set fetch on. */
  revoke(keyId: string): SigningKeySet {
    const cur = this.current();
    const entry = this.set.keys.find((k) => k.key_id === keyId);
    if (!entry) throw new VergeError('E_NOT_FOUND', `no signing key with id ${keyId}`);
    if (keyId === cur.keyId)
      throw new VergeError('E_CONFLICT', `${keyId} is the active signing key: rotate first (verge keys rotate)`);
    if (entry.revoked) return this.keySet();
    const revoked = { at: Date.now(), by: cur.keyId, signature: signB64(keyRevocationPayload(keyId), cur.privateKey) };
    this.write({
      seq: this.set.seq + 1,
      active: this.set.active,
      keys: this.set.keys.map((k) => (k.key_id === keyId ? { ...k, revoked } : k)),
    });
    return this.keySet();
  }

  private get setPath(): string {
    return join(this.dataDir, SIGNING_KEYS_FILE);
  }

  private keyPath(keyId: string): string {
    return join(this.dataDir, SIGNING_KEYS_DIR, `${keyId}.pem`);
  }

  /** No key set yet: adopt signing-key.pem (an older data dir), or create it on a fresh fleet. */
  private firstSet(opts: OpenKeyringOptions): void {
    const legacy = join(this.dataDir, SIGNING_KEY_FILE);
    if (!existsSync(legacy)) {
      if (opts.fleetExists && !opts.init)
        throw new VergeError(
          'E_FILE_NOT_FOUND',
          `signing key ${legacy} is missing but the database has devices or models: restore it (devices trust only ` +
            `that key), or start with --init to create a new one (enrolled devices then refuse new artifacts until re-enrolled)`,
        );
      const { privateKey } = generateKeyPairSync('ed25519');
      try {
        // exclusive create: two replicas starting on one volume agree on a single key
        writeFileSync(legacy, privateKey.export({ type: 'pkcs8', format: 'pem' }), { flag: 'wx', mode: 0o600 });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      if (opts.fleetExists) opts.log?.(`--init: created a new signing key ${legacy}`);
    }
    const pem = publicPem(createPrivateKey(readFileSync(legacy)));
    const keyId = publicKeyId(pem);
    this.write({ seq: 0, active: keyId, keys: [{ key_id: keyId, public_key_pem: pem, created_at: Date.now() }] });
  }

  /** The private key of `keyId`: signing-keys/<id>.pem, or signing-key.pem when that is it. */
  private loadPrivate(keyId: string): KeyObject | null {
    for (const path of [this.keyPath(keyId), join(this.dataDir, SIGNING_KEY_FILE)]) {
      if (!existsSync(path)) continue;
      const k = createPrivateKey(readFileSync(path));
      if (publicKeyId(publicPem(k)) === keyId) return k;
    }
    return null;
  }

  private reload(opts?: OpenKeyringOptions): void {
    let set: SigningKeySet;
    try {
      set = SigningKeySet.parse(JSON.parse(readFileSync(this.setPath, 'utf8')));
    } catch (e) {
      throw new VergeError('E_DATA_INVALID', `${this.setPath} is not a signing key set: ${(e as Error).message}`);
    }
    let privateKey = this.loadPrivate(set.active);
    if (!privateKey) {
      if (!opts?.init)
        throw new VergeError(
          'E_FILE_NOT_FOUND',
          `the active signing key ${set.active} has no private key in ${this.dataDir} (${SIGNING_KEYS_DIR}/${set.active}.pem): ` +
            `restore it, or start with --init to create a new one (enrolled devices then refuse new artifacts until re-enrolled)`,
        );
      ({ privateKey } = generateKeyPairSync('ed25519'));
      const pem = publicPem(privateKey);
      const keyId = publicKeyId(pem);
      mkdirSync(join(this.dataDir, SIGNING_KEYS_DIR), { recursive: true, mode: 0o700 });
      writeFileSync(this.keyPath(keyId), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
      set = {
        seq: set.seq + 1,
        active: keyId,
        keys: [...set.keys, { key_id: keyId, public_key_pem: pem, created_at: Date.now() }],
      };
      this.writeFile(set);
      opts.log?.(
        `--init: the active signing key's file was missing; created ${keyId} (not endorsed by any earlier key)`,
      );
    }
    const publicKeyPem = publicPem(privateKey);
    this.set = set;
    this.active = { privateKey, publicKeyPem, keyId: publicKeyId(publicKeyPem) };
    this.stamp = this.fileStamp();
  }

  /** The active key, re-read first when signing-keys.json changed (another replica rotated). */
  private current(): { privateKey: KeyObject; publicKeyPem: string; keyId: string } {
    if (this.fileStamp() !== this.stamp) this.reload();
    return this.active;
  }

  private fileStamp(): string {
    try {
      const st = statSync(this.setPath);
      return `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch {
      return '';
    }
  }

  private write(set: SigningKeySet): void {
    this.writeFile(set);
    this.reload();
  }

  /** Whole or not at all: a temporary file renamed over the set. */
  private writeFile(set: SigningKeySet): void {
    const tmp = `${this.setPath}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(set, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, this.setPath);
  }
}
