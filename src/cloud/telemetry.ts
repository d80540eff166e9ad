/**
 * Telemetry ingestion: records are buffered and written in batches (one transaction per batch),
 * deduplicated by message id in the database, so at-least-once delivery from agents counts once
 * even when a redelivery lands on another replica.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import {
  histogramQuantile,
  MAX_RESULT_KEYS,
  mergeHistograms,
  type LatencyHistogram,
  type TelemetryMessage,
  type TelemetrySummaryResponse,
} from '../protocol/index.ts';
import { isRecordError } from './db/sql.ts';
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
/** Writes failing for this long make ingestion "stalled" in /healthz (a blip of one retry does not). */
export const INGEST_STALL_MS = 5000;
/** On shutdown, keep retrying a failing database this long before spooling the buffer to disk. */
export const CLOSE_DEADLINE_MS = 5000;

export interface IngestHealth {
  /** Records waiting to be written. */
  pending: number;
  /** Since when writes fail (epoch ms), or null. */
  failing_since: number | null;
  last_error: string | null;
  /** Writes have failed for INGEST_STALL_MS or longer: acknowledged telemetry is not being stored. */
  stalled: boolean;
}

type Store = Pick<TelemetryRepository, 'insert' | 'deadLetter'>;

/** Outcome of writing one batch: what was new, what was refused alone, what is still to write. */
interface WriteResult {
  fresh: TelemetryMessage[];
  written: number;
  deadLettered: number;
  unwritten: TelemetryMessage[];
  error: unknown;
}

export class TelemetryIngest {
  private buffer: TelemetryMessage[] = [];
  /** Batches taken from the buffer and not yet written (spooled with it if shutdown cannot wait). */
  private readonly taken = new Set<TelemetryMessage[]>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private failingSince: number | null = null;
  private lastError: string | null = null;
  private closing = false;
  /** Records whose push awaits durability (pushDurable), settled once stored, dead-lettered or spooled. */
  private readonly waiting = new Map<TelemetryMessage, { resolve(): void; reject(e: Error): void }>();

  constructor(
    private readonly repo: Store,
    private readonly metrics: ControlPlaneMetrics,
    private readonly onFresh: (fresh: TelemetryMessage[]) => void,
    /** Where shutdown writes records it could not store in time, and start() reads them back. */
    private readonly spoolPath?: string,
  ) {}

  push(msg: TelemetryMessage): void {
    this.buffer.push(msg);
    if (this.closing) return;
    if (this.buffer.length >= FLUSH_BATCH && this.failingSince === null) void this.flush();
    else this.timer ??= unref(setTimeout(() => void this.flush(), FLUSH_INTERVAL_MS));
  }

  /**
   * push, resolving once the record is durable: in the database (or its dead-letter table), or in
   * the spool file at shutdown. The embedded broker acknowledges a device's telemetry only then, so
   * a kill -9 loses nothing a device saw acknowledged (finding 8 of issue 14).
   */
  pushDurable(msg: TelemetryMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.set(msg, { resolve, reject });
      this.push(msg);
    });
  }

  private settle(records: Iterable<TelemetryMessage>): void {
    if (this.waiting.size === 0) return;
    for (const m of records) {
      const w = this.waiting.get(m);
      if (!w) continue;
      this.waiting.delete(m);
      w.resolve();
    }
  }

  /** Records waiting to be written (buffered, or put back after a failed write). */
  get pending(): number {
    let n = this.buffer.length;
    for (const b of this.taken) n += b.length;
    return n;
  }

  health(now = Date.now()): IngestHealth {
    return {
      pending: this.pending,
      failing_since: this.failingSince,
      last_error: this.lastError,
      stalled: this.failingSince !== null && now - this.failingSince >= INGEST_STALL_MS,
    };
  }

  /** Write everything buffered so far; resolves when it is in the database (or put back on failure). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.buffer;
    this.buffer = [];
    if (batch.length) this.taken.add(batch);
    const run = this.flushing.then(async () => {
      if (batch.length === 0) return;
      const r = await this.write(batch);
      this.taken.delete(batch);
      if (r.unwritten.length === 0) this.settle(batch);
      else if (this.waiting.size) {
        const left = new Set(r.unwritten);
        this.settle(batch.filter((m) => !left.has(m)));
      }
      if (r.unwritten.length) {
        // database unavailable: put the rest back in front (no spread: it can be larger than the
        // call-stack limit after a long outage); QoS 1 redelivery is not guaranteed once acked
        this.buffer = r.unwritten.concat(this.buffer);
        this.failingSince ??= Date.now();
        this.lastError = firstLine(r.error);
        if (!this.closing) this.timer ??= unref(setTimeout(() => void this.flush(), RETRY_MS));
      } else {
        this.failingSince = null;
        this.lastError = null;
      }
      this.count(r.written, r.fresh, r.deadLettered);
      // a full batch may have built up meanwhile (pushes do not flush while the database is failing)
      if (!r.unwritten.length && this.buffer.length >= FLUSH_BATCH && !this.closing) void this.flush();
      // stored and counted: a throwing listener must neither put the batch back nor stop ingestion
      if (r.fresh.length) {
        try {
          this.onFresh(r.fresh);
        } catch {
          // the listener's own failure
        }
      }
    });
    // later flushes chain on this one whatever its outcome
    this.flushing = run.catch(() => undefined);
    return run;
  }

  /**
   * Write one batch. A record the database refuses for its values (isRecordError) would fail every
   * batch it rides in, forever: the batch is halved until that record stands alone, and it goes to
   * the dead-letter table while the others are stored. Any other error means the database cannot
   * write now: what is not yet written is handed back for a retry.
   */
  private async write(batch: TelemetryMessage[]): Promise<WriteResult> {
    const r: WriteResult = { fresh: [], written: 0, deadLettered: 0, unwritten: [], error: null };
    const todo: TelemetryMessage[][] = [batch];
    while (todo.length) {
      const seg = todo.pop()!;
      try {
        for (const t of await this.repo.insert(seg)) r.fresh.push(t);
        r.written += seg.length;
        continue;
      } catch (caught) {
        let e = caught;
        if (isRecordError(e) && seg.length > 1) {
          const mid = seg.length >>> 1;
          todo.push(seg.slice(mid), seg.slice(0, mid)); // first half first: keeps arrival order
          continue;
        }
        if (isRecordError(e)) {
          try {
            await this.repo.deadLetter([{ record: seg[0]!, error: firstLine(e) }]);
            r.deadLettered++;
            continue;
          } catch (e2) {
            e = e2;
          }
        }
        r.error = e;
        r.unwritten = seg.concat(...todo.reverse());
        return r;
      }
    }
    return r;
  }

  /** Metrics of one written batch: one counter update per (model, version), not per record. */
  private count(received: number, fresh: TelemetryMessage[], deadLettered: number): void {
    this.metrics.telemetryRecords.inc({ result: 'accepted' }, fresh.length);
    this.metrics.telemetryRecords.inc({ result: 'duplicate' }, received - fresh.length);
    if (deadLettered) this.metrics.telemetryRecords.inc({ result: 'dead_letter' }, deadLettered);
    const byModel = new Map<string, { model: string; version: string; inferences: number; errors: number }>();
    for (const t of fresh) {
      const key = `${t.model.name}\u0000${t.model.version}`;
      let m = byModel.get(key);
      if (!m) byModel.set(key, (m = { model: t.model.name, version: t.model.version, inferences: 0, errors: 0 }));
      m.inferences += t.inferences;
      m.errors += t.errors;
    }
    for (const m of byModel.values()) {
      this.metrics.inferences.inc(this.metrics.modelLabels(m.model, m.version), m.inferences);
      this.metrics.inferenceErrors.inc(this.metrics.modelLabels(m.model, m.version), m.errors);
    }
  }

  /** Records a previous shutdown spooled: buffered again (the spool is rewritten by the next close). */
  async restoreSpool(): Promise<number> {
    if (!this.spoolPath || !existsSync(this.spoolPath)) return 0;
    const lines = readFileSync(this.spoolPath, 'utf8')
      .split('\n')
      .filter((l) => l.length > 0);
    for (const l of lines) this.push(JSON.parse(l) as TelemetryMessage);
    await this.flush();
    if (this.pending === 0) rmSync(this.spoolPath, { force: true });
    return lines.length;
  }

  /**
   * Stop: write what is buffered, retrying a failing database until `deadlineMs`; what is still
   * unwritten then goes to the spool file (0600), which the next start reads back. Never hangs:
   * a write still running at the deadline is spooled too (its records are deduplicated by id if
   * it commits after all). Returns how many records were spooled.
   */
  async close(deadlineMs = CLOSE_DEADLINE_MS): Promise<number> {
    this.closing = true;
    const until = Date.now() + deadlineMs;
    for (;;) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      const left = until - Date.now();
      if (left <= 0) break;
      const done = await withTimeout(this.flush(), left);
      if (done && this.pending === 0) {
        if (this.spoolPath) rmSync(this.spoolPath, { force: true });
        return 0;
      }
      if (!done) break;
      await new Promise((r) => setTimeout(r, Math.min(RETRY_MS, Math.max(0, until - Date.now()))));
    }
    const rest = [...this.taken].flat().concat(this.buffer);
    if (!this.spoolPath || rest.length === 0) return this.abandon();
    const tmp = `${this.spoolPath}.tmp`;
    writeFileSync(tmp, rest.map((t) => JSON.stringify(t)).join('\n') + '\n', { mode: 0o600 });
    renameSync(tmp, this.spoolPath);
    this.settle(rest);
    return rest.length;
  }

  /** Closing with records neither stored nor spooled: their pushes fail (the broker does not acknowledge them). */
  private abandon(): 0 {
    for (const w of this.waiting.values())
      w.reject(new Error('telemetry not stored: the control plane is shutting down'));
    this.waiting.clear();
    return 0;
  }
}

function unref(t: NodeJS.Timeout): NodeJS.Timeout {
  t.unref();
  return t;
}

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e)
    .split('\n')[0]!
    .slice(0, 512);
}

/** true when p settled within ms. */
async function withTimeout(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([
    p.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms))),
  ]);
  clearTimeout(timer);
  return settled;
}

/** Inference totals and latency quantiles per (model, version, variant) from stored records. */
/** Key under which a summary sums the result classes beyond MAX_RESULT_KEYS. */
export const OTHER_RESULTS_KEY = '_other';

export interface SummaryPage {
  /** Groups (model, version, variant) to return, most inferences first; TELEMETRY_PAGE_MAX at most. */
  limit: number;
  offset: number;
}
/** Groups one GET /v1/telemetry answers by default and at most. */
export const TELEMETRY_PAGE_DEFAULT = 100;
export const TELEMETRY_PAGE_MAX = 1000;

/**
 * Totals and latency quantiles per (model, version, variant) since a time, one page of groups.
 * Each group's result classes are bounded too: the MAX_RESULT_KEYS first seen, the rest summed
 * under `_other`, so many devices with distinct classes cannot grow an answer without bound.
 */
export async function summarizeTelemetry(
  repo: Pick<TelemetryRepository, 'since'>,
  since: number,
  model?: string,
  page: SummaryPage = { limit: TELEMETRY_PAGE_DEFAULT, offset: 0 },
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
    for (const [k, v] of Object.entries(r.results ? (JSON.parse(r.results) as Record<string, number>) : {})) {
      const key = k in g.results || Object.keys(g.results).length < MAX_RESULT_KEYS ? k : OTHER_RESULTS_KEY;
      g.results[key] = (g.results[key] ?? 0) + v;
    }
  }
  const finite = (x: number) => (Number.isFinite(x) ? x : null);
  const sorted = [...groups.values()].sort((a, b) => b.inferences - a.inferences);
  return {
    since,
    total: sorted.length,
    models: sorted.slice(page.offset, page.offset + Math.min(page.limit, TELEMETRY_PAGE_MAX)).map((g) => ({
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
