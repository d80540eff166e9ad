/**
 * Messages from devices over MQTT: decoded and validated once here (protocol schemas), checked to
 * come from the device they name, then handed to the handler registered for the verb. Services
 * register their verbs (`router.on('telemetry', …)`); a verb nobody handles is counted and dropped.
 */
import { decodeMessage, type DeviceToCloudVerb, type DeviceVerb, type MessageOf } from '../protocol/index.ts';
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
}
