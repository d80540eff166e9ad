/**
 * Which variant of a model this device runs. protocol/selectVariant holds the rule both sides
 * share (supported precision, profile class, then preference); the agent adds what only it can
 * judge: whether the session will fit in the memory it can give a model.
 */
import { MODEL_MEMORY_SHARE, selectVariant, type ArtifactRef, type DeviceProfile } from '../protocol/index.ts';

/**
 * The fallback for a variant published without a measured loaded memory: resident memory of an
 * onnxruntime CPU session as a multiple of the model file (the initializers, their pre-packed
 * copies for Conv/Gemm, the activation arena). Close for fp32 files (the seed CNN loads at 2.9×
 * its file), poor for files onnxruntime widens or rebuilds when it loads them (fp16 ~5–6×, 4-bit
 * weights 45–95×) or does not pre-pack (an embedding table ~2×): docs/edge.md has the measurements.
 * `verge model publish` measures it (protocol LoadedMemory), and a measurement always wins.
 */
export const SESSION_MEMORY_FACTOR = 3;

export function estimatedMemoryMb(bytes: number): number {
  return (bytes * SESSION_MEMORY_FACTOR) / 2 ** 20;
}

/** What a variant needs loaded (MB), and whether that was measured or estimated from its size. */
export interface VariantMemory {
  mb: number;
  measured: boolean;
  /** The batch size of the measurement used. */
  batch?: number;
}

/**
 * The memory `v` needs once loaded: its measured loaded memory at the smallest batch measured (a
 * served request is one sample or a few; the figure at a larger batch only overstates it), else
 * the estimate from its file size.
 */
export function variantMemory(v: ArtifactRef): VariantMemory {
  const points = v.loaded_memory ?? [];
  if (points.length === 0) return { mb: estimatedMemoryMb(v.size), measured: false };
  const least = points.reduce((a, b) => (b.batch < a.batch ? b : a));
  return { mb: least.bytes / 2 ** 20, measured: true, batch: least.batch };
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
    const need = variantMemory(v);
    if (need.mb <= budgetMb) return true;
    const how = need.measured
      ? `${need.mb.toFixed(2)} MB loaded (measured at batch ${need.batch})`
      : `~${need.mb.toFixed(2)} MB (estimated: ${SESSION_MEMORY_FACTOR}× its file; not measured)`;
    reasons.push(`${v.variant} needs ${how}, budget ${budgetMb.toFixed(2)} MB`);
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
