/**
 * At-least-once delivery of the agent's outbox (telemetry and acks stored in SQLite): while the
 * MQTT session is up, publish the oldest pending rows at QoS 1 with a bounded window in flight and
 * delete each row only when the broker acknowledged it. A disconnect (or an agent restart)
 * leaves unacknowledged rows in the table; they are sent again after the next connect, so a row
 * may arrive twice and the cloud deduplicates on the message id.
 *
 * End to end: a telemetry row that asked for a receipt (`receipt: true`) stays after the PUBACK
 * until the cloud's `receipt` command names it as stored — a broker's PUBACK does not mean the
 * cloud has it (a broker may drop a full session queue). A row no receipt named within
 * RECEIPT_TIMEOUT_MS is sent again when the cloud is known to send receipts, and settled by its
 * PUBACK alone otherwise (an older cloud). The rows stay in SQLite meanwhile: a reconnect or a
 * restart sends them again at once.
 *
 * Batches: when several telemetry rows are pending and the cloud said it accepts batches
 * (`telemetry_batch` at enrollment or in a receipt), up to that many of them (and at most
 * OUTBOX_BATCH, within MAX_DEVICE_MESSAGE_BYTES) go in one TelemetryBatchMessage: one MQTT packet
 * and one PUBACK instead of one each. The PUBACK settles (or sets waiting for its receipt) every
 * row of the packet; receipts, resends and the cloud's deduplication stay per record id. One row
 * pending is sent alone, as it is: no wait for more (no linger timer), no added latency.
 */
import { EventEmitter } from 'node:events';
import {
  encodeTelemetryBatch,
  MAX_DEVICE_MESSAGE_BYTES,
  MAX_TELEMETRY_BATCH,
  parseDeviceTopic,
  TELEMETRY_BATCH_ENVELOPE_BYTES,
} from '../protocol/index.ts';
import type { OutboxRow } from './agent-store.ts';

/** MQTT messages in flight at once: enough to keep a loopback or LAN link busy, small enough to bound re-sends after a drop. */
export const OUTBOX_WINDOW = 64;
/**
 * Payload bytes in flight at once (a message more may start below it): with batches of up to
 * 64 KiB, 64 messages could hold 4 MiB of one device's backlog in the broker's and the cloud's
 * buffers; 1 MiB is ~1,700 typical records per round trip, still far more than a LAN needs.
 */
export const OUTBOX_WINDOW_BYTES = 1024 * 1024;
/** Telemetry rows one message carries at most (the cloud's own bound may be lower). */
export const OUTBOX_BATCH = MAX_TELEMETRY_BATCH;
/** Wait before retrying a row whose publish failed on a live connection. */
export const OUTBOX_RETRY_MS = 1000;
/**
 * A row the broker acknowledged but no receipt named this long after is sent again. Long enough
 * for a loaded control plane to store a backlog (resends add to its load), short enough that a
 * dropped record is not late by much more than a telemetry window.
 */
export const RECEIPT_TIMEOUT_MS = 30_000;

/** How often rows waiting for a receipt are checked against the timeout. */
const RECEIPT_CHECK_MS = 1000;
/** A row not named while a later one was is sent again after this long (the wait doubles per resend). */
export const RECEIPT_GAP_MS = 5000;
/** Longest wait for a receipt before a resend (the wait doubles per resend of a row). */
const RECEIPT_MAX_WAIT_MS = 10 * 60_000;
/** Receipts remembered for rows whose PUBACK is still being handled. */
const EARLY_RECEIPTS_MAX = 10_000;

export interface OutboxSource {
  pending(limit: number, afterSeq?: number): OutboxRow[];
  deliveredMany(seqs: readonly number[]): void;
  pendingCount(): number;
}

export type Publish = (topic: string, payload: Buffer, qos: 0 | 1) => Promise<void>;

/** Where the pump learns whether the cloud sends receipts (and takes batches), and records it. */
export interface ReceiptState {
  cloudSendsReceipts(): boolean;
  markCloudSendsReceipts(): void;
  /** Telemetry records per message the cloud said it accepts; 1 (or absent): no batches. */
  cloudTelemetryBatch?(): number;
  markCloudTelemetryBatch?(records: number): void;
}

export class OutboxPump extends EventEmitter<{
  delivered: [id: string];
  flushed: [rows: number];
  drained: [];
  /** The broker acknowledged a message carrying these rows. */
  published: [rows: readonly OutboxRow[]];
}> {
  private online = false;
  private generation = 0;
  /** Rows in flight, and the messages carrying them. */
  private readonly inflight = new Set<number>();
  private packets = 0;
  private bytes = 0;
  private cursor = 0;
  /**
   * The source has no row after the cursor: its last read returned fewer rows than asked, and
   * nothing was queued (kick) nor the cursor moved back since. A freed window slot (every PUBACK)
   * then reads nothing: on the agent that read is an SQL query per acknowledged record.
   */
  private atEnd = false;
  private retryTimer?: NodeJS.Timeout;
  /** Acknowledged rows not yet deleted: deletes are batched into one transaction per tick. */
  private readonly acked = new Set<number>();
  private flushScheduled = false;
  /** Rows the broker acknowledged that wait for the cloud's receipt: seq → id and when. */
  private readonly awaiting = new Map<number, { id: string; at: number; wait: number }>();
  /** Times each row was sent again: its next wait doubles (a record the cloud never stores is not resent every 30 s). */
  private readonly resends = new Map<number, number>();
  private readonly awaitingIds = new Map<string, number>();
  /** Ids a receipt named before their PUBACK was handled (bounded). */
  private readonly early = new Set<string>();
  private receiptTimer?: NodeJS.Timeout;
  private receiptsKnown: boolean;
  /** When the last receipt came, and the highest row it (or an earlier one) named. */
  private lastReceiptAt = 0;
  private receiptHigh = 0;
  /** Telemetry records per message the cloud accepts (1: it takes no batches). */
  private cloudBatch: number;
  delivered = 0;
  /** Rows sent again because no receipt named them in time. */
  resent = 0;
  /** Messages sent, by the rows each carried (resends included). */
  readonly messageSizes = new Map<number, number>();

  constructor(
    private readonly source: OutboxSource,
    private readonly publish: Publish,
    private readonly window = OUTBOX_WINDOW,
    private readonly receipts?: ReceiptState,
    private readonly receiptTimeoutMs = RECEIPT_TIMEOUT_MS,
    /** This agent's own bound on rows per message (1: never batch). */
    private readonly batch = OUTBOX_BATCH,
  ) {
    super();
    this.receiptsKnown = receipts?.cloudSendsReceipts() ?? false;
    this.cloudBatch = receipts?.cloudTelemetryBatch?.() ?? 1;
  }

  /** Rows acknowledged by the broker that wait for a receipt. */
  get awaitingReceipt(): number {
    return this.awaiting.size;
  }

  /**
   * The cloud's receipt: these telemetry ids are stored, their rows can go. `telemetryBatch`: the
   * records per message it accepts, as the receipt said (absent: none — an older cloud).
   */
  receipt(ids: readonly string[], telemetryBatch = 1): void {
    if (!this.receiptsKnown) {
      this.receiptsKnown = true;
      this.receipts?.markCloudSendsReceipts();
    }
    if (telemetryBatch !== this.cloudBatch) {
      this.cloudBatch = telemetryBatch;
      this.receipts?.markCloudTelemetryBatch?.(telemetryBatch);
    }
    const now = Date.now();
    // the first receipt after a silence: the cloud is back, what waits is due a whole wait from now
    // (not its doubled one: rows resent while the cloud was down would wait longer and longer)
    if (now - this.lastReceiptAt >= this.receiptTimeoutMs)
      for (const a of this.awaiting.values()) a.wait = this.receiptTimeoutMs;
    this.lastReceiptAt = now;
    for (const id of ids) {
      const seq = this.awaitingIds.get(id);
      if (seq !== undefined && seq > this.receiptHigh) this.receiptHigh = seq;
      if (seq === undefined) {
        if (this.early.size >= EARLY_RECEIPTS_MAX) this.early.clear();
        this.early.add(id);
        continue;
      }
      this.awaitingIds.delete(id);
      this.awaiting.delete(seq);
      this.settled(seq, id);
    }
  }

  /** The row is done with: deleted in the next batch. */
  private settled(seq: number, id: string): void {
    this.resends.delete(seq);
    this.acked.add(seq);
    this.scheduleFlush();
    this.delivered++;
    this.emit('delivered', id);
  }

  /**
   * Rows whose receipt is overdue: resend (the cloud sends receipts) or settle (it does not). A
   * row is overdue when the cloud sent this device no receipt for a whole wait since the row was
   * taken (the cloud is down, or the row was its last), or when a later row was named and this one
   * not for RECEIPT_GAP_MS (it was dropped: a device's records reach the control plane in order).
   * A control plane that is merely behind keeps naming rows in order, so its backlog is not sent
   * again. Both waits double per resend of a row.
   */
  private checkReceipts(): void {
    const now = Date.now();
    let resend = Infinity;
    for (const [seq, a] of this.awaiting) {
      const quiet = now - Math.max(a.at, this.lastReceiptAt) >= a.wait;
      const gap =
        seq < this.receiptHigh && now - a.at >= Math.min(a.wait, RECEIPT_GAP_MS * (a.wait / this.receiptTimeoutMs));
      if (!quiet && !gap) continue;
      this.awaiting.delete(seq);
      this.awaitingIds.delete(a.id);
      if (this.receiptsKnown) {
        this.resent++;
        this.resends.set(seq, (this.resends.get(seq) ?? 0) + 1);
        resend = Math.min(resend, seq);
      } else this.settled(seq, a.id);
    }
    if (resend !== Infinity) {
      this.rewind(resend - 1);
      this.kick();
    }
  }

  /**
   * The session is (re)connected: start over from the oldest unacknowledged row. Rows that waited
   * for a receipt go again too: a receipt sent while the session was down is lost (QoS 0, clean
   * session), e.g. for the last records a control plane stored while shutting down.
   */
  connected(): void {
    this.online = true;
    this.generation++;
    this.inflight.clear();
    this.packets = 0;
    this.bytes = 0;
    if (this.receiptsKnown) {
      this.resent += this.awaiting.size;
      this.awaiting.clear();
      this.awaitingIds.clear();
    }
    this.rewind(0);
    this.pump();
  }

  disconnected(): void {
    this.online = false;
    this.generation++;
    this.inflight.clear();
    this.packets = 0;
    this.bytes = 0;
  }

  /** New rows were queued (every enqueue must be followed by a kick: the pump reads the source only then). */
  kick(): void {
    this.atEnd = false;
    if (this.online) this.pump();
  }

  /** Read again from after `seq` (rows up to the cursor are due again). */
  private rewind(seq: number): void {
    this.cursor = Math.min(this.cursor, seq);
    this.atEnd = false;
  }

  private pump(): void {
    while (this.online && this.windowOpen() && !this.atEnd) {
      const max = Math.max(1, Math.min(this.batch, this.cloudBatch, MAX_TELEMETRY_BATCH) | 0);
      const limit = Math.max(max, this.window - this.packets);
      const read = this.source.pending(limit, this.cursor);
      if (read.length === 0) {
        this.atEnd = true;
        break;
      }
      const rows = read.filter((r) => !this.inflight.has(r.seq) && !this.acked.has(r.seq) && !this.awaiting.has(r.seq));
      let i = 0;
      while (i < rows.length && this.windowOpen()) {
        const n = this.packable(rows, i, max);
        this.send(rows.slice(i, i + n));
        i += n;
      }
      if (i < rows.length) {
        // the window is full: the rest is read again when a message is acknowledged
        this.cursor = Math.max(this.cursor, rows[i - 1]!.seq);
        break;
      }
      // every row read is sent, in flight, done or waiting for a receipt: look further
      this.cursor = Math.max(this.cursor, read[read.length - 1]!.seq);
      // fewer than asked: these were the last rows
      if (read.length < limit) this.atEnd = true;
    }
  }

  private windowOpen(): boolean {
    return this.packets < this.window && this.bytes < OUTBOX_WINDOW_BYTES;
  }

  /**
   * How many of `rows` from `i` go in one message: consecutive telemetry rows of one topic, within
   * the bounds. A row sent again for want of a receipt goes alone: whatever refused it as part of a
   * batch (a cloud downgraded since it said it takes them) still takes it as a single record.
   */
  private packable(rows: readonly OutboxRow[], i: number, max: number): number {
    const first = rows[i]!;
    if (max === 1 || this.batchable(first) === false) return 1;
    let n = 1;
    let bytes = TELEMETRY_BATCH_ENVELOPE_BYTES + first.payload.length;
    while (n < max && i + n < rows.length) {
      const r = rows[i + n]!;
      if (r.topic !== first.topic || !this.batchable(r)) break;
      bytes += r.payload.length + 1;
      if (bytes > MAX_DEVICE_MESSAGE_BYTES) break;
      n++;
    }
    return n;
  }

  private batchable(r: OutboxRow): boolean {
    return r.qos === 1 && !this.resends.has(r.seq) && parseDeviceTopic(r.topic)?.verb === 'telemetry';
  }

  /** Publish `rows` as one message (one row as it is, several as a telemetry batch). */
  private send(rows: OutboxRow[]): void {
    const first = rows[0]!;
    let payload = first.payload;
    if (rows.length > 1) {
      try {
        payload = encodeTelemetryBatch(
          parseDeviceTopic(first.topic)!.deviceId,
          rows.map((r) => r.payload),
        );
      } catch {
        rows = [first]; // not expected (the bounds are checked above): the row alone, as before batches
      }
    }
    for (const r of rows) this.inflight.add(r.seq);
    this.packets++;
    this.bytes += payload.length;
    this.messageSizes.set(rows.length, (this.messageSizes.get(rows.length) ?? 0) + 1);
    const gen = this.generation;
    this.publish(first.topic, payload, first.qos).then(
      () => {
        for (const r of rows) this.acknowledged(r);
        this.emit('published', rows);
        if (gen !== this.generation) return;
        this.packets--;
        this.bytes -= payload.length;
        for (const r of rows) this.inflight.delete(r.seq);
        this.pump();
      },
      () => {
        if (gen !== this.generation) return; // the reconnect resends them
        this.packets--;
        this.bytes -= payload.length;
        for (const r of rows) this.inflight.delete(r.seq);
        this.rewind(first.seq - 1);
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

  /** The broker acknowledged the message carrying `row`. */
  private acknowledged(row: OutboxRow): void {
    if (this.acked.has(row.seq)) {
      // settled meanwhile (a receipt named an earlier copy)
    } else if (row.receipt && this.receipts && !this.early.delete(row.id)) {
      // the broker has it; the cloud's receipt settles it (or the timeout sends it again)
      const wait = Math.min(RECEIPT_MAX_WAIT_MS, this.receiptTimeoutMs * 2 ** (this.resends.get(row.seq) ?? 0));
      this.awaiting.set(row.seq, { id: row.id, at: Date.now(), wait });
      this.awaitingIds.set(row.id, row.seq);
      this.receiptTimer ??= setInterval(
        () => this.checkReceipts(),
        Math.max(50, Math.min(RECEIPT_CHECK_MS, this.receiptTimeoutMs / 4)),
      );
      this.receiptTimer.unref?.();
    } else {
      // Acknowledged by the broker: safe to forget, whatever happened to the connection since.
      this.settled(row.seq, row.id);
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
    this.emit('flushed', seqs.length);
    if (this.inflight.size === 0 && this.source.pendingCount() === 0) this.emit('drained');
  }

  stop(): void {
    this.flush();
    this.online = false;
    this.generation++;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.receiptTimer) clearInterval(this.receiptTimer);
    this.receiptTimer = undefined;
  }
}
