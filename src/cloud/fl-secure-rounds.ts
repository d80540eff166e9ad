/**
 * Secure aggregation over the fleet (Bonawitz et al. 2017, semi-honest server): a `fit` round of a
 * `secure_agg` job runs four phases, each announced by re-sending the devices' retained `fl` task
 * with its `secagg` part and closed when every member answered or at the phase deadline:
 *
 *   advertise  every selected device trains, then POSTs two X25519 public keys
 *   share      the advertisers POST Shamir shares of their secrets, sealed for each peer
 *   mask       the sharers open the bundles addressed to them and POST their masked input
 *   unmask     the maskers (survivors) POST the shares that remove the masks of the sum
 *
 * The control plane stores keys, sealed bundles it cannot open, masked inputs (artifacts) and
 * unmasking shares — never an individual update — and recovers only the weighted SUM with
 * src/fl/secagg/server.ts, even when devices drop after sharing keys. Every phase needs at least
 * `threshold` devices; fewer fail the round (retried like any failed round). All state is in the
 * database, so a restarted control plane continues the phase where it stood.
 */
import { VergeError } from '../errors.ts';
import {
  fractionBits,
  type AdvertiseKeys,
  type SecAggParams,
  type ShareKeys,
  type UnmaskShares,
  SECAGG_BOUND,
  SECAGG_MAX_CLIENTS,
  SECAGG_WEIGHT_CAP,
  SecAggServer,
} from '../fl/index.ts';
import {
  FL_PATHS,
  SecAggAdvertise,
  SecAggShares,
  SecAggUnmask,
  type FlSecAggTask,
  type SecAggUploadPhase,
} from '../protocol/index.ts';
import type { FlRepository, FlSecAggRoundRecord, SecAggPhase } from './repositories/index.ts';

/** Longest a phase after `advertise` waits (the crypto work of a phase takes a device milliseconds). */
export const SECAGG_PHASE_TIMEOUT_MS = 60_000;
const NEXT: Record<SecAggPhase, SecAggPhase | null> = {
  advertise: 'share',
  share: 'mask',
  mask: 'unmask',
  unmask: null,
};
const PREVIOUS: Record<SecAggPhase, SecAggPhase | null> = {
  advertise: null,
  share: 'advertise',
  mask: 'share',
  unmask: 'mask',
};

/** What a secure round fixes when it opens (stored as JSON in fl_secagg_rounds.params). */
export interface SecureRoundParams extends SecAggParams {
  weight_cap: number;
  uniform: boolean;
  /** Device id → party number (1…n). */
  parties: Record<string, number>;
}

export interface SecureSum {
  /** Weighted mean of the survivors' updates. */
  mean: Float32Array;
  survivors: string[];
  dropped: string[];
}

const unb64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));

export interface SecureRoundsHost {
  fl: FlRepository;
  readArtifact(sha256: string): Promise<Uint8Array>;
  now(): number;
}

export class SecureRounds {
  constructor(private readonly host: SecureRoundsHost) {}

  /** Parameters of a secure round over `devices` with updates of `size` values. */
  static params(job: string, round: number, devices: readonly string[], size: number, uniform: boolean) {
    const n = devices.length;
    if (n < 2) throw new VergeError('E_CONFLICT', 'secure aggregation needs at least two devices per round');
    if (n > SECAGG_MAX_CLIENTS)
      throw new VergeError(
        'E_BAD_ARGUMENT',
        `secure aggregation handles at most ${SECAGG_MAX_CLIENTS} devices per round`,
      );
    const p: SecureRoundParams = {
      context: `${job}/round-${round}`,
      threshold: Math.max(2, Math.floor(n / 2) + 1),
      bits: fractionBits(n, SECAGG_BOUND),
      bound: SECAGG_BOUND,
      length: size + 1,
      weight_cap: SECAGG_WEIGHT_CAP,
      uniform,
      parties: Object.fromEntries(devices.map((d, i) => [d, i + 1])),
    };
    return p;
  }

  async open(job: string, round: number, params: SecureRoundParams, deadline: number): Promise<void> {
    await this.host.fl.openSecAggRound({
      job_id: job,
      round,
      phase: 'advertise',
      params: params as unknown as Record<string, unknown>,
      phase_deadline: deadline,
    });
  }

  get(job: string, round: number): Promise<FlSecAggRoundRecord | null> {
    return this.host.fl.secAggRound(job, round);
  }

  /** Devices expected to answer `phase`: everyone selected, then those who answered the phase before. */
  async members(sa: FlSecAggRoundRecord, phase: SecAggPhase = sa.phase): Promise<string[]> {
    const prev = PREVIOUS[phase];
    if (!prev) return Object.keys(paramsOf(sa).parties).sort();
    return (await this.host.fl.secAggMessages(sa.job_id, sa.round, prev)).map((m) => m.device_id);
  }

  /** The `secagg` part of one device's task for the round's current phase. */
  async taskPart(sa: FlSecAggRoundRecord, device: string): Promise<FlSecAggTask> {
    const p = paramsOf(sa);
    const index = p.parties[device];
    if (!index) throw new VergeError('E_AUTH', `device ${device} is not a party of this secure round`);
    const part: FlSecAggTask = {
      phase: sa.phase,
      index,
      context: p.context,
      threshold: p.threshold,
      bits: p.bits,
      bound: p.bound,
      length: p.length,
      weight_cap: p.weight_cap,
      uniform: p.uniform,
      path: FL_PATHS.secagg(sa.job_id, sa.round, sa.phase),
    };
    const msgs = (phase: SecAggPhase) => this.host.fl.secAggMessages(sa.job_id, sa.round, phase);
    if (sa.phase === 'share')
      part.roster = (await msgs('advertise')).map((m) => {
        const k = SecAggAdvertise.parse(JSON.parse(m.body));
        return { index: p.parties[m.device_id]!, encryption_key: k.encryption_key, mask_key: k.mask_key };
      });
    if (sa.phase === 'mask') {
      part.inbox = [];
      for (const m of await msgs('share')) {
        const from = p.parties[m.device_id]!;
        const b = SecAggShares.parse(JSON.parse(m.body)).bundles.find((x) => x.to === index);
        if (b && from !== index) part.inbox.push({ from, bundle: b.bundle });
      }
    }
    if (sa.phase === 'unmask') part.survivors = (await msgs('mask')).map((m) => p.parties[m.device_id]!);
    return part;
  }

  /**
   * Check a device's message for the round's current phase and return what to store: the JSON
   * as sent, or (mask) the raw masked input for the caller to store as an artifact.
   */
  async check(
    sa: FlSecAggRoundRecord,
    device: string,
    phase: SecAggUploadPhase,
    body: Uint8Array,
  ): Promise<{ json?: string; masked?: Uint8Array }> {
    const p = paramsOf(sa);
    if (sa.phase !== phase)
      throw new VergeError(
        'E_CONFLICT',
        `secure round ${sa.round} of ${sa.job_id} is in phase '${sa.phase}', not '${phase}'; message discarded`,
      );
    if (this.host.now() > sa.phase_deadline)
      throw new VergeError('E_CONFLICT', `phase '${phase}' of secure round ${sa.round} closed at its deadline`);
    if (!(await this.members(sa)).includes(device))
      throw new VergeError('E_AUTH', `device ${device} is not a member of phase '${phase}' of round ${sa.round}`);
    if (phase === 'mask') {
      if (body.length !== 4 * p.length)
        throw new VergeError(
          'E_BAD_ARGUMENT',
          `masked input has ${body.length} bytes; the round expects ${4 * p.length} (${p.length} uint32 values)`,
        );
      return { masked: body };
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder().decode(body));
    } catch {
      throw new VergeError('E_BAD_ARGUMENT', `secure-aggregation '${phase}' message is not JSON`);
    }
    const schema = phase === 'advertise' ? SecAggAdvertise : phase === 'share' ? SecAggShares : SecAggUnmask;
    const r = schema.safeParse(parsed);
    if (!r.success)
      throw new VergeError(
        'E_BAD_ARGUMENT',
        `secure-aggregation '${phase}': ${r.error.issues[0]?.message ?? 'invalid'}`,
      );
    return { json: JSON.stringify(r.data) };
  }

  /**
   * Move the round on when its phase is complete (every member answered) or past its deadline.
   * Returns the devices to send the next phase to, 'close' when the round is ready to aggregate
   * (unmask done) or cannot go on (too few answers), or 'wait'.
   */
  async step(sa: FlSecAggRoundRecord, timeoutMs: number): Promise<'wait' | 'close' | { next: string[] }> {
    const members = await this.members(sa);
    const got = await this.host.fl.secAggMessages(sa.job_id, sa.round, sa.phase);
    if (got.length < members.length && this.host.now() <= sa.phase_deadline) return 'wait';
    const next = NEXT[sa.phase];
    if (!next || got.length < paramsOf(sa).threshold) return 'close';
    const deadline = this.host.now() + Math.min(timeoutMs, SECAGG_PHASE_TIMEOUT_MS);
    if (!(await this.host.fl.advanceSecAgg(sa.job_id, sa.round, sa.phase, next, deadline))) return 'wait';
    return { next: got.map((m) => m.device_id) };
  }

  /** Recover the weighted mean of the survivors' updates from what the phases stored. */
  async sum(sa: FlSecAggRoundRecord): Promise<SecureSum> {
    const p = paramsOf(sa);
    if (sa.phase !== 'unmask')
      throw new VergeError('E_CONFLICT', `secure aggregation stopped in phase '${sa.phase}' with too few devices`);
    const msgs = (phase: SecAggPhase) => this.host.fl.secAggMessages(sa.job_id, sa.round, phase);
    const party = (d: string) => p.parties[d]!;
    const server = new SecAggServer(p);
    server.collectKeys(
      (await msgs('advertise')).map((m): AdvertiseKeys => {
        const k = SecAggAdvertise.parse(JSON.parse(m.body));
        return { client: party(m.device_id), encryptionKey: unb64(k.encryption_key), maskKey: unb64(k.mask_key) };
      }),
    );
    server.routeShares(
      (await msgs('share')).map((m): ShareKeys => ({
        client: party(m.device_id),
        bundles: new Map(SecAggShares.parse(JSON.parse(m.body)).bundles.map((b) => [b.to, unb64(b.bundle)])),
      })),
    );
    for (const m of await msgs('mask')) {
      const bytes = await this.host.readArtifact(m.body);
      const masked = new Uint32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      server.collectMasked({ client: party(m.device_id), masked });
    }
    server.survivors();
    const answers = (await msgs('unmask')).map((m): UnmaskShares => {
      const u = SecAggUnmask.parse(JSON.parse(m.body));
      return {
        client: party(m.device_id),
        maskKeyShares: new Map(u.mask_key_shares.map((s) => [s.of, unb64(s.share)])),
        seedShares: new Map(u.seed_shares.map((s) => [s.of, unb64(s.share)])),
      };
    });
    const { sum, survivors, dropped } = await server.finish(answers);
    const total = sum[p.length - 1]!;
    if (!(total > 0)) throw new VergeError('E_CONFLICT', 'secure aggregation: the survivors carry no weight');
    const mean = new Float32Array(p.length - 1);
    for (let i = 0; i < mean.length; i++) mean[i] = sum[i]! / total;
    const byParty = new Map(Object.entries(p.parties).map(([d, i]) => [i, d]));
    return {
      mean,
      survivors: survivors.map((i) => byParty.get(i)!),
      dropped: dropped.map((i) => byParty.get(i)!),
    };
  }
}

function paramsOf(sa: FlSecAggRoundRecord): SecureRoundParams {
  return sa.params as unknown as SecureRoundParams;
}
