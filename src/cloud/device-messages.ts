/**
 * Messages from devices over MQTT: decoded and validated once here (protocol schemas), checked to
 * come from the device they name, then handed to the handler registered for the verb. Services
 * register their verbs (`router.on('telemetry', …)`); a verb nobody handles is counted and dropped.
 * A telemetry message may be a batch (TelemetryBatchMessage): its handler runs once per valid
 * record, and the message is handled once every record is; an invalid record is counted as a
 * rejected telemetry message alone.
 */
import {
  decodeMessage,
  decodeTelemetry,
  type DeviceToCloudVerb,
  type DeviceVerb,
  type MessageOf,
} from '../protocol/index.ts';
import type { ControlPlaneMetrics } from './metrics.ts';

export type DeviceMessageHandler<V extends DeviceToCloudVerb> = (msg: MessageOf<V>) => void | Promise<void>;

export class DeviceMessageRouter {
  private readonly handlers = new Map<DeviceVerb, (msg: unknown) => void | Promise<void>>();

  constructor(private readonly metrics: ControlPlaneMetrics) {}

  /** Handle `verb` with `handler` (one handler per verb). */
  on<V extends DeviceToCloudVerb>(verb: V, handler: DeviceMessageHandler<V>): void {
    if (this.handlers.has(verb)) throw new Error(`device verb '${verb}' already has a handler`);
    this.handlers.set(verb, handler as (msg: unknown) => void | Promise<void>);
  }

  /** One message from the broker; `deviceId` and `verb` come from its topic. */
  async handle(deviceId: string, verb: DeviceVerb, payload: Buffer): Promise<void> {
    this.metrics.messageReceived(verb);
    if (payload.length === 0) return; // a cleared retained message
    if (verb === 'telemetry') return this.telemetry(deviceId, payload);
    let msg;
    try {
      msg = decodeMessage(verb, payload);
    } catch {
      this.metrics.rejectedMessages.inc({ verb });
      return;
    }
    if ((msg as { device_id?: string }).device_id !== deviceId) {
      // a device may only speak for itself (the broker ACL ties the topic to its login)
      this.metrics.rejectedMessages.inc({ verb });
      return;
    }
    await this.handlers.get(verb)?.(msg);
  }

  /** A telemetry message: one record, or a batch whose records are handled (and refused) one by one. */
  private async telemetry(deviceId: string, payload: Buffer): Promise<void> {
    let decoded;
    try {
      decoded = decodeTelemetry(payload);
    } catch {
      this.metrics.rejectedMessages.inc({ verb: 'telemetry' });
      return;
    }
    const { records, refused } = decoded;
    // every record names the batch's device (decodeTelemetry), the batch names the topic's
    if (records.length > 0 && records[0]!.device_id !== deviceId) {
      this.metrics.rejectedMessages.inc({ verb: 'telemetry' }, records.length + refused.length);
      return;
    }
    if (refused.length) this.metrics.rejectedMessages.inc({ verb: 'telemetry' }, refused.length);
    const handler = this.handlers.get('telemetry');
    if (!handler || records.length === 0) return;
    if (records.length === 1) return handler(records[0]);
    await Promise.all(records.map((r) => handler(r)));
  }
}
