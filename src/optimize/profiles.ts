/**
 * Device profiles for `verge optimize --target`: what a class of edge device can afford — memory
 * for a loaded model, a latency budget at a batch size, and the arithmetic the device runs. The
 * built-in ones are the named device profiles of protocol/device-classes.ts (one definition each,
 * the same devices `verge agent --profile` simulates); device-profiles.ts reads others from JSON.
 *
 * The memory budget is MODEL_MEMORY_SHARE of the device's memory, and it is compared with the
 * memory each variant takes when loaded (measured: measure.ts), not with its file size. Latency
 * budgets are checked against latency MEASURED on the machine running the sweep, so a profile's
 * budget is meaningful for that hardware (run `verge optimize` on, or like, the target).
 */
import { deepFreeze } from '../frozen.ts';
import { DEVICE_CLASSES, MODEL_MEMORY_SHARE } from '../protocol/browser.ts';

/** The arithmetic a profile can name (the precisions the sweep builds variants in). */
export const PRECISIONS = Object.freeze(['fp32', 'fp16', 'int8'] as const);

export interface DeviceProfile {
  name: string;
  /** The device's memory (MB); a loaded model may take MODEL_MEMORY_SHARE of it. */
  memory_mb: number;
  latency_budget_ms: number;
  batch: number;
  precisions: readonly (typeof PRECISIONS)[number][];
  description?: string;
}

/** The built-in profiles: the named device profiles (protocol/device-classes.ts). */
export const DEVICE_PROFILES: Readonly<Record<string, Readonly<DeviceProfile>>> = deepFreeze(
  Object.fromEntries(
    Object.entries(DEVICE_CLASSES).map(([name, d]) => [
      name,
      {
        name,
        description: d.description,
        memory_mb: d.memory_mb,
        latency_budget_ms: d.latency_budget_ms,
        batch: d.batch,
        precisions: [...d.precisions],
      },
    ]),
  ),
);

/** Memory (bytes) a loaded model may take on a device of this profile. */
export function modelMemoryBudget(profile: Pick<DeviceProfile, 'memory_mb'>): number {
  return profile.memory_mb * MODEL_MEMORY_SHARE * 2 ** 20;
}
