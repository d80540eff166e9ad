/**
 * Confidential artifacts on the agent (protocol/artifact-crypto.ts, docs/security.md): the device's
 * X25519 key (in agent.db with its other secrets), registering its public key with the cloud over
 * the device's authenticated channel, fetching an artifact's content key wrapped to it, and opening
 * a stored ciphertext into memory. The artifact cache holds only the ciphertext; the wrapped key is
 * kept in agent.db so a restart serves the model offline; the plaintext exists only in memory.
 */
import { VergeError } from '../errors.ts';
import {
  decryptArtifact,
  HTTP_PATHS,
  isEncryptedArtifact,
  unwrapArtifactKey,
  WrappedArtifactKey,
} from '../protocol/index.ts';
import { joinUrl } from './enrollment.ts';
import { errorInfo } from './http-error.ts';

const FETCH_TIMEOUT_MS = 15_000;
/** A wrapped key is ~300 bytes of JSON; a larger answer is not read. */
const MAX_WRAPPED_KEY_BYTES = 4096;

export interface ArtifactKeysHost {
  deviceId: string;
  cloudUrl(): string;
  /** HTTP to the cloud (cloud-channel.ts); default: global fetch. */
  fetch?: typeof fetch;
  authorization(): string;
  /** The device's X25519 key pair: public key raw base64, private key PKCS#8 PEM. */
  key: { publicKey: string; privateKeyPem: string };
  /** Whether the cloud holds the public key (sent at enrollment or registered since). */
  registered(): boolean;
  markRegistered(): void;
  wrappedKey(sha256: string): WrappedArtifactKey | undefined;
  saveWrappedKey(sha256: string, w: WrappedArtifactKey): void;
}

export class AgentArtifactKeys {
  constructor(private readonly host: ArtifactKeysHost) {}

  private async request(path: string, init: RequestInit = {}): Promise<Response> {
    const url = joinUrl(this.host.cloudUrl(), path.replace(/^\//, ''));
    try {
      return await (this.host.fetch ?? fetch)(url, {
        ...init,
        headers: { authorization: this.host.authorization(), ...(init.headers as Record<string, string>) },
        signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      });
    } catch (e) {
      throw new VergeError('E_NETWORK', `cannot reach the cloud for ${path}: ${(e as Error).message}`);
    }
  }

  private async refused(res: Response, what: string): Promise<VergeError> {
    const info = await errorInfo(res);
    const code =
      res.status === 404
        ? 'E_NOT_FOUND'
        : res.status === 401 || res.status === 403
          ? 'E_AUTH'
          : res.status === 409
            ? 'E_CONFLICT'
            : 'E_NETWORK';
    return new VergeError(code, `${what} refused: ${info?.message ?? `HTTP ${res.status}`}`);
  }

  /** Register the device's public key once (agents enrolled before they had one). */
  async ensureRegistered(): Promise<void> {
    if (this.host.registered()) return;
    const res = await this.request(HTTP_PATHS.deviceEncryptionKey, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ public_key: this.host.key.publicKey }),
    });
    if (!res.ok) throw await this.refused(res, 'encryption key registration');
    await res.body?.cancel();
    this.host.markRegistered();
  }

  /**
   * Make sure the content key of confidential artifact `sha256` is here (wrapped to this device):
   * fetched once per artifact. E_NOT_FOUND when the cloud does not give it to this device.
   */
  async ensure(sha256: string): Promise<void> {
    if (this.host.wrappedKey(sha256)) return;
    await this.ensureRegistered();
    const res = await this.request(HTTP_PATHS.artifactKey(sha256));
    if (!res.ok) throw await this.refused(res, `the key of artifact ${sha256.slice(0, 12)}`);
    const parsed = WrappedArtifactKey.safeParse(parseBounded(await res.text()));
    if (!parsed.success || parsed.data.sha256 !== sha256 || parsed.data.device_id !== this.host.deviceId)
      throw new VergeError(
        'E_PROTOCOL',
        `the cloud answered the key of artifact ${sha256.slice(0, 12)} with an unexpected body`,
      );
    // opened once here: a key that does not open is refused before it is kept
    unwrapArtifactKey(parsed.data, this.host.key.privateKeyPem, { sha256, deviceId: this.host.deviceId }).fill(0);
    this.host.saveWrappedKey(sha256, parsed.data);
  }

  /**
   * The ONNX bytes of a stored artifact whose sha256 was checked: itself when plain, decrypted in
   * memory when confidential (E_INTEGRITY without its key, or when the key does not open it).
   */
  open(sha256: string, bytes: Uint8Array): Uint8Array {
    if (!isEncryptedArtifact(bytes)) return bytes;
    const w = this.host.wrappedKey(sha256);
    if (!w)
      throw new VergeError(
        'E_INTEGRITY',
        `artifact ${sha256.slice(0, 12)} is encrypted and this device holds no key for it`,
      );
    const key = unwrapArtifactKey(w, this.host.key.privateKeyPem, { sha256, deviceId: this.host.deviceId });
    try {
      return decryptArtifact(bytes, key);
    } finally {
      key.fill(0);
    }
  }
}

function parseBounded(text: string): unknown {
  if (text.length > MAX_WRAPPED_KEY_BYTES) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
