/**
 * Bounds on what one device may upload to the edge data loop (POST /v1/edge-loop/items), enforced
 * by the control plane whatever the agent does: a rate (batches and bytes per minute, a token
 * bucket per device, checked before the body is read) and a storage quota (frame bytes the cloud
 * keeps per device). Each batch is also bounded by MAX_UPLOAD_BYTES / MAX_UPLOAD_ITEMS (the
 * route's body limit and the batch decoder). An agent told 429 keeps its items queued within its
 * own quota and retries after Retry-After, so a limit delays uploads and loses nothing.
 *
 * Rates are per control-plane replica (each counts the requests it serves), as for any in-process
 * limiter; the storage quota is read from the shared database.
 */
import { VergeError, fmtInt } from '../errors.ts';
import { MAX_UPLOAD_BYTES } from '../protocol/index.ts';

export interface UploadLimits {
  /** Upload batches one device may send per minute (an agent sends at most 48: 4 every 5 s). */
  batchesPerMinute: number;
  /** Upload bytes one device may send per minute (at least one full batch always fits the burst). */
  bytesPerMinute: number;
  /** Frame bytes of collected items the cloud stores per device; beyond it, uploads are refused. */
  storedBytesPerDevice: number;
}

export const DEFAULT_UPLOAD_LIMITS: Readonly<UploadLimits> = Object.freeze({
  batchesPerMinute: 120,
  bytesPerMinute: 64 * 2 ** 20,
  storedBytesPerDevice: 1024 * 2 ** 20,
});

/** How long a device over its storage quota is told to wait before trying again. */
export const QUOTA_RETRY_AFTER_S = 600;
/** Devices tracked before idle (refilled) buckets are dropped: bounds the limiter's memory. */
const MAX_TRACKED_DEVICES = 100_000;

interface Bucket {
  batches: number;
  bytes: number;
  at: number;
}

/** A refusal: the error to answer with and the seconds the device should wait. */
export interface UploadRefusal {
  error: VergeError;
  retryAfterS: number;
}

export function checkUploadLimits(limits: Partial<UploadLimits> | undefined): UploadLimits {
  const l = { ...DEFAULT_UPLOAD_LIMITS, ...limits };
  for (const [k, v] of Object.entries(l))
    if (!Number.isFinite(v) || v <= 0)
      throw new VergeError('E_BAD_ARGUMENT', `upload limit ${k} must be > 0, got ${v}`);
  return l;
}

/** Per-device token buckets for upload batches and bytes. */
export class UploadRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly byteBurst: number;

  constructor(
    readonly limits: UploadLimits,
    private readonly now: () => number = Date.now,
  ) {
    this.byteBurst = Math.max(limits.bytesPerMinute, MAX_UPLOAD_BYTES);
  }

  private refill(deviceId: string): Bucket {
    const t = this.now();
    let b = this.buckets.get(deviceId);
    if (!b) {
      if (this.buckets.size >= MAX_TRACKED_DEVICES) this.dropIdle();
      b = { batches: this.limits.batchesPerMinute, bytes: this.byteBurst, at: t };
      this.buckets.set(deviceId, b);
      return b;
    }
    const minutes = Math.max(0, t - b.at) / 60_000;
    b.batches = Math.min(this.limits.batchesPerMinute, b.batches + minutes * this.limits.batchesPerMinute);
    b.bytes = Math.min(this.byteBurst, b.bytes + minutes * this.limits.bytesPerMinute);
    b.at = t;
    return b;
  }

  private dropIdle(): void {
    for (const [id, b] of this.buckets) {
      const minutes = (this.now() - b.at) / 60_000;
      if (minutes >= 1) this.buckets.delete(id);
    }
  }

  /**
   * Take one batch of `bytes` (0 when the size is not known yet: `charge` it later). Returns a
   * refusal, with how long to wait, when the device is over its rate.
   */
  take(deviceId: string, bytes: number): UploadRefusal | null {
    const b = this.refill(deviceId);
    const perMin = this.limits;
    if (b.batches < 1) {
      const wait = Math.ceil(((1 - b.batches) / perMin.batchesPerMinute) * 60);
      return {
        retryAfterS: Math.max(1, wait),
        error: new VergeError(
          'E_OVERLOADED',
          `device ${deviceId} sends more than ${fmtInt(perMin.batchesPerMinute)} upload batches per minute; retry in ${Math.max(1, wait)} s`,
        ),
      };
    }
    if (bytes > b.bytes) {
      const wait = Math.ceil(((bytes - b.bytes) / perMin.bytesPerMinute) * 60);
      return {
        retryAfterS: Math.max(1, wait),
        error: new VergeError(
          'E_OVERLOADED',
          `device ${deviceId} sends more than ${fmtInt(perMin.bytesPerMinute)} upload bytes per minute; retry in ${Math.max(1, wait)} s`,
        ),
      };
    }
    b.batches -= 1;
    b.bytes -= bytes;
    return null;
  }

  /** Charge bytes learnt after the body was read (a request without content-length). */
  charge(deviceId: string, bytes: number): void {
    const b = this.refill(deviceId);
    b.bytes -= bytes;
  }
}
