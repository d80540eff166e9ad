/**
 * What retraining from collected items needs from a control plane (src/cloud/retrain.ts), as one
 * interface with two implementations: over HTTP with an operator's API key (`verge retrain`, the
 * edge-loop bench) and in-process over the services (the control plane's own retrain scheduler,
 * control-plane.ts). The same policy, training and rollout code runs behind both.
 */
import { VergeError } from '../errors.ts';
import {
  EDGE_LOOP_PATHS,
  HTTP_PATHS,
  MAX_UPLOAD_ITEMS,
  type ArtifactUploadResponse,
  type CreateDeploymentRequest,
  type Deployment,
  type DeploymentsResponse,
  type DriftScore,
  type DriftSummary,
  type EdgeLoopPolicy,
  type ModelVersion,
  type ModelsResponse,
  type PublishModelRequest,
} from '../protocol/index.ts';
import { Readable } from 'node:stream';
import type { CloudClient } from './client.ts';
import type { DeploymentController } from './deployments.ts';
import type { EdgeLoopService } from './edge-loop.ts';
import type { ModelRegistry } from './models.ts';
import type { Repositories } from './repositories/index.ts';

export interface RetrainBackend {
  /** Where the data lives, for a dataset's `source` (the control plane's URL). */
  where: string;
  /** The versions of model `name` (none when it is not in the registry). */
  versions(name: string): Promise<ModelVersion[]>;
  /** An artifact's bytes, checked against its sha256. */
  download(sha256: string): Promise<Uint8Array>;
  /** One page of the collected-items export (upload-batch bytes, lossless frames, label in `cloud_predicted`). */
  exportPage(model: string, offset: number): Promise<Uint8Array>;
  /** The model's drift score since `since`; throws E_NOT_FOUND when there is none. */
  drift(model: string, since: number): Promise<DriftScore>;
  /** Labelled collected items of the model. */
  labelledCount(model: string): Promise<number>;
  uploadArtifact(bytes: Uint8Array): Promise<string>;
  publish(req: PublishModelRequest): Promise<ModelVersion>;
  setReference(ref: string, summary: DriftSummary): Promise<void>;
  deployments(model: string): Promise<Deployment[]>;
  /** A deployment's edge-loop policy, or null when it has none. */
  policy(deploymentId: string): Promise<EdgeLoopPolicy | null>;
  deploy(req: CreateDeploymentRequest): Promise<Deployment>;
  setPolicy(deploymentId: string, policy: EdgeLoopPolicy): Promise<void>;
}

/** Export pages are fetched with this deadline (a page is ≤ MAX_UPLOAD_BYTES). */
const EXPORT_TIMEOUT_MS = 120_000;
/** Artifacts (models) are downloaded with this deadline. */
const DOWNLOAD_TIMEOUT_MS = 300_000;

const orNull = async <T>(p: Promise<T>): Promise<T | null> => {
  try {
    return await p;
  } catch (e) {
    if ((e as { code?: string }).code === 'E_NOT_FOUND') return null;
    throw e;
  }
};

/** The backend over a control plane's HTTP API (operator commands). */
export function httpRetrainBackend(client: CloudClient): RetrainBackend {
  const q = encodeURIComponent;
  return {
    where: client.conn.url,
    versions: async (name) => (await client.get<ModelsResponse>(HTTP_PATHS.model(name))).models[0]?.versions ?? [],
    download: (sha256) => client.download(sha256, DOWNLOAD_TIMEOUT_MS),
    exportPage: (model, offset) => exportPage(client, model, offset),
    drift: (model, since) => client.get<DriftScore>(`${EDGE_LOOP_PATHS.drift}?model=${q(model)}&since=${since}`),
    labelledCount: async (model) =>
      (await client.get<{ total: number }>(`${EDGE_LOOP_PATHS.items}?model=${q(model)}&labelled=true&limit=1`)).total,
    uploadArtifact: async (bytes) => (await client.upload<ArtifactUploadResponse>(HTTP_PATHS.artifacts, bytes)).sha256,
    publish: (req) => client.post<ModelVersion>(HTTP_PATHS.models, req),
    setReference: async (ref, summary) => void (await client.request('PUT', EDGE_LOOP_PATHS.reference(ref), summary)),
    deployments: async (model) =>
      (await client.get<DeploymentsResponse>(`${HTTP_PATHS.deployments}?model=${q(model)}`)).deployments,
    policy: (id) => orNull(client.get<EdgeLoopPolicy>(EDGE_LOOP_PATHS.policy(id))),
    deploy: (req) => client.post<Deployment>(HTTP_PATHS.deployments, req),
    setPolicy: async (id, policy) => void (await client.request('PUT', EDGE_LOOP_PATHS.policy(id), policy)),
  };
}

async function exportPage(client: CloudClient, model: string, offset: number): Promise<Uint8Array> {
  const url = `${client.conn.url}${EDGE_LOOP_PATHS.export}?model=${encodeURIComponent(model)}&limit=${MAX_UPLOAD_ITEMS}&offset=${offset}`;
  let res: Response;
  try {
    res = await fetch(url, {
      headers: client.conn.apiKey ? { authorization: `Bearer ${client.conn.apiKey}` } : {},
      signal: AbortSignal.timeout(EXPORT_TIMEOUT_MS),
    });
  } catch (e) {
    throw new VergeError('E_NETWORK', `cannot reach the cloud at ${client.conn.url}: ${(e as Error).message}`);
  }
  if (!res.ok) {
    const body = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
    throw new VergeError(
      res.status === 401 || res.status === 403 ? 'E_AUTH' : 'E_NETWORK',
      `collected items of '${model}': ${body.error?.message ?? `HTTP ${res.status}`}`,
    );
  }
  return new Uint8Array(await res.arrayBuffer());
}

/** The backend over this process's services (the control plane's retrain scheduler). */
export function serviceRetrainBackend(s: {
  models: ModelRegistry;
  deployments: DeploymentController;
  edgeLoop: EdgeLoopService;
  repos: Repositories;
}): RetrainBackend {
  return {
    where: 'this control plane',
    versions: async (name) => (await s.models.list(name)).models[0]?.versions ?? [],
    download: async (sha256) => {
      if (!(await s.models.artifacts.verify(sha256)))
        throw new VergeError('E_INTEGRITY', `artifact ${sha256.slice(0, 12)} does not match its sha256`);
      return s.models.modelBytes(sha256);
    },
    exportPage: (model, offset) => s.edgeLoop.exportPage({ model, limit: MAX_UPLOAD_ITEMS, offset }),
    drift: (model, since) => s.edgeLoop.driftScore(model, since),
    labelledCount: (model) => s.repos.edgeLoop.count({ model, labelled: true }),
    uploadArtifact: async (bytes) => (await s.models.uploadArtifact(Readable.from([Buffer.from(bytes)]))).sha256,
    publish: (req) => s.models.publish(req),
    setReference: async (ref, summary) => void (await s.edgeLoop.setReference(ref, summary)),
    deployments: (model) => s.deployments.list({ model }),
    policy: (id) => s.repos.edgeLoop.policy(id),
    deploy: (req) => s.deployments.create(req),
    setPolicy: async (id, policy) => void (await s.edgeLoop.setPolicy(id, policy)),
  };
}
