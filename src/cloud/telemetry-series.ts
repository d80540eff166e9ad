/**
 * One device's telemetry as a time series (GET /v1/devices/:id/telemetry): its stored records
 * bucketed by the end of their window, with inferences, errors, throughput, latency quantiles from
 * the merged histograms and the class mix per bucket. Bounded: at most a day, at most
 * DEVICE_TELEMETRY_MAX_BUCKETS buckets, at most MAX_RECORDS records read.
 */
import { VergeError } from '../errors.ts';
import {
  DEVICE_TELEMETRY_MAX_BUCKETS,
  DEVICE_TELEMETRY_MAX_WINDOW_MS,
  histogramQuantile,
  mergeHistograms,
  type DeviceTelemetryPoint,
  type DeviceTelemetryResponse,
  type LatencyHistogram,
} from '../protocol/index.ts';
import type { DeviceTelemetryRow } from './repositories/index.ts';

/** Records read per request at most: a day of 5-second windows of a few models. */
const MAX_RECORDS = 50_000;
/** Default bucket: a point every 10 s, what a live chart of the last minutes wants. */
export const DEFAULT_BUCKET_MS = 10_000;

export interface SeriesQuery {
  since: number;
  until: number;
  bucketMs: number;
}

/** Check and complete a query: bucket widened so the window fits in the bucket limit. */
export function seriesQuery(q: { since?: number; bucketS?: number }, now = Date.now()): SeriesQuery {
  const since = q.since ?? now - 10 * 60_000;
  if (since > now) throw new VergeError('E_BAD_ARGUMENT', `since ${since} is in the future`);
  if (now - since > DEVICE_TELEMETRY_MAX_WINDOW_MS)
    throw new VergeError('E_BAD_ARGUMENT', `since: at most ${DEVICE_TELEMETRY_MAX_WINDOW_MS / 3600_000} h back`);
  const asked = q.bucketS !== undefined ? q.bucketS * 1000 : DEFAULT_BUCKET_MS;
  if (!(Number.isInteger(asked) && asked >= 1000))
    throw new VergeError('E_BAD_ARGUMENT', 'bucket_s: a whole number of seconds ≥ 1');
  const bucketMs = Math.max(asked, Math.ceil((now - since) / DEVICE_TELEMETRY_MAX_BUCKETS / 1000) * 1000);
  return { since, until: now, bucketMs };
}

export type DeviceRecordsReader = (
  deviceId: string,
  since: number,
  until: number,
  limit: number,
) => Promise<DeviceTelemetryRow[]>;

export async function deviceTelemetrySeries(
  deviceId: string,
  q: SeriesQuery,
  read: DeviceRecordsReader,
): Promise<DeviceTelemetryResponse> {
  type Bucket = { inferences: number; errors: number; hist: LatencyHistogram | null; results: Record<string, number> };
  const buckets = new Map<number, Bucket>();
  const models = new Map<string, { name: string; version: string; variant: string }>();
  for (const r of await read(deviceId, q.since, q.until, MAX_RECORDS)) {
    models.set(`${r.model}\u0000${r.version}\u0000${r.variant}`, {
      name: r.model,
      version: r.version,
      variant: r.variant,
    });
    const t = q.since + Math.floor((Number(r.window_end) - q.since) / q.bucketMs) * q.bucketMs;
    let b = buckets.get(t);
    if (!b) buckets.set(t, (b = { inferences: 0, errors: 0, hist: null, results: {} }));
    b.inferences += Number(r.inferences);
    b.errors += Number(r.errors);
    try {
      const h = JSON.parse(r.latency) as LatencyHistogram;
      b.hist = b.hist ? mergeHistograms(b.hist, h) : h;
    } catch {
      // other bucket bounds (an older agent): counted, not in the quantiles
    }
    for (const [k, v] of Object.entries(r.results ? (JSON.parse(r.results) as Record<string, number>) : {}))
      b.results[k] = (b.results[k] ?? 0) + v;
  }
  const quantile = (h: LatencyHistogram | null, p: number) => {
    if (!h || h.count === 0) return null;
    const x = histogramQuantile(h, p);
    return Number.isFinite(x) ? x : null;
  };
  const points: DeviceTelemetryPoint[] = [...buckets.entries()]
    .sort(([a], [b]) => a - b)
    .map(([t, b]) => ({
      t,
      inferences: b.inferences,
      errors: b.errors,
      throughput: b.inferences / (q.bucketMs / 1000),
      p50_ms: quantile(b.hist, 0.5),
      p99_ms: quantile(b.hist, 0.99),
      results: b.results,
    }));
  return {
    device_id: deviceId,
    since: q.since,
    until: q.until,
    bucket_ms: q.bucketMs,
    models: [...models.values()],
    points,
  };
}
