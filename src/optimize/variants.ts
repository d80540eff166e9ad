/**
 * Choosing a variant for a device: among measured variants, the most accurate one whose precision
 * the device runs, whose bytes fit the memory budget and whose measured latency at the profile's
 * batch size fits the latency budget. Every rejected variant gets the reason.
 */
import { VergeError } from '../errors.ts';
import type { DeviceProfile } from './device-profiles.ts';
import type { VariantMeasurement } from './measure.ts';

export interface VariantChoice {
  profile: DeviceProfile;
  selected: VariantMeasurement | null;
  /** Why the selected one won (or why nothing fits). */
  reason: string;
  rejected: { name: string; reason: string }[];
}

const MB = 1024 * 1024;

function fmtMb(bytes: number): string {
  return `${(bytes / MB).toFixed(3)} MB`;
}

export function selectVariant(measured: readonly VariantMeasurement[], profile: DeviceProfile): VariantChoice {
  if (measured.length === 0) throw new VergeError('E_BAD_ARGUMENT', 'no measured variants to choose from');
  const rejected: VariantChoice['rejected'] = [];
  const fitting: VariantMeasurement[] = [];
  for (const m of measured) {
    const reasons: string[] = [];
    if (!profile.precisions.includes(m.precision))
      reasons.push(`${m.precision} arithmetic is not supported (device runs ${profile.precisions.join('/')})`);
    if (m.bytes > profile.memory_mb * MB)
      reasons.push(`${fmtMb(m.bytes)} exceeds the ${profile.memory_mb} MB memory budget`);
    const lat = m.latency.find((l) => l.batch === profile.batch);
    if (!lat) reasons.push(`latency was not measured at batch ${profile.batch}`);
    else if (lat.p50_ms > profile.latency_budget_ms)
      reasons.push(`p50 ${lat.p50_ms} ms at batch ${profile.batch} exceeds the ${profile.latency_budget_ms} ms budget`);
    if (reasons.length) rejected.push({ name: m.name, reason: reasons.join('; ') });
    else fitting.push(m);
  }
  if (fitting.length === 0) {
    return { profile, selected: null, reason: `no variant meets the '${profile.name}' budgets`, rejected };
  }
  const latencyOf = (m: VariantMeasurement) => m.latency.find((l) => l.batch === profile.batch)!.p50_ms;
  // Most accurate; among equally accurate ones the smaller, then the faster.
  const best = [...fitting].sort(
    (a, b) => b.accuracy - a.accuracy || a.bytes - b.bytes || latencyOf(a) - latencyOf(b),
  )[0]!;
  for (const m of fitting) {
    if (m !== best)
      rejected.push({
        name: m.name,
        reason: `fits, but accuracy ${(m.accuracy * 100).toFixed(2)}% < ${(best.accuracy * 100).toFixed(2)}% of ${best.name}${m.accuracy === best.accuracy ? ' (tie broken by size, then latency)' : ''}`,
      });
  }
  return {
    profile,
    selected: best,
    reason: `most accurate of ${fitting.length} variant(s) within ${profile.memory_mb} MB, ${profile.latency_budget_ms} ms at batch ${profile.batch}, ${profile.precisions.join('/')}`,
    rejected,
  };
}
