/**
 * End-to-end receipts of stored telemetry (finding 8 of issue 14). A broker's PUBACK to a device
 * only says the broker took the message: an external broker may still drop it before the control
 * plane has it (a full session queue, a restart without persistence, an operator's limits). A
 * record that asks for it (`receipt: true`) is named in a `receipt` command to its device once it
 * is stored (or was already, or went to the dead-letter table); the agent deletes it then and sends
 * again what no receipt named. Receipts are coalesced per device (one command per device per
 * RECEIPT_DELAY_MS, at most MAX_RECEIPT_IDS ids each) and sent at QoS 0: a lost receipt costs a
 * resend, which the message id deduplicates.
 */
import { MAX_RECEIPT_IDS } from '../protocol/index.ts';

/** How long ids wait to share a command: a burst of a device's records gets a few receipts, not one each. */
export const RECEIPT_DELAY_MS = 1000;

export type SendReceipt = (deviceId: string, ids: string[]) => Promise<void>;

export class TelemetryReceipts {
  private pending = new Map<string, string[]>();
  private timer: NodeJS.Timeout | null = null;
  /** Receipts sent (commands, ids) since start. */
  readonly sent = { commands: 0, ids: 0 };

  constructor(
    private readonly send: SendReceipt,
    private readonly delayMs = RECEIPT_DELAY_MS,
  ) {}

  /** `id` of `deviceId` is stored: name it in the device's next receipt. */
  add(deviceId: string, id: string): void {
    const ids = this.pending.get(deviceId);
    if (ids) ids.push(id);
    else this.pending.set(deviceId, [id]);
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.delayMs);
      this.timer.unref();
    }
  }

  /** Send every pending receipt now (a failed send is not retried: the device resends the records). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const pending = this.pending;
    this.pending = new Map();
    for (const [deviceId, ids] of pending) {
      for (let i = 0; i < ids.length; i += MAX_RECEIPT_IDS) {
        const chunk = ids.slice(i, i + MAX_RECEIPT_IDS);
        this.sent.commands++;
        this.sent.ids += chunk.length;
        this.send(deviceId, chunk).catch(() => undefined);
      }
    }
  }

  close(): void {
    this.flush();
  }
}
