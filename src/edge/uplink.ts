/**
 * Uploads collected items to the cloud: batched (≤ MAX_UPLOAD_ITEMS items, ≤ MAX_UPLOAD_BYTES),
 * rate-bounded (at most `batchesPerTick` batches every `intervalMs`), acknowledged per item, and
 * resumable: an item is marked uploaded only when the cloud answered that it stored it (or already
 * had it), so a lost answer means a resend that the cloud deduplicates by item id. While the cloud
 * is unreachable the items stay in the CollectionStore within its quota.
 *
 * Codec negotiation: the agent asks the cloud which codecs it decodes (GET /v1/edge-loop/codecs)
 * and uses, per item, the first codec of the model's policy that the cloud decodes and the agent
 * can encode; `lossless` is always possible.
 */
import { encodeTensor, type CodecContext } from '../data/browser.ts';
import { VergeError, isVergeError } from '../errors.ts';
import {
  EDGE_LOOP_PATHS,
  MAX_UPLOAD_BYTES,
  MAX_UPLOAD_ITEMS,
  UploadResponse,
  UplinkCodecsResponse,
  encodeUploadBatch,
  type UploadItem,
} from '../protocol/index.ts';
import type { CollectionStore, StoredItem } from './collection-store.ts';
import { deviceAuthHeader, joinUrl } from './enrollment.ts';

/** Default period of upload attempts. */
export const UPLOAD_INTERVAL_MS = 5_000;
/** Batches per period: with 256-item batches, ≤ 1,024 items per 5 s — bounded, yet drains a backlog. */
export const UPLOAD_BATCHES_PER_TICK = 4;
/** One upload request may take this long before it counts as failed (and is retried). */
export const UPLOAD_TIMEOUT_MS = 30_000;
/** Longest pause a 429's Retry-After can impose (a wrong header must not silence a device for days). */
const MAX_RETRY_AFTER_S = 3600;
/** Re-ask the cloud for its codecs this often (a learned decoder may be added). */
const NEGOTIATION_TTL_MS = 5 * 60_000;
/** Header bytes of a batch and of each item, besides metadata and frame. */
const BATCH_HEADER = 8;
const ITEM_META_ESTIMATE = 600;

export interface UplinkHost {
  cloudUrl: () => string;
  /** HTTP to the cloud (cloud-channel.ts: the agent's CA and client certificate); default: global fetch. */
  fetch?: typeof fetch;
  deviceId: string;
  password: string;
  store: CollectionStore;
  /** The model's codec preference, or null when its items must not be uploaded. */
  codecsFor(model: string): string[] | null;
  codecContext: CodecContext;
  log: (line: string) => void;
}

export interface UploadReport {
  sent: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  bytes: number;
  /** Set when the cloud could not be reached or refused the request. */
  error?: string;
}

export class CollectionUplink {
  private timer?: NodeJS.Timeout;
  private running?: Promise<UploadReport>;
  private negotiated?: { at: number; codecs: Set<string>; learned: Set<string> };
  private stopped = false;
  /** The cloud answered 429 (rate or storage quota): no upload before this time. */
  private pausedUntil = 0;
  /** Totals since start (reported in GET /v1/agent); `throttled` = 429 answers. */
  readonly totals = { batches: 0, items: 0, bytes: 0, raw_bytes: 0, failures: 0, throttled: 0 };

  constructor(
    private readonly host: UplinkHost,
    private readonly opts: { intervalMs?: number; batchesPerTick?: number; batchItems?: number } = {},
  ) {}

  start(): void {
    this.timer = setInterval(
      () => void this.uploadNow().catch(() => undefined),
      this.opts.intervalMs ?? UPLOAD_INTERVAL_MS,
    );
    this.timer.unref();
  }

  stop(): Promise<unknown> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    return this.running?.catch(() => undefined) ?? Promise.resolve();
  }

  /** One period's worth of uploads now (serialized with the timer's). */
  uploadNow(): Promise<UploadReport> {
    if (!this.running)
      this.running = this.tick().finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: deviceAuthHeader(this.host.deviceId, this.host.password), ...extra };
  }

  private url(path: string): string {
    return joinUrl(this.host.cloudUrl(), path.replace(/^\//, ''));
  }

  private async negotiate(): Promise<{ codecs: Set<string>; learned: Set<string> }> {
    if (this.negotiated && Date.now() - this.negotiated.at < NEGOTIATION_TTL_MS) return this.negotiated;
    const res = await (this.host.fetch ?? fetch)(this.url(EDGE_LOOP_PATHS.codecs), {
      headers: this.headers(),
      signal: AbortSignal.timeout(UPLOAD_TIMEOUT_MS),
    });
    if (!res.ok) throw new VergeError('E_NETWORK', `codec negotiation: HTTP ${res.status}`);
    const body = UplinkCodecsResponse.parse(await res.json());
    this.negotiated = { at: Date.now(), codecs: new Set(body.codecs), learned: new Set(body.learned) };
    return this.negotiated;
  }

  /** The codec spec to send an item of `model` with. */
  private async chooseCodec(model: string, cloud: { codecs: Set<string>; learned: Set<string> }): Promise<string> {
    for (const spec of this.host.codecsFor(model) ?? []) {
      const [name, option] = [spec.split(':')[0]!, spec.split(':').slice(1).join(':')];
      if (!cloud.codecs.has(name)) continue;
      const ref = name === 'learned' ? option.replace(/:[0-9]+$/, '') : ''; // learned:<ref>[:bits]
      if (name === 'learned' && (!cloud.learned.has(ref) || !(await this.host.codecContext.learned?.(ref))?.encode))
        continue;
      return spec;
    }
    return 'lossless';
  }

  private async tick(): Promise<UploadReport> {
    const report: UploadReport = { sent: 0, accepted: 0, duplicates: 0, rejected: 0, bytes: 0 };
    if (this.stopped) return report;
    if (Date.now() < this.pausedUntil) {
      report.error = `the cloud asked to wait until ${new Date(this.pausedUntil).toISOString()}`;
      return report;
    }
    const batchItems = Math.min(this.opts.batchItems ?? MAX_UPLOAD_ITEMS, MAX_UPLOAD_ITEMS);
    let after = 0;
    for (let b = 0; b < (this.opts.batchesPerTick ?? UPLOAD_BATCHES_PER_TICK) && !this.stopped; b++) {
      const candidates = this.host.store.pendingUpload(batchItems, after);
      if (candidates.length === 0) break;
      const eligible = candidates.filter((c) => this.host.codecsFor(c.model.name) !== null);
      if (eligible.length === 0) {
        after = candidates[candidates.length - 1]!.seq;
        continue;
      }
      let cloud;
      try {
        cloud = await this.negotiate();
      } catch (e) {
        report.error = errorText(e);
        this.totals.failures++;
        break;
      }
      const { items, raw, processed } = await this.encode(eligible, cloud);
      after = processed === eligible.length ? candidates[candidates.length - 1]!.seq : eligible[processed - 1]!.seq;
      const r = await this.send(items);
      report.sent += items.length;
      report.accepted += r.accepted;
      report.duplicates += r.duplicates;
      report.rejected += r.rejected;
      report.bytes += r.bytes;
      if (r.error) {
        report.error = r.error;
        this.totals.failures++;
        break;
      }
      this.totals.raw_bytes += raw;
    }
    return report;
  }

  /**
   * Encode items in order until the batch would pass MAX_UPLOAD_BYTES; `processed` counts the
   * candidates dealt with (batched, or marked rejected because they cannot be encoded or sent).
   */
  private async encode(
    candidates: StoredItem[],
    cloud: { codecs: Set<string>; learned: Set<string> },
  ): Promise<{ items: UploadItem[]; raw: number; processed: number }> {
    const items: UploadItem[] = [];
    let size = BATCH_HEADER;
    let raw = 0;
    let processed = 0;
    for (const c of candidates) {
      let frame: Uint8Array;
      try {
        const spec = await this.chooseCodec(c.model.name, cloud);
        frame = (await encodeTensor(spec, { dims: [1, ...c.dims], data: c.data }, this.host.codecContext)).frame;
        if (BATCH_HEADER + ITEM_META_ESTIMATE + frame.length > MAX_UPLOAD_BYTES)
          throw new VergeError('E_BAD_ARGUMENT', `${frame.length} encoded bytes exceed one upload batch`);
      } catch (e) {
        this.host.store.markRejected(c.id, `not uploadable: ${errorText(e)}`);
        this.host.log(`collected item ${c.id} cannot be uploaded (${errorText(e)}); kept on the device`);
        processed++;
        continue;
      }
      if (size + ITEM_META_ESTIMATE + frame.length > MAX_UPLOAD_BYTES) break;
      size += ITEM_META_ESTIMATE + frame.length;
      raw += c.data.byteLength;
      const { seq: _s, dims: _d, data: _x, bytes: _b, uploaded_at: _u, upload_error: _e, ...meta } = c;
      items.push({ meta, frame });
      processed++;
    }
    return { items, raw, processed };
  }

  private async send(items: UploadItem[]): Promise<Omit<UploadReport, 'sent'>> {
    const out = { accepted: 0, duplicates: 0, rejected: 0, bytes: 0 } as Omit<UploadReport, 'sent'>;
    if (items.length === 0) return out;
    const body = encodeUploadBatch(items);
    let res: Response;
    try {
      res = await (this.host.fetch ?? fetch)(this.url(EDGE_LOOP_PATHS.items), {
        method: 'POST',
        headers: this.headers({ 'content-type': 'application/octet-stream' }),
        body,
        signal: AbortSignal.timeout(UPLOAD_TIMEOUT_MS),
      });
    } catch (e) {
      return { ...out, error: `cloud unreachable: ${errorText(e)}` };
    }
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      let msg = `HTTP ${res.status}`;
      try {
        msg = (JSON.parse(text) as { error: { code: string; message: string } }).error.message;
      } catch {
        /* not an error body */
      }
      if (res.status === 429) {
        // over the cloud's rate or storage quota for this device: wait as told (items stay queued)
        const s = Number(res.headers.get('retry-after'));
        this.pausedUntil = Date.now() + 1000 * Math.min(Number.isFinite(s) && s > 0 ? s : 60, MAX_RETRY_AFTER_S);
        this.totals.throttled++;
        this.host.log(`uploads paused for ${Math.round((this.pausedUntil - Date.now()) / 1000)} s: ${msg}`);
      }
      // 4xx other than auth: this batch itself is refused; the items stay pending (a newer cloud may take them)
      return { ...out, error: `upload refused: ${msg}` };
    }
    const parsed = UploadResponse.parse(await res.json());
    this.host.store.markUploaded([...parsed.accepted, ...parsed.duplicates]);
    for (const r of parsed.rejected) if (r.id) this.host.store.markRejected(r.id, `${r.code}: ${r.message}`);
    this.totals.batches++;
    this.totals.items += parsed.accepted.length;
    this.totals.bytes += body.length;
    return {
      accepted: parsed.accepted.length,
      duplicates: parsed.duplicates.length,
      rejected: parsed.rejected.length,
      bytes: body.length,
    };
  }
}

function errorText(e: unknown): string {
  if (isVergeError(e)) return `${e.code}: ${e.message}`;
  const cause = (e as { cause?: { code?: string } }).cause;
  return cause?.code ?? (e as Error).message;
}
