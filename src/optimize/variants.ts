/**
 * Choosing a variant for a device: among measured variants, those whose precision the device runs,
 * whose loaded memory (measured at the profile's batch size) fits the device's budget for a model
 * and whose measured latency at that batch fits the latency budget. Of those, the most accurate —
 * but an accuracy difference the test set cannot tell from noise is a tie: every variant not
 * significantly less accurate than the most accurate one (exact McNemar test on the samples both
 * classified, p < 0.05) is as good, and the one needing the least memory wins (then the smaller
 * file, then the faster). Every rejected variant gets the reason.
 */
import { VergeError } from '../errors.ts';
import { MODEL_MEMORY_SHARE } from '../protocol/browser.ts';
import { modelMemoryBudget, type DeviceProfile } from './profiles.ts';
import type { VariantMeasurement } from './measure.ts';

export interface VariantChoice {
  profile: DeviceProfile;
  selected: VariantMeasurement | null;
  /** Why the selected one won (or why nothing fits). */
  reason: string;
  rejected: { name: string; reason: string }[];
}

/** Accuracy differences with a McNemar p-value below this are real; others are ties. */
export const SIGNIFICANCE_LEVEL = 0.05;

const MB = 1024 * 1024;

function fmtMb(bytes: number): string {
  return `${(bytes / MB).toFixed(3)} MB`;
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

/**
 * Two-sided exact McNemar test of two classifiers on the same samples (1 = classified right): the
 * probability of a split of the samples only one of them got right at least this uneven, were both
 * equally accurate (binomial, n = discordant samples, p = ½).
 */
export function mcnemarP(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length)
    throw new VergeError('E_BAD_ARGUMENT', `McNemar needs the same samples: ${a.length} vs ${b.length} outcomes`);
  let onlyA = 0;
  let onlyB = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] && !b[i]) onlyA++;
    else if (!a[i] && b[i]) onlyB++;
  }
  const n = onlyA + onlyB;
  const k = Math.min(onlyA, onlyB);
  // P(X ≤ k) for X ~ Binomial(n, ½), term by term in log space (2^-n underflows for large n)
  let logTerm = -n * Math.LN2;
  let tail = Math.exp(logTerm);
  for (let i = 1; i <= k; i++) {
    logTerm += Math.log((n - i + 1) / i);
    tail += Math.exp(logTerm);
  }
  return Math.min(1, 2 * tail);
}

/** The p-value of `m` being less accurate than `top` by chance, or undefined without comparable outcomes. */
function pValue(m: VariantMeasurement, top: VariantMeasurement): number | undefined {
  if (!m.correct || !top.correct || m.correct.length !== top.correct.length) return undefined;
  return mcnemarP(m.correct, top.correct);
}

export function selectVariant(measured: readonly VariantMeasurement[], profile: DeviceProfile): VariantChoice {
  if (measured.length === 0) throw new VergeError('E_BAD_ARGUMENT', 'no measured variants to choose from');
  const budget = modelMemoryBudget(profile);
  const budgetText = `${fmtMb(budget)} budget (${MODEL_MEMORY_SHARE * 100}% of the device's ${profile.memory_mb} MB)`;
  const memoryOf = (m: VariantMeasurement) => m.loaded.find((l) => l.batch === profile.batch)?.bytes;
  const rejected: VariantChoice['rejected'] = [];
  const fitting: VariantMeasurement[] = [];
  for (const m of measured) {
    const reasons: string[] = [];
    if (!profile.precisions.includes(m.precision))
      reasons.push(`${m.precision} arithmetic is not supported (device runs ${profile.precisions.join('/')})`);
    const memory = memoryOf(m);
    if (memory === undefined) reasons.push(`loaded memory was not measured at batch ${profile.batch}`);
    else if (memory > budget)
      reasons.push(`${fmtMb(memory)} loaded at batch ${profile.batch} exceeds the ${budgetText}`);
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
  /** Cheaper first: less loaded memory, then a smaller file, then faster. */
  const cheaper = (a: VariantMeasurement, b: VariantMeasurement) =>
    memoryOf(a)! - memoryOf(b)! || a.bytes - b.bytes || latencyOf(a) - latencyOf(b);
  const top = [...fitting].sort((a, b) => b.accuracy - a.accuracy || cheaper(a, b))[0]!;
  const p = new Map(fitting.map((m) => [m, m === top ? 1 : pValue(m, top)]));
  /** As accurate as `top` as far as the test set can tell. */
  const tied = fitting.filter((m) => {
    const pm = p.get(m);
    return m.accuracy === top.accuracy || (pm !== undefined && pm >= SIGNIFICANCE_LEVEL);
  });
  const best = [...tied].sort(cheaper)[0]!;
  const pText = (m: VariantMeasurement) => {
    const pm = p.get(m);
    return pm === undefined ? '' : ` (McNemar p=${pm.toPrecision(2)} on ${m.samples} samples)`;
  };
  for (const m of fitting) {
    if (m === best) continue;
    const needsLess = `${best.name} needs less (loaded memory, then file size, then latency)`;
    const reason =
      m === top
        ? `fits and is the most accurate (${pct(m.accuracy)}), but ${best.name} (${pct(best.accuracy)}) is not significantly less accurate${pText(best)} and needs less (loaded memory, then file size, then latency)`
        : tied.includes(m)
          ? `fits; accuracy ${pct(m.accuracy)} vs ${pct(top.accuracy)} of ${top.name} is no significant difference${pText(m)}, and ${needsLess}`
          : `fits, but accuracy ${pct(m.accuracy)} < ${pct(top.accuracy)} of ${top.name}${pText(m)}`;
    rejected.push({ name: m.name, reason });
  }
  const within = `${fitting.length} variant(s) within ${budgetText.replace(' budget', '')} of loaded memory, ${profile.latency_budget_ms} ms at batch ${profile.batch}, ${profile.precisions.join('/')}`;
  const reason =
    best === top
      ? `most accurate of ${within}`
      : `as accurate as ${top.name} (${pct(best.accuracy)} vs ${pct(top.accuracy)}: no significant difference${pText(best)}) and needs less; of ${within}`;
  return { profile, selected: best, reason, rejected };
}
