/**
 * Which artifacts a device may download: the variants of the model versions deployed to it (its
 * desired state) and the global model of the federated round it takes part in. Anything else is
 * answered as unknown, so a device (stolen or not) can neither fetch models never meant for it
 * nor learn which artifacts exist. Operators' keys may download any artifact.
 */
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
