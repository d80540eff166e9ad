/**
 * A tab's enrolled device kept across reloads and closed tabs: an IndexedDB record per enrolled
 * device (the newest per control plane is the one a page resumes), holding no secret a script can
 * read back out.
 *
 * - The device password (MQTT and HTTP credential) is stored AES-GCM-sealed under a 256-bit key
 *   made by WebCrypto as non-extractable; the key (a CryptoKey, structured-cloned into the same
 *   record) can be used by this origin's pages but never exported as bytes.
 * - The FL upload key (the ed25519 key the control plane pins per device, PUT /v1/fl/device-key) is
 *   a non-extractable WebCrypto Ed25519 key pair: signatures are made inside the browser's crypto,
 *   the private key cannot be read or exported by any script, ours included.
 * - The signing keys the tab trusts (protocol/key-trust.ts) and the FL rounds done are plain state.
 *
 * What this protects against: anything that reads the stored data as data (a dump of the origin's
 * storage, a copied record) gets no usable key and no password. What it cannot: a script running in
 * this origin while a page is open can use the keys as the tab does; a device that must stop being
 * trusted is revoked on the control plane (the tab then forgets its record).
 */
import type { EnrollResponse, KeyTrust } from '../../protocol/browser.ts';
import { VergeError } from '../../errors.ts';

const DB_NAME = 'verge-device';
const DB_VERSION = 1;
const STORE = 'devices';

/** The record as IndexedDB holds it (keyed by `deviceId`). */
interface DeviceRecord {
  deviceId: string;
  cloud: string;
  enrolledAt: number;
  identity: Omit<EnrollResponse, 'credentials'> & { credentials: { username: string } };
  sealedPassword: { iv: Uint8Array<ArrayBuffer>; data: ArrayBuffer };
  sealKey: CryptoKey;
  uploadKey: CryptoKeyPair;
  uploadPublicKeyPem: string;
  keyTrust?: KeyTrust;
  rounds: Record<string, number>;
  savedAt: number;
}

/** A stored device, opened for use: its credentials unsealed, its upload key usable (not readable). */
export interface StoredDevice {
  identity: EnrollResponse;
  uploadKey: { publicKeyPem: string; sign(payload: Uint8Array): Promise<string> };
  keyTrust?: KeyTrust;
  rounds: Record<string, number>;
}

const b64 = (b: Uint8Array): string => btoa(String.fromCharCode(...b));

function pem(spki: ArrayBuffer): string {
  const body = b64(new Uint8Array(spki)).replace(/(.{64})/g, '$1\n');
  return `-----BEGIN PUBLIC KEY-----\n${body}\n-----END PUBLIC KEY-----\n`;
}

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(new VergeError('E_INTERNAL', `browser storage: ${r.error?.message ?? 'failed'}`));
  });
}

function cryptoProblem(what: string, e: unknown): VergeError {
  return new VergeError(
    'E_UNSUPPORTED',
    `this browser cannot ${what} (WebCrypto Ed25519 and AES-GCM are needed): ${(e as Error).message}`,
  );
}

/** The tab's device records in IndexedDB (`verge-device`). */
export class DeviceStore {
  private constructor(private readonly db: IDBDatabase) {}

  static async open(): Promise<DeviceStore> {
    if (typeof indexedDB === 'undefined') throw new VergeError('E_UNSUPPORTED', 'this browser has no IndexedDB');
    const open = indexedDB.open(DB_NAME, DB_VERSION);
    open.onupgradeneeded = () => open.result.createObjectStore(STORE, { keyPath: 'deviceId' });
    return new DeviceStore(await request(open));
  }

  private async get(deviceId: string): Promise<DeviceRecord | undefined> {
    return (await request(this.db.transaction(STORE).objectStore(STORE).get(deviceId))) as DeviceRecord | undefined;
  }

  /** The newest device enrolled with `cloud`. */
  private async newest(cloud: string): Promise<DeviceRecord | undefined> {
    const all = (await request(this.db.transaction(STORE).objectStore(STORE).getAll())) as DeviceRecord[];
    return all.filter((r) => r.cloud === cloud).sort((a, b) => b.enrolledAt - a.enrolledAt)[0];
  }

  private async put(r: DeviceRecord): Promise<void> {
    const tx = this.db.transaction(STORE, 'readwrite');
    await request(tx.objectStore(STORE).put(r));
  }

  /** Keep a freshly enrolled device for `cloud`: its password sealed, a new non-extractable upload key. */
  async save(cloud: string, identity: EnrollResponse): Promise<StoredDevice> {
    let sealKey: CryptoKey;
    let uploadKey: CryptoKeyPair;
    try {
      sealKey = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
      uploadKey = (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair;
    } catch (e) {
      throw cryptoProblem('make a non-extractable key', e);
    }
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const data = await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv },
      sealKey,
      new TextEncoder().encode(identity.credentials.password),
    );
    const spki = await crypto.subtle.exportKey('spki', uploadKey.publicKey);
    const { password: _sealed, ...credentials } = identity.credentials;
    const record: DeviceRecord = {
      deviceId: identity.device_id,
      cloud,
      enrolledAt: Date.now(),
      identity: { ...identity, credentials },
      sealedPassword: { iv, data },
      sealKey,
      uploadKey,
      uploadPublicKeyPem: pem(spki),
      rounds: {},
      savedAt: Date.now(),
    };
    await this.put(record);
    return this.opened(record, identity.credentials.password);
  }

  /** The newest device kept for `cloud`, or undefined when there is none (or it cannot be unsealed). */
  async load(cloud: string): Promise<StoredDevice | undefined> {
    const r = await this.newest(cloud);
    if (!r) return undefined;
    let password: string;
    try {
      const plain = await crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: r.sealedPassword.iv },
        r.sealKey,
        r.sealedPassword.data,
      );
      password = new TextDecoder().decode(plain);
    } catch {
      return undefined; // a damaged record: the tab enrolls afresh
    }
    return this.opened(r, password);
  }

  private opened(r: DeviceRecord, password: string): StoredDevice {
    const privateKey = r.uploadKey.privateKey;
    return {
      identity: { ...r.identity, credentials: { ...r.identity.credentials, password } },
      uploadKey: {
        publicKeyPem: r.uploadPublicKeyPem,
        sign: async (payload) =>
          b64(new Uint8Array(await crypto.subtle.sign('Ed25519', privateKey, new Uint8Array(payload)))),
      },
      ...(r.keyTrust ? { keyTrust: r.keyTrust } : {}),
      rounds: r.rounds,
    };
  }

  /** Update a kept device's plain state (key trust, rounds done); no-op when it is not kept. */
  async update(deviceId: string, patch: { keyTrust?: KeyTrust; rounds?: Record<string, number> }): Promise<void> {
    const r = await this.get(deviceId);
    if (r) await this.put({ ...r, ...patch, savedAt: Date.now() });
  }

  /** Forget a kept device (revoked, or the user asked). */
  async forget(deviceId: string): Promise<void> {
    const tx = this.db.transaction(STORE, 'readwrite');
    await request(tx.objectStore(STORE).delete(deviceId));
  }

  close(): void {
    this.db.close();
  }
}
