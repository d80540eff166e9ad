/**
 * Variant selection for a device profile, shared so the cloud can predict and display what the
 * agent will pick. Rule: only variants whose precision the device supports and whose profile class
 * is absent or equals the device's; among those, prefer an exact profile-class match, then the
 * smallest precision the device runs (int8 < fp16 < fp32: smaller and faster on CPUs), then the
 * smallest artifact.
 */
import type { ArtifactRef, DeviceProfile, Precision } from './messages.ts';

/** Lower = preferred on a device that supports it. */
const PRECISION_PREFERENCE: Record<Precision, number> = { int4: 0, int8: 1, fp16: 2, bf16: 3, fp32: 4 };

export function selectVariant(
  variants: readonly ArtifactRef[],
  profile: Pick<DeviceProfile, 'class' | 'precisions'>,
): ArtifactRef | null {
  const usable = variants.filter(
    (v) => profile.precisions.includes(v.precision) && (v.profile == null || v.profile === profile.class),
  );
  if (usable.length === 0) return null;
  return [...usable].sort((a, b) => {
    const pa = a.profile != null && a.profile === profile.class ? 0 : 1;
    const pb = b.profile != null && b.profile === profile.class ? 0 : 1;
    return pa - pb || PRECISION_PREFERENCE[a.precision] - PRECISION_PREFERENCE[b.precision] || a.size - b.size;
  })[0]!;
}
