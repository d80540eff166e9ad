/**
 * The control plane's state, one repository per aggregate over the SqlDatabase seam (SQLite or
 * PostgreSQL). Raw SQL lives only in these files. Nothing is cached in memory, so several
 * control-plane replicas can share one database.
 */
import type { SqlDatabase } from '../db/sql.ts';
import { ApiKeyRepository } from './api-keys.ts';
import { BrokerAccountRepository } from './broker-accounts.ts';
import { DeploymentRepository } from './deployments.ts';
import { DeviceRepository } from './devices.ts';
import { EdgeLoopRepository } from './edge-loop.ts';
import { FlRepository } from './fl.ts';
import { ModelRepository } from './models.ts';
import { TelemetryRepository } from './telemetry.ts';

export { ApiKeyRepository } from './api-keys.ts';
export { BrokerAccountRepository, type BrokerAccount } from './broker-accounts.ts';
export { DeploymentRepository, type DeploymentRecord, type DeploymentDeviceRecord } from './deployments.ts';
export { DeviceRepository, type DeviceRecord } from './devices.ts';
export {
  FlRepository,
  type FlJobRecord,
  type FlRoundRecord,
  type FlParticipantRecord,
  type FlJobRecordState,
  type FlRoundState,
  type FlSecAggRoundRecord,
  type FlSecAggMessageRecord,
  type SecAggPhase,
} from './fl.ts';
export { EdgeLoopRepository, type StoredLoopItem, type ItemQuery } from './edge-loop.ts';
export { ModelRepository } from './models.ts';
export { TelemetryRepository, type TelemetryRow, type DeviceTelemetryRow } from './telemetry.ts';

export interface Repositories {
  db: SqlDatabase;
  apiKeys: ApiKeyRepository;
  brokerAccounts: BrokerAccountRepository;
  devices: DeviceRepository;
  models: ModelRepository;
  deployments: DeploymentRepository;
  telemetry: TelemetryRepository;
  fl: FlRepository;
  edgeLoop: EdgeLoopRepository;
}

export function openRepositories(db: SqlDatabase): Repositories {
  return {
    db,
    apiKeys: new ApiKeyRepository(db),
    brokerAccounts: new BrokerAccountRepository(db),
    devices: new DeviceRepository(db),
    models: new ModelRepository(db),
    deployments: new DeploymentRepository(db),
    telemetry: new TelemetryRepository(db),
    fl: new FlRepository(db),
    edgeLoop: new EdgeLoopRepository(db),
  };
}
