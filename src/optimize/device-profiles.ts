/**
 * Device profiles: what a class of edge device can afford. A profile is a memory budget for the
 * model, a latency budget at a batch size, and the arithmetic the device runs.
 *
 * Latency budgets are checked against latency MEASURED on the machine running the sweep, so a
 * profile's budget is meaningful for that hardware (run `verge optimize` on, or like, the target).
 * The memory budget is compared with the variant's measured file bytes (its weights), which
 * dominate the memory of the small models verge ships to devices.
 */
import { z } from 'zod';
import { VergeError } from '../errors.ts';
import { readBytes } from '../onnx/index.ts';

import { DEVICE_PROFILES, PROFILE_PRECISIONS as PRECISIONS, type DeviceProfile } from './profiles.ts';

export { DEVICE_PROFILES, PRECISIONS, type DeviceProfile };

export const DeviceProfileSchema: z.ZodType<DeviceProfile> = z.object({
  name: z.string().min(1),
  memory_mb: z.number().positive(),
  latency_budget_ms: z.number().positive(),
  batch: z.number().int().positive(),
  precisions: z.array(z.enum(PRECISIONS)).min(1),
  description: z.string().optional(),
});

/** A built-in profile by name, or a JSON file holding one profile. */
export function resolveDeviceProfile(nameOrFile: string): DeviceProfile {
  const builtin = DEVICE_PROFILES[nameOrFile];
  if (builtin) return builtin;
  if (!nameOrFile.endsWith('.json')) {
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `unknown device profile '${nameOrFile}' (built-in: ${Object.keys(DEVICE_PROFILES).join(', ')}; or a .json file)`,
    );
  }
  const bytes = readBytes(nameOrFile);
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new VergeError('E_BAD_ARGUMENT', `${nameOrFile} is not valid JSON (${(e as Error).message})`);
  }
  const parsed = DeviceProfileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `${nameOrFile}: device profile field '${issue.path.join('.') || '(root)'}': ${issue.message}`,
    );
  }
  return parsed.data;
}
