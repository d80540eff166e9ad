/**
 * Telemetry ingestion: records are buffered and written in batches (one transaction per batch),
 * deduplicated by message id in the database, so at-least-once delivery from agents counts once
 * even when a redelivery lands on another replica.
 */
import {
  histogramQuantile,
  mergeHistograms,
  type LatencyHistogram,
  type TelemetryMessage,
  type TelemetrySummaryResponse,
} from '../protocol/index.ts';
import type { ControlPlaneMetrics } from './metrics.ts';
import type { Repository } from './repository.ts';

/** Flush when this many records wait, or after FLUSH_INTERVAL_MS: bounds latency and transaction count. */
const FLUSH_BATCH = 500;
const FLUSH_INTERVAL_MS = 50;

export class TelemetryIngest {
  private buffer: TelemetryMessage[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly repo: Repository,
    private readonly metrics: ControlPlaneMetrics,
    private readonly onFresh: (fresh: TelemetryMessage[]) => void,
  ) {}

  push(msg: TelemetryMessage): void {
    this.buffer.push(msg);
    if (this.buffer.length >= FLUSH_BATCH) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), FLUSH_INTERVAL_MS);
  }

  /** Write everything buffered so far; resolves when it is in the database. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.buffer;
    this.buffer = [];
    this.flushing = this.flushing.then(async () => {
      if (batch.length === 0) return;
      try {
        const fresh = await this.repo.insertTelemetry(batch);
        this.metrics.telemetryRecords.inc({ result: 'accepted' }, fresh.length);
        this.metrics.telemetryRecords.inc({ result: 'duplicate' }, batch.length - fresh.length);
        for (const t of fresh) {
          this.metrics.inferences.inc({ model: t.model.name, version: t.model.version }, t.inferences);
          this.metrics.inferenceErrors.inc({ model: t.model.name, version: t.model.version }, t.errors);
        }
        if (fresh.length) this.onFresh(fresh);
      } catch {
        // database unavailable: put the batch back; QoS 1 redelivery is not guaranteed once acked
        this.buffer.unshift(...batch);
        this.timer ??= setTimeout(() => void this.flush(), 1000);
      }
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    await this.flush();
  }
}

/** Inference totals and latency quantiles per (model, version, variant) from stored records. */
export async function summarizeTelemetry(
  repo: Repository,
  since: number,
  model?: string,
): Promise<TelemetrySummaryResponse> {
  const groups = new Map<
    string,
    {
      name: string;
      version: string;
      variant: string;
      devices: Set<string>;
      inferences: number;
      errors: number;
      hist: LatencyHistogram | null;
      results: Record<string, number>;
    }
  >();
  for (const r of await repo.telemetrySince(since, model)) {
    const key = `${r.model}\u0000${r.version}\u0000${r.variant}`;
    let g = groups.get(key);
    if (!g) {
      g = {
        name: r.model,
        version: r.version,
        variant: r.variant,
        devices: new Set(),
        inferences: 0,
        errors: 0,
        hist: null,
        results: {},
      };
      groups.set(key, g);
    }
    g.devices.add(r.device_id);
    g.inferences += Number(r.inferences);
    g.errors += Number(r.errors);
    const h = JSON.parse(r.latency) as LatencyHistogram;
    try {
      g.hist = g.hist ? mergeHistograms(g.hist, h) : h;
    } catch {
      // a record with other bucket bounds: counted, but not in the quantiles
    }
    for (const [k, v] of Object.entries(r.results ? (JSON.parse(r.results) as Record<string, number>) : {}))
      g.results[k] = (g.results[k] ?? 0) + v;
  }
  const finite = (x: number) => (Number.isFinite(x) ? x : null);
  return {
    since,
    models: [...groups.values()].map((g) => ({
      name: g.name,
      version: g.version,
      variant: g.variant,
      devices: g.devices.size,
      inferences: g.inferences,
      errors: g.errors,
      error_rate: g.inferences > 0 ? g.errors / g.inferences : 0,
      p50_ms: g.hist && g.hist.count > 0 ? finite(histogramQuantile(g.hist, 0.5)) : null,
      p95_ms: g.hist && g.hist.count > 0 ? finite(histogramQuantile(g.hist, 0.95)) : null,
      results: g.results,
    })),
  };
}
