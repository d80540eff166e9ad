/**
 * Federated learning attached to a control plane: the FL tables, the coordinator, the upload
 * service and their routes, over the control plane's own services (repository, artifacts, signing
 * key, messaging). `tick()` runs with the control plane's ticker; `republish()` after the broker
 * connection is up (the embedded broker forgets retained task messages across restarts).
 */
import type { FastifyInstance } from 'fastify';
import type { ModelVersion, PublishModelRequest, MessageInput } from '../protocol/index.ts';
import type { ArtifactStore } from './artifacts.ts';
import type { SqlDatabase } from './db/sql.ts';
import { FlCoordinator, type FlHost } from './fl-coordinator.ts';
import { FlRepository } from './fl-repository.ts';
import { registerFlRoutes } from './fl-routes.ts';
import { FlUploads } from './fl-uploads.ts';
import type { DeviceRecord, Repository } from './repository.ts';
import type { SigningKey } from './secrets.ts';

export interface FederatedServices {
  coordinator: FlCoordinator;
  uploads: FlUploads;
  repo: FlRepository;
}

export interface FederatedDeps {
  db: SqlDatabase;
  repo: Repository;
  artifacts: ArtifactStore;
  signingKey: SigningKey;
  artifactUrl(sha256: string): string;
  publishModel(req: PublishModelRequest): Promise<ModelVersion>;
  deviceOnline(d: DeviceRecord): boolean;
  /** The MQTT side, once connected (null before start and in inject-only tests). */
  messaging(): {
    publish(deviceId: string, verb: 'fl', msg: MessageInput<'fl'>): Promise<void>;
    clearRetained(deviceId: string, verb: 'fl'): Promise<void>;
  } | null;
}

export async function attachFederatedLearning(app: FastifyInstance, deps: FederatedDeps): Promise<FederatedServices> {
  const repo = new FlRepository(deps.db);
  await repo.migrate();
  const host: FlHost = {
    repo: deps.repo,
    fl: repo,
    artifacts: deps.artifacts,
    signingKey: deps.signingKey,
    artifactUrl: deps.artifactUrl,
    publishModel: deps.publishModel,
    deviceOnline: deps.deviceOnline,
    async publishTask(deviceId, task) {
      const m = deps.messaging();
      if (!m) return;
      if (task) await m.publish(deviceId, 'fl', task);
      else await m.clearRetained(deviceId, 'fl');
    },
  };
  const coordinator = new FlCoordinator(host);
  const uploads = new FlUploads(host, coordinator);
  registerFlRoutes(app, { coordinator, uploads });
  return { coordinator, uploads, repo };
}
