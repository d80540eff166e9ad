/** GET /v1/status: one summary of the fleet, the registry and ingestion, from the shared database. */
import { PROTOCOL_VERSION, type StatusResponse } from '../protocol/index.ts';
import type { DeviceRegistry } from './devices.ts';
import type { ModelRegistry } from './models.ts';
import type { DeploymentRepository, TelemetryRepository } from './repositories/index.ts';

export interface StatusSources {
  devices: Pick<DeviceRegistry, 'counts'>;
  models: Pick<ModelRegistry, 'countNames'>;
  deployments: Pick<DeploymentRepository, 'count'>;
  telemetry: Pick<TelemetryRepository, 'totals'>;
  broker(): StatusResponse['broker'];
  db: StatusResponse['db'];
}

export async function fleetStatus(s: StatusSources): Promise<StatusResponse> {
  return {
    protocol_version: PROTOCOL_VERSION,
    broker: s.broker(),
    db: s.db,
    devices: await s.devices.counts(),
    models: await s.models.countNames(),
    deployments: await s.deployments.count(),
    telemetry: await s.telemetry.totals(),
  };
}
