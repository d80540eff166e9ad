/**
 * Which artifacts a device may download: the variants of the model versions deployed to it (its
 * desired state) and the global model of the federated round it takes part in. Anything else is
 * answered as unknown, so a device (stolen or not) can neither fetch models never meant for it
 * nor learn which artifacts exist. Operators' keys may download any artifact.
 */
import { VergeError } from '../errors.ts';
import { HTTP_PATHS, wrapArtifactKey, type WrappedArtifactKey } from '../protocol/index.ts';
import type { FlRepository } from './repositories/index.ts';

export interface ArtifactAccessDeps {
  /** The device's desired-state entries (DeploymentController.desiredModels). */
  desired(deviceId: string): Promise<{ variants: { sha256: string }[] }[]>;
  fl: Pick<FlRepository, 'listJobs' | 'participant'>;
}

export async function deviceMayDownload(deps: ArtifactAccessDeps, deviceId: string, sha256: string): Promise<boolean> {
  for (const m of await deps.desired(deviceId)) if (m.variants.some((v) => v.sha256 === sha256)) return true;
  for (const job of await deps.fl.listJobs('running')) {
    if (job.global_sha256 !== sha256) continue;
    if (await deps.fl.participant(job.id, job.current_round, deviceId)) return true;
  }
  return false;
}

export interface ArtifactKeyDeps extends ArtifactAccessDeps {
  /** A confidential artifact's content key (base64); null for a plain one. */
  contentKey(sha256: string): Promise<string | null>;
  /** The device's registered X25519 public key (raw, base64). */
  deviceKey(deviceId: string): Promise<string | null>;
}

/**
 * A confidential artifact's content key, wrapped to the asking device: only for a device the
 * artifact is deployed to (else the same E_NOT_FOUND as a missing artifact), only to the key the
 * device registered. A fresh ephemeral key every time: nothing per device is stored.
 */
export async function wrappedArtifactKey(
  deps: ArtifactKeyDeps,
  deviceId: string,
  sha256: string,
): Promise<WrappedArtifactKey> {
  const key = await deps.contentKey(sha256);
  if (key === null || !(await deviceMayDownload(deps, deviceId, sha256)))
    throw new VergeError('E_NOT_FOUND', `no key for artifact ${sha256}`);
  const deviceKey = await deps.deviceKey(deviceId);
  if (deviceKey === null)
    throw new VergeError(
      'E_CONFLICT',
      `device ${deviceId} has no encryption key: the agent registers one (PUT ${HTTP_PATHS.deviceEncryptionKey})`,
    );
  return wrapArtifactKey(Buffer.from(key, 'base64'), deviceKey, { sha256, deviceId });
}
