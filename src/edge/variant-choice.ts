/**
 * Which variant of a model this device runs. protocol/selectVariant holds the rule both sides
 * share (supported precision, profile class, then preference); the agent adds what only it can
 * judge: whether the session will fit in the memory it can give a model.
 */
import { MODEL_MEMORY_SHARE, selectVariant, type ArtifactRef, type DeviceProfile } from '../protocol/index.ts';

/**
 * Resident memory of an onnxruntime CPU session relative to the model file: the initializers,
 * their pre-packed copies for Conv/Gemm, and the activation arena. An estimate made before
 * loading (`verge optimize` measures the loaded memory instead); the device's budget for it is
 * MODEL_MEMORY_SHARE of its memory (protocol/device-classes.ts).
 */
export const SESSION_MEMORY_FACTOR = 3;

export function estimatedMemoryMb(bytes: number): number {
  return (bytes * SESSION_MEMORY_FACTOR) / 2 ** 20;
}

export interface VariantDecision {
  chosen: ArtifactRef | null;
  /** Why each refused variant was refused (reported to the cloud when nothing fits). */
  reasons: string[];
}

export function chooseVariant(variants: readonly ArtifactRef[], profile: DeviceProfile): VariantDecision {
  const reasons: string[] = [];
  const budgetMb = profile.memory_mb * MODEL_MEMORY_SHARE;
  const fitting = variants.filter((v) => {
    const need = estimatedMemoryMb(v.size);
    if (need <= budgetMb) return true;
    reasons.push(`${v.variant} needs ~${need.toFixed(2)} MB, budget ${budgetMb.toFixed(2)} MB`);
    return false;
  });
  for (const v of fitting) {
    if (!profile.precisions.includes(v.precision))
      reasons.push(`${v.variant}: precision ${v.precision} not supported (runs ${profile.precisions.join(', ')})`);
    else if (v.profile != null && v.profile !== profile.class)
      reasons.push(`${v.variant}: built for profile '${v.profile}'`);
  }
  return { chosen: selectVariant(fitting, profile), reasons };
}
