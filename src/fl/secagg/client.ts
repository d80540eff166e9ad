/**
 * One client's side of secure aggregation. It masks its input with a self mask PRG(b_u) and, for
 * every other client v, a pairwise mask ±PRG(s_uv) from X25519 agreement; pairwise masks cancel in
 * the sum and the self masks are removed once the server has recovered every survivor's b_u from
 * Shamir shares. For a client that dropped, its mask key is recovered instead, so its pairwise masks
 * can be removed from the survivors' inputs. A client never reveals both secrets of one peer.
 */
import { VergeError } from '../../errors.ts';
import { encodeFixed, addInto } from './fixed-point.ts';
import type { AdvertiseKeys, MaskedInput, SecAggParams, ShareKeys, UnmaskShares } from './messages.ts';
import { agree, keyPair, maskStream, open, randomSeed, seal, shareSecret, type KeyPair } from './primitives.ts';

const SHARE_BYTES = 33; // 32-byte secret + the x coordinate

export function bundleAad(p: SecAggParams, from: number, to: number): string {
  return `${p.context}|shares|${from}->${to}`;
}

export function maskInfo(p: SecAggParams, a: number, b: number): string {
  return `${p.context}|mask|${Math.min(a, b)}-${Math.max(a, b)}`;
}

export class SecAggClient {
  private readonly encryption: KeyPair = keyPair();
  private readonly mask: KeyPair = keyPair();
  private readonly seed = randomSeed();
  private roster = new Map<number, AdvertiseKeys>();
  /** Shares peers gave me: of their mask key and of their seed. */
  private readonly held = new Map<number, { maskKey: Uint8Array; seed: Uint8Array }>();
  private sharedWith = new Set<number>();
  private unmasked = false;
  /** Input values clipped to ±bound (reported, not secret). */
  clipped = 0;

  constructor(
    readonly id: number,
    readonly params: SecAggParams,
  ) {
    if (!(Number.isInteger(id) && id >= 1))
      throw new VergeError('E_BAD_ARGUMENT', `secure-aggregation id must be ≥ 1, got ${id}`);
  }

  advertise(): AdvertiseKeys {
    return { client: this.id, encryptionKey: this.encryption.publicKey, maskKey: this.mask.publicKey };
  }

  /** Split my mask key and seed among everyone in the roster; seal each pair of shares for its holder. */
  async shareKeys(roster: readonly AdvertiseKeys[]): Promise<ShareKeys> {
    const ids = roster.map((r) => r.client);
    if (!ids.includes(this.id))
      throw new VergeError('E_PROTOCOL', `secure aggregation: client ${this.id} is not in the roster`);
    if (new Set(ids).size !== ids.length)
      throw new VergeError('E_PROTOCOL', 'secure aggregation: duplicate client in the roster');
    if (roster.length < this.params.threshold)
      throw new VergeError(
        'E_PROTOCOL',
        `secure aggregation: ${roster.length} clients, fewer than the threshold ${this.params.threshold}`,
      );
    this.roster = new Map(roster.map((r) => [r.client, r]));
    const keyShares = await shareSecret(this.mask.secretKey, roster.length, this.params.threshold);
    const seedShares = await shareSecret(this.seed, roster.length, this.params.threshold);
    const bundles = new Map<number, Uint8Array>();
    roster.forEach((peer, i) => {
      if (peer.client === this.id) {
        this.held.set(this.id, { maskKey: keyShares[i]!, seed: seedShares[i]! });
        return;
      }
      const plain = new Uint8Array(2 * SHARE_BYTES);
      plain.set(keyShares[i]!);
      plain.set(seedShares[i]!, SHARE_BYTES);
      const key = agree(this.encryption.secretKey, peer.encryptionKey, `${this.params.context}|enc`);
      bundles.set(peer.client, seal(key, plain, bundleAad(this.params, this.id, peer.client)));
    });
    return { client: this.id, bundles };
  }

  /** Open the bundles peers sealed for me, then mask `input` against every peer who shared. */
  maskInput(input: Float32Array, inbox: ReadonlyMap<number, Uint8Array>): MaskedInput {
    if (input.length !== this.params.length)
      throw new VergeError(
        'E_SHAPE_MISMATCH',
        `secure aggregation input has ${input.length} values, expected ${this.params.length}`,
      );
    for (const [from, sealed] of inbox) {
      const peer = this.roster.get(from);
      if (!peer) throw new VergeError('E_PROTOCOL', `secure aggregation: bundle from unknown client ${from}`);
      const key = agree(this.encryption.secretKey, peer.encryptionKey, `${this.params.context}|enc`);
      const plain = open(key, sealed, bundleAad(this.params, from, this.id));
      if (plain.length !== 2 * SHARE_BYTES)
        throw new VergeError('E_PROTOCOL', `secure aggregation: bad bundle from ${from}`);
      this.held.set(from, { maskKey: plain.slice(0, SHARE_BYTES), seed: plain.slice(SHARE_BYTES) });
    }
    this.sharedWith = new Set([...inbox.keys(), this.id]);
    const { ring, clipped } = encodeFixed(input, this.params.bits, this.params.bound);
    this.clipped = clipped;
    addInto(ring, maskStream(this.seed, ring.length), 1);
    for (const v of this.sharedWith) {
      if (v === this.id) continue;
      const s = agree(this.mask.secretKey, this.roster.get(v)!.maskKey, maskInfo(this.params, this.id, v));
      addInto(ring, maskStream(s, ring.length), this.id > v ? 1 : -1);
    }
    return { client: this.id, masked: ring };
  }

  /**
   * Answer the server's list of survivors: seed shares of survivors, mask-key shares of the rest.
   * Once per round, and only for a survivor set of at least the threshold.
   */
  unmask(survivors: readonly number[]): UnmaskShares {
    if (this.unmasked)
      throw new VergeError('E_PROTOCOL', 'secure aggregation: unmasking was already answered this round');
    const alive = new Set(survivors);
    if (alive.size < this.params.threshold)
      throw new VergeError(
        'E_PROTOCOL',
        `secure aggregation: ${alive.size} survivors, fewer than the threshold ${this.params.threshold}`,
      );
    if (!alive.has(this.id))
      throw new VergeError('E_PROTOCOL', 'secure aggregation: asked to unmask but not counted as a survivor');
    for (const s of alive)
      if (!this.sharedWith.has(s))
        throw new VergeError('E_PROTOCOL', `secure aggregation: survivor ${s} never shared keys with me`);
    this.unmasked = true;
    const maskKeyShares = new Map<number, Uint8Array>();
    const seedShares = new Map<number, Uint8Array>();
    for (const v of this.sharedWith) {
      const h = this.held.get(v)!;
      if (alive.has(v)) seedShares.set(v, h.seed);
      else maskKeyShares.set(v, h.maskKey);
    }
    return { client: this.id, maskKeyShares, seedShares };
  }
}
