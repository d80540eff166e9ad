/**
 * Device profiles from the command line: a built-in name (profiles.ts) or a JSON file holding one
 * profile, checked field by field. Node only (reads the file).
 */
import { z } from 'zod';
import { VergeError } from '../errors.ts';
import { readBytes } from '../onnx/index.ts';
import { DEVICE_PROFILES, PRECISIONS, type DeviceProfile } from './profiles.ts';

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
