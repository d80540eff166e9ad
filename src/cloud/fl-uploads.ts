/**
 * Device uploads of federated learning: key registration, updates, evaluations. Each upload is
 * authenticated twice — the device's HTTP credential (the route) and an ed25519 signature by the
 * key the device registered, over job, round, device, the round's one-time token and the body's
 * sha256 (protocol/fl.ts) — then checked against the round: unknown job or round → 404, a device
 * not selected → 403, a second upload → 409 (duplicate), after the deadline → 409 (late, counted),
 * an update that does not decode, has the wrong size or holds NaN/Inf → 400 and counted as
 * rejected. None of these touches the global model; the round goes on.
 */
import { createHash, createPublicKey, verify } from 'node:crypto';
import { VergeError } from '../errors.ts';
import { acceptUpdate } from '../fl/index.ts';
import {
  FlEvaluationUpload,
  FlMetrics,
  MAX_FL_METRICS_BYTES,
  flEvaluationBody,
  flUploadSignaturePayload,
  publicKeyId,
  type SecAggUploadPhase,
} from '../protocol/index.ts';
import type { FlCoordinator, FlHost } from './fl-coordinator.ts';
import type { FlParticipantRecord, FlRoundRecord } from './repositories/index.ts';
import { HttpError } from './http-auth.ts';

export interface UpdateHeaders {
  token?: string;
  examples?: string;
  metrics?: string;
  signature?: string;
}

/** Counters an operator watches (exposed through the job's history; tests read them). */
export interface FlUploadCounters {
  accepted: number;
  rejected: number;
  duplicate: number;
  late: number;
  badSignature: number;
}

function sha256Hex(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

export class FlUploads {
  readonly counters: FlUploadCounters = { accepted: 0, rejected: 0, duplicate: 0, late: 0, badSignature: 0 };

  constructor(
    private readonly host: FlHost,
    private readonly coordinator: FlCoordinator,
  ) {}

  async registerKey(deviceId: string, pem: string): Promise<{ device_id: string; key_id: string }> {
    let key;
    try {
      key = createPublicKey(pem);
    } catch {
      throw new VergeError('E_BAD_ARGUMENT', 'public_key_pem is not a PEM public key');
    }
    if (key.asymmetricKeyType !== 'ed25519')
      throw new VergeError('E_BAD_ARGUMENT', 'the FL upload key must be ed25519');
    const keyId = publicKeyId(key);
    const pemNorm = key.export({ type: 'spki', format: 'pem' }).toString();
    if (!(await this.host.fl.registerDeviceKey(deviceId, pemNorm, keyId)))
      throw new VergeError('E_CONFLICT', `device ${deviceId} already registered a different FL key`);
    return { device_id: deviceId, key_id: keyId };
  }

  /** The round and this device's seat in it, or the HTTP error that explains why not. */
  private async seat(
    jobId: string,
    round: number,
    deviceId: string,
  ): Promise<{ r: FlRoundRecord; p: FlParticipantRecord }> {
    const job = await this.host.fl.getJob(jobId);
    if (!job) throw new VergeError('E_NOT_FOUND', `no FL job '${jobId}'`);
    const r = await this.host.fl.getRound(jobId, round);
    if (!r) throw new VergeError('E_NOT_FOUND', `FL job ${jobId} has no round ${round}`);
    const p = await this.host.fl.participant(jobId, round, deviceId);
    if (!p) throw new HttpError(403, 'E_AUTH', `device ${deviceId} was not selected for round ${round} of ${jobId}`);
    return { r, p };
  }

  private async checkSignature(
    p: FlParticipantRecord,
    deviceId: string,
    u: { token: string; bodySha256: string; examples: number; metricsJson: string; signature: string },
  ): Promise<void> {
    const key = await this.host.fl.deviceKey(deviceId);
    if (!key) throw new HttpError(401, 'E_AUTH', `device ${deviceId} has no FL key (PUT /v1/fl/device-key first)`);
    const payload = flUploadSignaturePayload({ job: p.job_id, round: p.round, device: deviceId, ...u });
    let ok: boolean;
    try {
      ok = u.token === p.token && verify(null, payload, key.public_key_pem, Buffer.from(u.signature, 'base64'));
    } catch {
      ok = false;
    }
    if (!ok) {
      this.counters.badSignature++;
      throw new HttpError(401, 'E_SIGNATURE', `upload signature does not verify for ${p.job_id} round ${p.round}`);
    }
  }

  /** Refuse a second upload, and an upload after the deadline (recorded as late). */
  private async checkOpen(r: FlRoundRecord, p: FlParticipantRecord): Promise<void> {
    if (p.state === 'accepted' || p.state === 'rejected' || p.state === 'late') {
      this.counters.duplicate++;
      throw new VergeError(
        'E_CONFLICT',
        `duplicate upload: ${p.device_id} already answered round ${r.round} of ${r.job_id}`,
      );
    }
    if (r.state !== 'open' || Date.now() > r.deadline) {
      await this.host.fl.markLate(r.job_id, r.round, p.device_id);
      this.counters.late++;
      throw new VergeError(
        'E_CONFLICT',
        `round ${r.round} of ${r.job_id} closed at its deadline; late update discarded`,
      );
    }
  }

  private parseMetrics(raw: string | undefined): { json: string; metrics: Record<string, number> } {
    const json = raw ?? '{}';
    if (json.length > MAX_FL_METRICS_BYTES)
      throw new VergeError('E_BAD_ARGUMENT', `metrics header exceeds ${MAX_FL_METRICS_BYTES} bytes`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch {
      throw new VergeError('E_BAD_ARGUMENT', 'metrics header is not JSON');
    }
    const m = FlMetrics.safeParse(parsed);
    if (!m.success) throw new VergeError('E_BAD_ARGUMENT', `metrics: ${m.error.issues[0]?.message ?? 'invalid'}`);
    return { json, metrics: m.data };
  }

  /**
   * The headers of a binary upload (an update or a secure-aggregation message) checked, and its
   * signature verified over them and the body: its example count and metrics.
   */
  private async authenticate(
    p: FlParticipantRecord,
    deviceId: string,
    h: UpdateHeaders,
    body: Uint8Array,
  ): Promise<{ examples: number; metrics: Record<string, number> }> {
    const examples = Number(h.examples);
    if (!(Number.isInteger(examples) && examples >= 0))
      throw new VergeError('E_BAD_ARGUMENT', `x-verge-fl-examples must be a whole number, got '${h.examples}'`);
    const { json, metrics } = this.parseMetrics(h.metrics);
    await this.checkSignature(p, deviceId, {
      token: h.token ?? '',
      bodySha256: sha256Hex(body),
      examples,
      metricsJson: json,
      signature: h.signature ?? '',
    });
    return { examples, metrics };
  }

  async receiveUpdate(
    jobId: string,
    round: number,
    deviceId: string,
    h: UpdateHeaders,
    body: Uint8Array,
  ): Promise<{ accepted: boolean; round: number }> {
    const { r, p } = await this.seat(jobId, round, deviceId);
    if (r.task !== 'fit')
      throw new VergeError('E_BAD_ARGUMENT', `round ${round} of ${jobId} is an evaluation round; POST its evaluation`);
    const { examples, metrics } = await this.authenticate(p, deviceId, h, body);
    await this.checkOpen(r, p);
    const { layout } = await this.coordinator.loadModel((await this.host.fl.getJob(jobId))!.model_sha256);
    const verdict = acceptUpdate(body, layout.size);
    if (!verdict.ok) {
      await this.host.fl.deliver(jobId, round, deviceId, {
        state: 'rejected',
        update_sha256: null,
        examples,
        metrics,
        error: `${verdict.code}: ${verdict.reason}`,
        bytes: body.length,
      });
      this.counters.rejected++;
      throw new VergeError('E_BAD_ARGUMENT', `update refused: ${verdict.reason}`);
    }
    const stored = await this.host.artifacts.putBytes(body);
    await this.host.recordArtifact(stored.sha256, stored.size);
    if (
      !(await this.host.fl.deliver(jobId, round, deviceId, {
        state: 'accepted',
        update_sha256: stored.sha256,
        examples,
        metrics,
        error: null,
        bytes: body.length,
      }))
    ) {
      this.counters.duplicate++;
      throw new VergeError('E_CONFLICT', `duplicate upload: ${deviceId} already answered round ${round} of ${jobId}`);
    }
    this.counters.accepted++;
    void this.coordinator.tick().catch(() => undefined);
    return { accepted: true, round };
  }

  /**
   * A secure-aggregation message (advertise, share, mask, unmask), signed like an update. Only the
   * round's current phase, from a member of it, before the phase deadline, once. A masked input is
   * stored as an artifact and makes the device a contributor of the round (participant accepted,
   * no update stored).
   */
  async receiveSecAgg(
    jobId: string,
    round: number,
    deviceId: string,
    phase: SecAggUploadPhase,
    h: UpdateHeaders,
    body: Uint8Array,
  ): Promise<{ accepted: boolean; round: number }> {
    const { r, p } = await this.seat(jobId, round, deviceId);
    const sa = r.task === 'fit' ? await this.coordinator.secure.get(jobId, round) : null;
    if (!sa) throw new VergeError('E_BAD_ARGUMENT', `round ${round} of ${jobId} is not a secure-aggregation round`);
    const { examples, metrics } = await this.authenticate(p, deviceId, h, body);
    if (r.state !== 'open') {
      this.counters.late++;
      throw new VergeError('E_CONFLICT', `round ${round} of ${jobId} is closed; secure-aggregation message discarded`);
    }
    const checked = await this.coordinator.secure.check(sa, deviceId, phase, body);
    let stored = checked.json!;
    if (checked.masked) {
      const a = await this.host.artifacts.putBytes(checked.masked);
      await this.host.recordArtifact(a.sha256, a.size);
      stored = a.sha256;
    }
    const fresh = await this.host.fl.putSecAggMessage({
      job_id: jobId,
      round,
      device_id: deviceId,
      phase,
      body: stored,
      bytes: body.length,
      received_at: Date.now(),
    });
    if (!fresh) {
      this.counters.duplicate++;
      throw new VergeError('E_CONFLICT', `duplicate upload: ${deviceId} already sent '${phase}' for round ${round}`);
    }
    if (phase === 'mask') {
      await this.host.fl.deliver(jobId, round, deviceId, {
        state: 'accepted',
        update_sha256: null,
        examples,
        metrics,
        error: null,
        bytes: body.length,
      });
      this.counters.accepted++;
    }
    void this.coordinator.tick().catch(() => undefined);
    return { accepted: true, round };
  }

  async receiveEvaluation(
    jobId: string,
    round: number,
    deviceId: string,
    input: unknown,
  ): Promise<{ accepted: boolean; round: number }> {
    const parsed = FlEvaluationUpload.safeParse(input);
    if (!parsed.success)
      throw new VergeError('E_BAD_ARGUMENT', `evaluation: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    const e = parsed.data;
    const { r, p } = await this.seat(jobId, round, deviceId);
    if (r.task !== 'evaluate')
      throw new VergeError('E_BAD_ARGUMENT', `round ${round} of ${jobId} is a training round; POST an update`);
    const metrics = { examples: e.examples, loss: e.loss, accuracy: e.accuracy };
    const json = flEvaluationBody(metrics);
    await this.checkSignature(p, deviceId, {
      token: e.token,
      bodySha256: sha256Hex(new TextEncoder().encode(json)),
      examples: e.examples,
      metricsJson: json,
      signature: e.signature,
    });
    await this.checkOpen(r, p);
    if (
      !(await this.host.fl.deliver(jobId, round, deviceId, {
        state: 'accepted',
        update_sha256: null,
        examples: e.examples,
        metrics,
        error: null,
        bytes: 0,
      }))
    )
      throw new VergeError('E_CONFLICT', `duplicate upload: ${deviceId} already answered round ${round} of ${jobId}`);
    void this.coordinator.tick().catch(() => undefined);
    return { accepted: true, round };
  }
}
