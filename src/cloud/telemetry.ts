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
import type { TelemetryRepository } from './repositories/index.ts';

/**
 * Flush when this many records wait, or FLUSH_INTERVAL_MS after the first one: bounds latency and
 * transaction count. With SQLite the commit is a large part of the cost (each index page a random
 * message id dirtied is one WAL frame; larger transactions share pages), while a flush blocks the
 * event loop (better-sqlite3 is synchronous): 2,000 records are ~10-40 ms of work.
 */
const FLUSH_BATCH = 2000;
const FLUSH_INTERVAL_MS = 50;
/** After a failed write (database unavailable), retry this often; incoming records just buffer. */
const RETRY_MS = 1000;

export class TelemetryIngest {
  private buffer: TelemetryMessage[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  /** The last write failed: wait for the retry timer instead of flushing on every push. */
  private failing = false;

  constructor(
    private readonly repo: Pick<TelemetryRepository, 'insert'>,
    private readonly metrics: ControlPlaneMetrics,
    private readonly onFresh: (fresh: TelemetryMessage[]) => void,
  ) {}

  push(msg: TelemetryMessage): void {
    this.buffer.push(msg);
    if (this.buffer.length >= FLUSH_BATCH && !this.failing) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), FLUSH_INTERVAL_MS);
  }

  /** Records waiting to be written (buffered, or put back after a failed write). */
  get pending(): number {
    return this.buffer.length;
  }

  /** Write everything buffered so far; resolves when it is in the database (or put back on failure). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.buffer;
    this.buffer = [];
    const run = this.flushing.then(async () => {
      if (batch.length === 0) return;
      let fresh: TelemetryMessage[];
      try {
        fresh = await this.repo.insert(batch);
      } catch {
        // database unavailable: put the batch back in front (no spread: the batch can be larger
        // than the call-stack limit after a long outage); QoS 1 redelivery is not guaranteed once acked
        this.buffer = batch.concat(this.buffer);
        this.failing = true;
        this.timer ??= setTimeout(() => void this.flush(), RETRY_MS);
        return;
      }
      this.failing = false;
      this.count(batch.length, fresh);
      // a full batch may have built up meanwhile (pushes do not flush while the database is failing)
      if (this.buffer.length >= FLUSH_BATCH) void this.flush();
      // stored and counted: a throwing listener must neither put the batch back nor stop ingestion
      if (fresh.length) {
        try {
          this.onFresh(fresh);
        } catch {
          // the listener's own failure
        }
      }
    });
    // later flushes chain on this one whatever its outcome
    this.flushing = run.catch(() => undefined);
    return run;
  }

  /** Metrics of one written batch: one counter update per (model, version), not per record. */
  private count(received: number, fresh: TelemetryMessage[]): void {
    this.metrics.telemetryRecords.inc({ result: 'accepted' }, fresh.length);
    this.metrics.telemetryRecords.inc({ result: 'duplicate' }, received - fresh.length);
    const byModel = new Map<string, { model: string; version: string; inferences: number; errors: number }>();
    for (const t of fresh) {
      const key = `${t.model.name}\u0000${t.model.version}`;
      let m = byModel.get(key);
      if (!m) byModel.set(key, (m = { model: t.model.name, version: t.model.version, inferences: 0, errors: 0 }));
      m.inferences += t.inferences;
      m.errors += t.errors;
    }
    for (const m of byModel.values()) {
      this.metrics.inferences.inc({ model: m.model, version: m.version }, m.inferences);
      this.metrics.inferenceErrors.inc({ model: m.model, version: m.version }, m.errors);
    }
  }

  async close(): Promise<void> {
    await this.flush();
  }
}

/** Inference totals and latency quantiles per (model, version, variant) from stored records. */
export async function summarizeTelemetry(
  repo: Pick<TelemetryRepository, 'since'>,
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
  for (const r of await repo.since(since, model)) {
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
