/**
 * The device registry: what the fleet looks like to operators (status from presence and
 * heartbeats), and revocation.
 */
import { VergeError } from '../errors.ts';
import { HEARTBEAT_TIMEOUT_MS, type Device } from '../protocol/index.ts';
import type { DeviceRecord, DeviceRepository } from './repositories/index.ts';

export type DeviceStatus = Device['status'];

export interface DeviceRegistryHost {
  /** After a revocation is stored: tell the device, drop its connection, update broker auth. */
  onRevoked(deviceId: string): Promise<void>;
}

export function deviceStatus(d: DeviceRecord, now = Date.now()): DeviceStatus {
  if (d.revoked_at !== null) return 'revoked';
  const fresh = d.last_seen !== null && now - d.last_seen <= HEARTBEAT_TIMEOUT_MS;
  return d.presence === 'online' && fresh ? 'online' : 'offline';
}

export function toDevice(d: DeviceRecord): Device {
  return {
    id: d.id,
    name: d.name,
    status: deviceStatus(d),
    tags: d.tags,
    profile: d.profile,
    model: d.models[0]?.name ?? null,
    version: d.models[0]?.version ?? null,
    variant: d.models[0]?.variant ?? null,
    models: d.models.map((m) => ({ name: m.name, version: m.version, variant: m.variant })),
    last_seen: d.last_seen,
    enrolled_at: d.enrolled_at,
  };
}

export class DeviceRegistry {
  constructor(
    private readonly repo: DeviceRepository,
    private readonly host: DeviceRegistryHost,
  ) {}

  private async find(idOrName: string): Promise<DeviceRecord> {
    const d = await this.repo.get(idOrName);
    if (!d) throw new VergeError('E_NOT_FOUND', `no device '${idOrName}'`);
    return d;
  }

  async list(): Promise<Device[]> {
    return (await this.repo.list()).map(toDevice);
  }

  async get(idOrName: string): Promise<Device> {
    return toDevice(await this.find(idOrName));
  }

  async revoke(idOrName: string): Promise<Device> {
    const d = await this.find(idOrName);
    await this.repo.revoke(d.id);
    await this.host.onRevoked(d.id);
    return toDevice((await this.repo.get(d.id))!);
  }

  async counts(): Promise<Record<DeviceStatus, number> & { total: number }> {
    const counts = { total: 0, online: 0, offline: 0, revoked: 0 };
    const now = Date.now();
    for (const d of await this.repo.list()) {
      counts.total++;
      counts[deviceStatus(d, now)]++;
    }
    return counts;
  }
}
