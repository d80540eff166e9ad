/**
 * The server's side of secure aggregation. It routes sealed share bundles it cannot read, stores
 * masked inputs only, and at the end recovers exactly what removes the masks from the SUM: the
 * seeds of survivors and the mask keys of clients that dropped before sending their input. It
 * never holds an unmasked individual input (secagg.test.ts checks the store).
 */
import { VergeError } from '../../errors.ts';
import { maskInfo } from './client.ts';
import { addInto, decodeFixed } from './fixed-point.ts';
import type { AdvertiseKeys, MaskedInput, SecAggParams, ShareKeys, UnmaskShares } from './messages.ts';
import { agree, maskStream, recoverSecret } from './primitives.ts';

export class SecAggServer {
  private roster = new Map<number, AdvertiseKeys>();
  private shared = new Set<number>();
  private readonly inputs = new Map<number, Uint32Array>();
  private closed = false;

  constructor(readonly params: SecAggParams) {}

  private need(n: number, what: string): void {
    if (n < this.params.threshold)
      throw new VergeError(
        'E_CONFLICT',
        `secure aggregation: ${n} ${what}, fewer than the threshold ${this.params.threshold}`,
      );
  }

  /** Round 0: the roster everyone shares with. */
  collectKeys(keys: readonly AdvertiseKeys[]): AdvertiseKeys[] {
    this.need(keys.length, 'clients advertised keys');
    this.roster = new Map(keys.map((k) => [k.client, k]));
    if (this.roster.size !== keys.length)
      throw new VergeError('E_PROTOCOL', 'secure aggregation: a client advertised twice');
    return [...this.roster.values()].sort((a, b) => a.client - b.client);
  }

  /** Round 1: route each sealed bundle to its recipient (only from and to clients that shared). */
  routeShares(outs: readonly ShareKeys[]): Map<number, Map<number, Uint8Array>> {
    this.need(outs.length, 'clients shared keys');
    this.shared = new Set(outs.map((o) => o.client));
    const inbox = new Map<number, Map<number, Uint8Array>>();
    for (const o of outs) {
      if (!this.roster.has(o.client))
        throw new VergeError('E_PROTOCOL', `secure aggregation: shares from unknown client ${o.client}`);
      for (const [to, sealed] of o.bundles) {
        if (!this.shared.has(to)) continue;
        let box = inbox.get(to);
        if (!box) inbox.set(to, (box = new Map()));
        box.set(o.client, sealed);
      }
    }
    return inbox;
  }

  /** Round 2: keep one masked input per client that shared; duplicates and strangers are refused. */
  collectMasked(m: MaskedInput): void {
    if (this.closed) throw new VergeError('E_CONFLICT', 'secure aggregation: the round is no longer collecting inputs');
    if (!this.shared.has(m.client))
      throw new VergeError('E_PROTOCOL', `secure aggregation: input from client ${m.client}, which did not share keys`);
    if (this.inputs.has(m.client))
      throw new VergeError('E_CONFLICT', `secure aggregation: client ${m.client} already sent its input`);
    if (m.masked.length !== this.params.length)
      throw new VergeError(
        'E_SHAPE_MISMATCH',
        `secure aggregation: input of ${m.masked.length} values, expected ${this.params.length}`,
      );
    this.inputs.set(m.client, m.masked);
  }

  /** Round 3 starts: the survivors (clients whose input arrived). */
  survivors(): number[] {
    this.closed = true;
    this.need(this.inputs.size, 'inputs arrived');
    return [...this.inputs.keys()].sort((a, b) => a - b);
  }

  /** What the server stores, for inspection: masked inputs only. */
  storedInputs(): ReadonlyMap<number, Uint32Array> {
    return this.inputs;
  }

  private async recover(
    responses: readonly UnmaskShares[],
    of: number,
    kind: 'maskKeyShares' | 'seedShares',
  ): Promise<Uint8Array> {
    const shares = responses.map((r) => r[kind].get(of)).filter((s): s is Uint8Array => !!s);
    if (shares.length < this.params.threshold)
      throw new VergeError(
        'E_CONFLICT',
        `secure aggregation: ${shares.length} shares for client ${of}, need ${this.params.threshold}`,
      );
    return recoverSecret(shares.slice(0, this.params.threshold));
  }

  /** Remove the masks with ≥ threshold answers; the sum of the survivors' inputs, as floats. */
  async finish(
    responses: readonly UnmaskShares[],
  ): Promise<{ sum: Float64Array; survivors: number[]; dropped: number[] }> {
    this.need(responses.length, 'clients answered the unmasking');
    const survivors = [...this.inputs.keys()].sort((a, b) => a - b);
    const dropped = [...this.shared].filter((c) => !this.inputs.has(c)).sort((a, b) => a - b);
    const sum = new Uint32Array(this.params.length);
    for (const y of this.inputs.values()) addInto(sum, y, 1);
    for (const u of survivors) addInto(sum, maskStream(await this.recover(responses, u, 'seedShares'), sum.length), -1);
    for (const v of dropped) {
      const sk = await this.recover(responses, v, 'maskKeyShares');
      for (const u of survivors) {
        const s = agree(sk, this.roster.get(u)!.maskKey, maskInfo(this.params, u, v));
        // survivor u added sign(u − v)·PRG(s_uv); take it back out
        addInto(sum, maskStream(s, sum.length), u > v ? -1 : 1);
      }
    }
    return { sum: decodeFixed(sum, this.params.bits), survivors, dropped };
  }
}
