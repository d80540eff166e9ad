/**
 * Telemetry ingestion: records are buffered and written in batches (one transaction per batch),
 * deduplicated by message id in the database, so at-least-once delivery from agents counts once
 * even when a redelivery lands on another replica.
 */
import type { TelemetryMessage } from '../protocol/index.ts';
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
