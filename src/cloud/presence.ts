/**
 * Device presence: heartbeats (QoS 0, from the whole fleet every few seconds) are buffered and
 * written in one transaction per tick; status messages (online/offline, also the MQTT last will)
 * are written at once.
 */
import type { HeartbeatMessage, StatusMessage } from '../protocol/index.ts';
import type { DeviceRepository } from './repositories/index.ts';

export class PresenceRecorder {
  private pending = new Map<string, HeartbeatMessage>();

  constructor(private readonly devices: DeviceRepository) {}

  heartbeat(h: HeartbeatMessage): void {
    this.pending.set(h.device_id, h);
  }

  async status(s: StatusMessage): Promise<void> {
    // a heartbeat still buffered from before the device went away must not mark it online again
    if (s.state === 'offline') this.pending.delete(s.device_id);
    await this.devices.recordPresence(s.device_id, s.state, Date.now());
  }

  /** Write the buffered heartbeats. */
  async flush(): Promise<void> {
    const batch = [...this.pending.values()];
    this.pending.clear();
    const now = Date.now();
    await this.devices.recordHeartbeats(
      batch.map((h) => ({ id: h.device_id, profile: h.profile, models: h.models, at: now })),
    );
  }
}
