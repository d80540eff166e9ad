/**
 * The signing keys a device trusts (an agent, and a browser tab through edge/browser.ts: nothing
 * here is Node-only). Enrollment hands it one key; a rotation is learned from the
 * cloud's key set (GET /v1/signing-keys over the device's authenticated channel) and accepted only
 * along endorsements from a key already trusted (protocol key-trust.ts applyKeySet) — so a key set
 * served by anyone who does not hold a trusted key adds nothing. A revoked key is refused for good.
 * The set is fetched when an artifact names a key not trusted yet, or a deploy message says the
 * cloud's set is newer than the copy here (`key_set`).
 */
import { VergeError } from '../errors.ts';
import {
  applyKeySet,
  artifactTrustProblem,
  HTTP_PATHS,
  initialKeyTrust,
  SigningKeySet,
  type ArtifactRef,
  type KeyTrust,
  type SigningKeyResponse,
} from '../protocol/browser.ts';
import { joinUrl } from './enrollment.ts';
import { errorInfo } from './http-error.ts';

/** A key set is at most MAX_SIGNING_KEYS entries of ~1 KiB; a larger answer is not read. */
const MAX_KEY_SET_BYTES = 1024 * 1024;
const FETCH_TIMEOUT_MS = 15_000;
/** An unknown key id triggers at most one fetch per this period (a stream of bad artifacts cannot flood the cloud). */
const UNKNOWN_KEY_REFETCH_MS = 10_000;

export interface KeyTrustHost {
  cloudUrl(): string;
  /** HTTP to the cloud (cloud-channel.ts: the agent's CA and client certificate); default: global fetch. */
  fetch?: typeof fetch;
  authorization(): string;
  enrolledKey: SigningKeyResponse;
  load(): KeyTrust | undefined;
  save(t: KeyTrust): void;
  log(line: string): void;
}

export class AgentKeyTrust {
  private fetching?: Promise<KeyTrust>;
  private lastFetch = 0;

  constructor(private readonly host: KeyTrustHost) {}

  trust(): KeyTrust {
    return this.host.load() ?? initialKeyTrust(this.host.enrolledKey);
  }

  /**
   * Undefined when `ref` carries a valid signature by a trusted, unrevoked key; else why not.
   * `keySetSeq`: the set's seq the cloud announced (deploy message) — an older copy is refreshed
   * first. Throws E_NETWORK when a needed refresh fails (the caller retries later).
   */
  async check(
    ref: Pick<ArtifactRef, 'sha256' | 'signature' | 'key_id'>,
    keySetSeq?: number,
  ): Promise<string | undefined> {
    let t = this.trust();
    const stale = keySetSeq !== undefined && keySetSeq > t.seq;
    const unknown = !t.keys[ref.key_id] && !t.revoked.includes(ref.key_id);
    if (stale || (unknown && Date.now() - this.lastFetch >= UNKNOWN_KEY_REFETCH_MS)) t = await this.refresh();
    return artifactTrustProblem(t, ref);
  }

  /** Fetch the cloud's key set and apply it; one fetch at a time. */
  refresh(): Promise<KeyTrust> {
    this.fetching ??= this.fetchAndApply().finally(() => {
      this.fetching = undefined;
    });
    return this.fetching;
  }

  private async fetchAndApply(): Promise<KeyTrust> {
    this.lastFetch = Date.now();
    const url = joinUrl(this.host.cloudUrl(), HTTP_PATHS.signingKeys.replace(/^\//, ''));
    let res: Response;
    try {
      res = await (this.host.fetch ?? fetch)(url, {
        headers: { authorization: this.host.authorization() },
        signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      });
    } catch (e) {
      throw new VergeError('E_NETWORK', `cannot fetch the signing key set: ${(e as Error).message}`);
    }
    if (!res.ok) {
      const err = await errorInfo(res);
      throw new VergeError('E_NETWORK', `signing key set: HTTP ${res.status} ${err?.message ?? ''}`.trim());
    }
    if (Number(res.headers.get('content-length') ?? 0) > MAX_KEY_SET_BYTES) {
      await res.body?.cancel();
      throw new VergeError('E_NETWORK', 'signing key set: answer too large');
    }
    const text = await res.text();
    let set: SigningKeySet;
    try {
      set = SigningKeySet.parse(JSON.parse(text.length > MAX_KEY_SET_BYTES ? '' : text));
    } catch {
      throw new VergeError('E_NETWORK', 'signing key set: the cloud answered an unexpected body');
    }
    const before = this.trust();
    const after = applyKeySet(before, set);
    this.host.save(after);
    for (const id of Object.keys(after.keys))
      if (!before.keys[id]) this.host.log(`now trusting signing key ${id} (endorsed by a key this device trusted)`);
    for (const id of after.revoked)
      if (!before.revoked.includes(id)) this.host.log(`signing key ${id} is revoked: its artifacts are refused`);
    return after;
  }
}
