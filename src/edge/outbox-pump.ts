/**
 * At-least-once delivery of the agent's outbox (telemetry and acks stored in SQLite): while the
 * MQTT session is up, publish the oldest pending rows at QoS 1 with a bounded window in flight and
 * delete each row only when the broker acknowledged it. A disconnect (or an agent restart)
 * leaves unacknowledged rows in the table; they are sent again after the next connect, so a row
 * may arrive twice and the cloud deduplicates on the message id.
 */
import { EventEmitter } from 'node:events';
import type { OutboxRow } from './agent-store.ts';

/** Messages in flight at once: enough to keep a loopback or LAN link busy, small enough to bound re-sends after a drop. */
export const OUTBOX_WINDOW = 64;
/** Wait before retrying a row whose publish failed on a live connection. */
export const OUTBOX_RETRY_MS = 1000;

export interface OutboxSource {
  pending(limit: number, afterSeq?: number): OutboxRow[];
  deliveredMany(seqs: readonly number[]): void;
  pendingCount(): number;
}

export type Publish = (topic: string, payload: Buffer, qos: 0 | 1) => Promise<void>;

export class OutboxPump extends EventEmitter<{ delivered: [id: string]; drained: [] }> {
  private online = false;
  private generation = 0;
  private readonly inflight = new Set<number>();
  private cursor = 0;
  private retryTimer?: NodeJS.Timeout;
  /** Acknowledged rows not yet deleted: deletes are batched into one transaction per tick. */
  private readonly acked = new Set<number>();
  private flushScheduled = false;
  delivered = 0;

  constructor(
    private readonly source: OutboxSource,
    private readonly publish: Publish,
    private readonly window = OUTBOX_WINDOW,
  ) {
    super();
  }

  /** The session is (re)connected: start over from the oldest unacknowledged row. */
  connected(): void {
    this.online = true;
    this.generation++;
    this.inflight.clear();
    this.cursor = 0;
    this.pump();
  }

  disconnected(): void {
    this.online = false;
    this.generation++;
    this.inflight.clear();
  }

  /** New rows were queued. */
  kick(): void {
    if (this.online) this.pump();
  }

  private pump(): void {
    while (this.online && this.inflight.size < this.window) {
      const rows = this.source
        .pending(this.window - this.inflight.size, this.cursor)
        .filter((r) => !this.inflight.has(r.seq) && !this.acked.has(r.seq));
      if (rows.length === 0) break;
      for (const row of rows) {
        this.cursor = Math.max(this.cursor, row.seq);
        this.inflight.add(row.seq);
        const gen = this.generation;
        this.publish(row.topic, Buffer.from(row.payload), row.qos).then(
          () => {
            // Acknowledged by the broker: safe to forget, whatever happened to the connection since.
            this.acked.add(row.seq);
            this.scheduleFlush();
            this.delivered++;
            this.emit('delivered', row.id);
            if (gen !== this.generation) return;
            this.inflight.delete(row.seq);
            this.pump();
          },
          () => {
            if (gen !== this.generation) return; // the reconnect resends it
            this.inflight.delete(row.seq);
            this.cursor = Math.min(this.cursor, row.seq - 1);
            if (!this.retryTimer) {
              this.retryTimer = setTimeout(() => {
                this.retryTimer = undefined;
                this.kick();
              }, OUTBOX_RETRY_MS);
              this.retryTimer.unref?.();
            }
          },
        );
      }
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /** Delete acknowledged rows now. */
  flush(): void {
    this.flushScheduled = false;
    if (this.acked.size === 0) return;
    const seqs = [...this.acked];
    try {
      this.source.deliveredMany(seqs);
    } catch {
      return; // store closed: the rows are sent again after restart, and deduplicated
    }
    for (const s of seqs) this.acked.delete(s);
    if (this.inflight.size === 0 && this.source.pendingCount() === 0) this.emit('drained');
  }

  stop(): void {
    this.flush();
    this.online = false;
    this.generation++;
    if (this.retryTimer) clearTimeout(this.retryTimer);
  }
}
