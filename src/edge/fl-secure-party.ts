/**
 * The device's side of a secure-aggregation round over the fleet (the cloud side is
 * cloud/fl-secure-rounds.ts): after local training it holds its weighted update and one
 * SecAggClient (src/fl/secagg/client.ts) per (job, round), and answers each phase of the retained
 * task with the bytes to POST. Secrets live in memory only: a restarted agent has dropped out of
 * that round, which the protocol recovers from.
 */
import { VergeError } from '../errors.ts';
import { SecAggClient } from '../fl/index.ts';
import type { FlSecAggTask } from '../protocol/browser.ts';

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
const unb64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));
const json = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));

interface Party {
  client: SecAggClient;
  /** [w·update, w]: what this device contributes to the sum. */
  input: Float32Array;
  examples: number;
  metrics: string;
  answered: Set<FlSecAggTask['phase']>;
}

export class SecureParties {
  private readonly parties = new Map<string, Party>();

  private key(job: string, round: number): string {
    return `${job}/${round}`;
  }

  has(job: string, round: number): boolean {
    return this.parties.has(this.key(job, round));
  }

  answered(job: string, round: number, phase: FlSecAggTask['phase']): boolean {
    return !!this.parties.get(this.key(job, round))?.answered.has(phase);
  }

  /** After training: keep the weighted update and return the `advertise` body (two public keys). */
  advertise(
    job: string,
    round: number,
    s: FlSecAggTask,
    update: Float32Array,
    examples: number,
    metrics: string,
  ): Uint8Array {
    if (update.length + 1 !== s.length)
      throw new VergeError(
        'E_SHAPE_MISMATCH',
        `the secure round expects ${s.length - 1} values, the update has ${update.length}`,
      );
    const w = s.uniform ? 1 : Math.min(examples, s.weight_cap) / s.weight_cap;
    const input = new Float32Array(s.length);
    for (let i = 0; i < update.length; i++) input[i] = w * update[i]!;
    input[update.length] = w;
    const client = new SecAggClient(s.index, {
      context: s.context,
      threshold: s.threshold,
      bits: s.bits,
      bound: s.bound,
      length: s.length,
    });
    this.parties.set(this.key(job, round), { client, input, examples, metrics, answered: new Set(['advertise']) });
    const k = client.advertise();
    return json({ encryption_key: b64(k.encryptionKey), mask_key: b64(k.maskKey) });
  }

  /** The body of a later phase, and the example count and metrics the upload carries. */
  async answer(
    job: string,
    round: number,
    s: FlSecAggTask,
  ): Promise<{ body: Uint8Array; examples: number; metrics: string }> {
    const p = this.parties.get(this.key(job, round));
    if (!p)
      throw new VergeError('E_PROTOCOL', `no secure-aggregation state for ${job} round ${round} (agent restarted?)`);
    const meta = { examples: p.examples, metrics: p.metrics };
    let body: Uint8Array;
    if (s.phase === 'share') {
      const roster = (s.roster ?? []).map((r) => ({
        client: r.index,
        encryptionKey: unb64(r.encryption_key),
        maskKey: unb64(r.mask_key),
      }));
      const out = await p.client.shareKeys(roster);
      body = json({ bundles: [...out.bundles].map(([to, b]) => ({ to, bundle: b64(b) })) });
    } else if (s.phase === 'mask') {
      const inbox = new Map((s.inbox ?? []).map((m) => [m.from, unb64(m.bundle)]));
      const masked = p.client.maskInput(p.input, inbox).masked;
      body = new Uint8Array(masked.buffer, masked.byteOffset, masked.byteLength);
    } else if (s.phase === 'unmask') {
      const u = p.client.unmask(s.survivors ?? []);
      body = json({
        mask_key_shares: [...u.maskKeyShares].map(([of, share]) => ({ of, share: b64(share) })),
        seed_shares: [...u.seedShares].map(([of, share]) => ({ of, share: b64(share) })),
      });
    } else throw new VergeError('E_PROTOCOL', `unexpected secure-aggregation phase '${s.phase}'`);
    p.answered.add(s.phase);
    return { body, ...meta };
  }

  /** Forget a round (after unmasking, or when the job ends). */
  forget(job: string, round?: number): void {
    for (const k of [...this.parties.keys()])
      if (round === undefined ? k.startsWith(`${job}/`) : k === this.key(job, round)) this.parties.delete(k);
  }
}
