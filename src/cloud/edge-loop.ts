/**
 * The edge data loop on the control plane (docs/edge-loop.md): per-deployment policies (sent to
 * devices inside their desired state), the items devices upload (decoded once on arrival to check
 * them, stored with their codec frame), labels from operators or the cloud model, and the export
 * of labelled items as a dataset. Dependencies come through `EdgeLoopHost`.
 */
import { CODEC_NAMES, decodeTensor, encodeTensor, type CodecContext } from '../data/browser.ts';
import { VergeError, fmtInt, isVergeError } from '../errors.ts';
import {
  DRIFT_PSI_THRESHOLD,
  DriftSummary,
  DriftUploadRequest,
  emptyDriftSummary,
  mergeDriftSummaries,
  psi,
  type DriftOverview,
  type DriftScore,
  LabelItemsRequest,
  MAX_UNKNOWN_NAMED,
  type LabelItemsResponse,
  SetEdgeLoopPolicyRequest,
  decodeUploadBatch,
  encodeUploadBatch,
  MAX_UPLOAD_ITEMS,
  MAX_UPLOAD_BYTES,
  EDGE_LOOP_PATHS,
  type CollectedItem,
  type EdgeLoopPolicy,
  type UploadResponse,
  type UplinkCodecsResponse,
} from '../protocol/index.ts';
import type { EdgeLoopRepository, ItemQuery } from './repositories/index.ts';
import { decodeCodecFrame } from '../protocol/browser.ts';
import { Gauge, type Registry } from 'prom-client';
import {
  QUOTA_RETRY_AFTER_S,
  UploadRateLimiter,
  checkUploadLimits,
  type UploadLimits,
  type UploadRefusal,
} from './edge-loop-limits.ts';

export interface EdgeLoopHost {
  repo: EdgeLoopRepository;
  /** The deployment's model and devices, or null when there is no such deployment. */
  deployment(id: string): Promise<{ id: string; model: string; devices: string[] } | null>;
  /** Re-send a device's desired state (it now carries the new policy). */
  publishDesiredState(deviceId: string): Promise<void>;
  codecContext: CodecContext;
  /** Learned codecs (`name@version`) whose decoder is in the registry. */
  learnedCodecs(): Promise<string[]>;
  /**
   * The number of classes model `name@version` predicts (its output's last dimension), or null
   * when the registry cannot say (no such version, a dynamic output size).
   */
  classCount(name: string, version: string): Promise<number | null>;
  /** Per-device upload bounds (default DEFAULT_UPLOAD_LIMITS). */
  uploadLimits?: Partial<UploadLimits>;
}

/** An upload refused for the device's rate or quota: answered 429 with Retry-After. */
export class UploadRefusedError extends VergeError {
  constructor(
    r: UploadRefusal,
    readonly retryAfterS = r.retryAfterS,
  ) {
    super(r.error.code, r.error.message);
  }
}

/** Window of the drift gauges on /metrics, and how long one computation of it serves scrapes. */
export const DRIFT_METRICS_WINDOW_MS = 3600_000;
export const DRIFT_METRICS_TTL_MS = 15_000;

/** Upper bound of one item's metadata in an export page. */
const EXPORT_META_BYTES = 4096 + 8;

/** Largest page of item metadata one list request returns. */
export const MAX_ITEMS_PAGE = 10_000;

export class EdgeLoopService {
  private readonly uploads: UploadRateLimiter;

  constructor(private readonly host: EdgeLoopHost) {
    this.uploads = new UploadRateLimiter(checkUploadLimits(host.uploadLimits));
  }

  get uploadLimits(): UploadLimits {
    return this.uploads.limits;
  }

  /**
   * Before an upload's body is read: refuse a device over its batch or byte rate. `bytes` is the
   * announced content-length (null when the request has none: charged once the body is read).
   */
  admitUpload(deviceId: string, bytes: number | null): void {
    const r = this.uploads.take(deviceId, bytes ?? 0);
    if (r) throw new UploadRefusedError(r);
  }

  /** How this control plane decodes frames (learned decoders from the registry). */
  get codecContext(): CodecContext {
    return this.host.codecContext;
  }

  async setPolicy(deploymentId: string, body: unknown): Promise<EdgeLoopPolicy> {
    const d = await this.host.deployment(deploymentId);
    if (!d) throw new VergeError('E_NOT_FOUND', `no deployment '${deploymentId}'`);
    const parsed = SetEdgeLoopPolicyRequest.safeParse(body ?? {});
    if (!parsed.success)
      throw new VergeError(
        'E_BAD_ARGUMENT',
        parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '),
      );
    const policy = parsed.data as EdgeLoopPolicy;
    for (const spec of [...(policy.collect?.codecs ?? []), ...(policy.offload ? [policy.offload.codec] : [])]) {
      const name = spec.split(':')[0]!;
      if (!CODEC_NAMES.includes(name))
        throw new VergeError('E_BAD_ARGUMENT', `unknown codec '${name}' (known: ${CODEC_NAMES.join(', ')})`);
    }
    await this.host.repo.setPolicy(deploymentId, policy);
    for (const dev of d.devices) await this.host.publishDesiredState(dev).catch(() => undefined);
    return policy;
  }

  async policy(deploymentId: string): Promise<EdgeLoopPolicy> {
    if (!(await this.host.deployment(deploymentId)))
      throw new VergeError('E_NOT_FOUND', `no deployment '${deploymentId}'`);
    const p = await this.host.repo.policy(deploymentId);
    if (!p) throw new VergeError('E_NOT_FOUND', `deployment '${deploymentId}' has no edge-loop policy`);
    return p;
  }

  policiesFor(deploymentIds: readonly string[]): Promise<Map<string, EdgeLoopPolicy>> {
    return this.host.repo.policies(deploymentIds);
  }

  async codecs(): Promise<UplinkCodecsResponse> {
    return { codecs: [...CODEC_NAMES], learned: await this.host.learnedCodecs() };
  }

  /**
   * Store an upload batch. A malformed container is refused whole (E_DATA_INVALID, nothing
   * stored); each item's frame is decoded to check it, and an item that does not decode is
   * refused alone, with its reason, so the agent stops resending it.
   */
  async receive(deviceId: string, body: Uint8Array, charged = true): Promise<UploadResponse> {
    if (!charged) this.uploads.charge(deviceId, body.length);
    const batch = decodeUploadBatch(body);
    const rejected: UploadResponse['rejected'] = [];
    const good: Parameters<EdgeLoopRepository['insertItems']>[1] = [];
    const seen = new Set<string>();
    for (const it of batch.items) {
      if ('error' in it) {
        rejected.push({ id: it.id, code: 'E_BAD_ARGUMENT', message: it.error });
        continue;
      }
      if (seen.has(it.meta.id)) continue;
      seen.add(it.meta.id);
      try {
        const frame = decodeCodecFrame(it.frame);
        await decodeTensor(it.frame, this.host.codecContext);
        good.push({ meta: it.meta, codec: frame.codec, dims: frame.dims, frame: it.frame });
      } catch (e) {
        const err = isVergeError(e) ? e : new VergeError('E_DATA_INVALID', (e as Error).message);
        rejected.push({ id: it.meta.id, code: err.code, message: err.message });
      }
    }
    if (good.length) {
      const quota = this.uploads.limits.storedBytesPerDevice;
      const stored = await this.host.repo.storedBytes(deviceId);
      const adding = good.reduce((a, g) => a + g.frame.length, 0);
      if (stored + adding > quota)
        throw new UploadRefusedError({
          retryAfterS: QUOTA_RETRY_AFTER_S,
          error: new VergeError(
            'E_OVERLOADED',
            `device ${deviceId} has ${fmtInt(stored)} bytes of collected items stored, quota ${fmtInt(quota)}: this batch of ${fmtInt(adding)} is refused (items stay on the device)`,
          ),
        });
    }
    const fresh = await this.host.repo.insertItems(deviceId, good);
    return {
      accepted: good.filter((g) => fresh.has(g.meta.id)).map((g) => g.meta.id),
      duplicates: good.filter((g) => !fresh.has(g.meta.id)).map((g) => g.meta.id),
      rejected,
    };
  }

  async list(q: ItemQuery): Promise<{ items: CollectedItem[]; total: number }> {
    const limit = Math.min(q.limit ?? 100, MAX_ITEMS_PAGE);
    const items = await this.host.repo.items({ ...q, limit }, false);
    return { items: items.map(({ frame: _f, ...rest }) => rest), total: await this.host.repo.count(q) };
  }

  /** Operator labels; items not found (or not of `model`) are named in `unknown_items` and change nothing. */
  async label(body: unknown): Promise<LabelItemsResponse> {
    const r = LabelItemsRequest.safeParse(body);
    if (!r.success)
      throw new VergeError('E_BAD_ARGUMENT', r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    await this.checkClasses(r.data.labels);
    const unknown = await this.host.repo.label(r.data.labels, 'operator', r.data.model);
    return {
      labelled: r.data.labels.length - unknown.length,
      unknown: unknown.length,
      unknown_items: unknown.slice(0, MAX_UNKNOWN_NAMED),
    };
  }

  /**
   * Every label must be a class of the model version its item was collected with (a label past the
   * classifier's outputs would break retraining later): the whole request is refused, naming the
   * first such label, and nothing is labelled. Items not found are left to `label` (unknown_items).
   */
  private async checkClasses(labels: readonly { device_id: string; id: string; label: number }[]): Promise<void> {
    const versions = await this.host.repo.itemVersions(labels);
    const classes = new Map<string, Promise<number | null>>();
    for (const l of labels) {
      const v = versions.get(`${l.device_id}/${l.id}`);
      if (!v) continue;
      const ref = `${v.model}@${v.version}`;
      if (!classes.has(ref)) classes.set(ref, this.host.classCount(v.model, v.version));
      const k = await classes.get(ref)!;
      if (k !== null && l.label >= k)
        throw new VergeError(
          'E_BAD_ARGUMENT',
          `${l.device_id}/${l.id}: label ${l.label} is not a class of ${ref} (classes 0-${k - 1}); nothing labelled`,
        );
    }
  }

  /**
   * Items as a dataset page: an upload batch whose frames are the decoded inputs re-encoded
   * lossless (so the reader needs no learned decoder) and whose metadata's `cloud_predicted`
   * carries the label (operator label first, else the cloud model's answer).
   */
  async exportPage(q: ItemQuery): Promise<Uint8Array> {
    const items = await this.host.repo.items(
      { ...q, limit: Math.min(q.limit ?? MAX_UPLOAD_ITEMS, MAX_UPLOAD_ITEMS) },
      true,
    );
    const out = [];
    let bytes = 8;
    for (const it of items) {
      const t = await decodeTensor(it.frame, this.host.codecContext);
      const {
        device_id: _d,
        received_at: _r,
        codec: _c,
        dims: _dims,
        frame_bytes: _fb,
        label,
        label_source: _ls,
        frame: _f,
        ...meta
      } = it;
      const frame = (await encodeTensor('lossless', { dims: t.dims, data: t.data })).frame;
      bytes += frame.length + EXPORT_META_BYTES;
      if (bytes > MAX_UPLOAD_BYTES && out.length > 0) break; // the next page starts here (offset + returned count)
      out.push({ meta: { ...meta, cloud_predicted: label ?? meta.cloud_predicted }, frame });
    }
    return encodeUploadBatch(out);
  }

  /** Drift summaries from a device; each report must be about that device. */
  async receiveDrift(deviceId: string, body: unknown): Promise<{ stored: number }> {
    const r = DriftUploadRequest.safeParse(body);
    if (!r.success)
      throw new VergeError('E_BAD_ARGUMENT', r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    if (r.data.reports.some((x) => x.device_id !== deviceId))
      throw new VergeError('E_AUTH', `a device reports drift only for itself (${deviceId})`);
    await this.host.repo.insertDrift(r.data.reports);
    return { stored: r.data.reports.length };
  }

  async setReference(ref: string, body: unknown): Promise<DriftSummary> {
    const { name, version } = splitRef(ref);
    const r = DriftSummary.safeParse(body);
    if (!r.success)
      throw new VergeError('E_BAD_ARGUMENT', r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    await this.host.repo.setReference(name, version, r.data);
    return r.data;
  }

  async reference(ref: string): Promise<DriftSummary> {
    const { name, version } = splitRef(ref);
    const s = await this.host.repo.reference(name, version);
    if (!s) throw new VergeError('E_NOT_FOUND', `no drift reference for ${name}@${version}`);
    return s;
  }

  /**
   * The drift score of `model` since `since`: the devices' summaries merged (for `version`, or
   * the version most samples came from) against that version's training reference, PSI per
   * feature and on the class mix; the score is the largest.
   */
  async driftScore(model: string, since: number, version?: string): Promise<DriftScore> {
    const rows = await this.host.repo.driftSince(model, since);
    const byVersion = new Map<string, number>();
    for (const r of rows) byVersion.set(r.version, (byVersion.get(r.version) ?? 0) + r.summary.samples);
    const v = version ?? [...byVersion.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
    if (!v)
      throw new VergeError('E_NOT_FOUND', `no drift reports of '${model}' since ${new Date(since).toISOString()}`);
    const ref = await this.host.repo.reference(model, v);
    if (!ref)
      throw new VergeError(
        'E_NOT_FOUND',
        `no drift reference for ${model}@${v} (PUT ${EDGE_LOOP_PATHS.reference(`${model}@${v}`)}; verge retrain stores one)`,
      );
    const mine = rows.filter((r) => r.version === v);
    const cur = mine.reduce((acc, r) => mergeDriftSummaries(acc, r.summary), emptyDriftSummary());
    const { psi: p, score } = scoreAgainst(ref, cur);
    const perDevice = new Map<string, DriftSummary>();
    for (const r of mine)
      perDevice.set(r.device_id, mergeDriftSummaries(perDevice.get(r.device_id) ?? emptyDriftSummary(), r.summary));
    const byDevice = [...perDevice].map(([device_id, summary]) => {
      const s = scoreAgainst(ref, summary).score;
      return { device_id, samples: summary.samples, score: s, drifted: s !== null && s > DRIFT_PSI_THRESHOLD };
    });
    byDevice.sort((a, b) => (b.score ?? -1) - (a.score ?? -1) || a.device_id.localeCompare(b.device_id));
    return {
      model,
      version: v,
      since,
      samples: cur.samples,
      psi: p,
      score,
      threshold: DRIFT_PSI_THRESHOLD,
      drifted: score !== null && score > DRIFT_PSI_THRESHOLD,
      devices: perDevice.size,
      by_device: byDevice,
    };
  }

  /** Every model with drift reports since `since`: scored against its reference, or why not. */
  async driftOverview(since: number): Promise<DriftOverview> {
    const out: DriftOverview = { since, models: [], unscored: [] };
    for (const model of await this.host.repo.driftModels(since)) {
      try {
        out.models.push(await this.driftScore(model, since));
      } catch (e) {
        if (!isVergeError(e) || e.code !== 'E_NOT_FOUND') throw e;
        const rows = await this.host.repo.driftSince(model, since);
        const byVersion = new Map<string, number>();
        for (const r of rows) byVersion.set(r.version, (byVersion.get(r.version) ?? 0) + r.summary.samples);
        for (const [version, samples] of byVersion) out.unscored.push({ model, version, samples, reason: e.message });
      }
    }
    return out;
  }

  /**
   * Drift on the control plane's Prometheus registry: PSI per feature and the score, samples and
   * drifted devices per (model, version) over the last DRIFT_METRICS_WINDOW_MS, computed at most
   * once per DRIFT_METRICS_TTL_MS (a scrape does not re-read the window each time).
   */
  registerMetrics(registry: Registry): void {
    let cached: { at: number; value: Promise<DriftOverview> } | undefined;
    const overview = () => {
      if (!cached || Date.now() - cached.at > DRIFT_METRICS_TTL_MS) {
        const value = this.driftOverview(Date.now() - DRIFT_METRICS_WINDOW_MS);
        cached = { at: Date.now(), value };
        value.catch(() => (cached = undefined));
      }
      return cached.value;
    };
    new Gauge({
      name: 'verge_drift_psi',
      help: 'edge-loop input drift over the last hour: PSI against the version reference, per feature (mean, std, class_mix) and the score (their max); > 0.25 = drifted',
      labelNames: ['model', 'version', 'feature'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const m of (await overview().catch(() => null))?.models ?? []) {
          const l = { model: m.model, version: m.version };
          for (const [feature, v] of Object.entries({ ...m.psi, score: m.score }))
            if (v !== null) this.set({ ...l, feature }, v);
        }
      },
    });
    new Gauge({
      name: 'verge_drift_samples',
      help: 'inputs summarised in the drift window (last hour), per model and version',
      labelNames: ['model', 'version'],
      registers: [registry],
      async collect() {
        this.reset();
        const o = await overview().catch(() => null);
        for (const m of o?.models ?? []) this.set({ model: m.model, version: m.version }, m.samples);
        for (const u of o?.unscored ?? []) this.set({ model: u.model, version: u.version }, u.samples);
      },
    });
    new Gauge({
      name: 'verge_drift_devices_drifted',
      help: 'devices whose own inputs score above the drift threshold (last hour), per model and version',
      labelNames: ['model', 'version'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const m of (await overview().catch(() => null))?.models ?? [])
          this.set({ model: m.model, version: m.version }, m.by_device?.filter((d) => d.drifted).length ?? 0);
      },
    });
  }
}

/** PSI of `cur` against `ref` per feature and on the class mix; the score is the largest. */
function scoreAgainst(ref: DriftSummary, cur: DriftSummary): { psi: DriftScore['psi']; score: number | null } {
  const p = {
    mean: psi(ref.features.mean, cur.features.mean),
    std: psi(ref.features.std, cur.features.std),
    class_mix: psi(ref.class_counts, cur.class_counts),
  };
  const values = Object.values(p).filter((x): x is number => x !== null);
  return { psi: p, score: values.length ? Math.max(...values) : null };
}

function splitRef(ref: string): { name: string; version: string } {
  const m = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,127})@([0-9A-Za-z.+-]{1,64})$/.exec(ref);
  if (!m) throw new VergeError('E_BAD_ARGUMENT', `model reference must be <name>@<version>, got '${ref}'`);
  return { name: m[1]!, version: m[2]! };
}
