/**
 * The device profile an agent reports at enrollment and in every heartbeat, and uses to pick a
 * model variant: CPU model and cores, memory, architecture, platform, the numeric precisions it
 * can run. Detected from the host by default; every field can be overridden so one machine can
 * simulate several kinds of device (the quickstart runs a gateway, a camera and a small device).
 */
import { arch, cpus, platform, totalmem } from 'node:os';
import { VergeError } from '../errors.ts';
import { PRECISIONS, type DeviceProfile, type Precision } from '../protocol/index.ts';
import { PROFILE_PRESETS } from './profile-presets.ts';

export type { DeviceProfile, Precision };

export { PROFILE_PRESETS, PROFILE_PRESET_NAMES } from './profile-presets.ts';

/** This host as a device: onnxruntime's CPU provider runs fp32 and int8 (QDQ/integer) graphs everywhere. */
export function detectProfile(): DeviceProfile {
  const c = cpus();
  return {
    arch: arch(),
    platform: platform(),
    cpu: { model: c[0]?.model?.trim().slice(0, 128) || 'unknown', cores: Math.max(1, c.length) },
    memory_mb: Math.max(1, Math.round(totalmem() / 2 ** 20)),
    precisions: ['fp32', 'int8'],
    accelerators: [],
  };
}

function parsePrecisions(v: string): Precision[] {
  const list = v.split(/[+|/ ]/).filter(Boolean);
  for (const p of list) {
    if (!(PRECISIONS as readonly string[]).includes(p)) {
      throw new VergeError('E_BAD_ARGUMENT', `unknown precision '${p}' in --profile (known: ${PRECISIONS.join(', ')})`);
    }
  }
  if (list.length === 0) throw new VergeError('E_BAD_ARGUMENT', 'a profile needs at least one precision');
  return list as Precision[];
}

function positiveInt(key: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new VergeError('E_BAD_ARGUMENT', `--profile ${key} must be a positive integer, got '${value}'`);
  return n;
}

const PROFILE_KEYS = 'class, arch, platform, cpu_model, cores, memory_mb, precisions, accelerators';

/**
 * Parse a `--profile` spec: a preset name, `k=v` pairs, or both (`camera,memory_mb=256`).
 * Keys: class, arch, platform, cpu_model, cores, memory_mb, precisions (joined with '+',
 * e.g. `int8+fp32`), accelerators (joined with '+').
 */
export function parseProfileSpec(spec: string | undefined, base: DeviceProfile = detectProfile()): DeviceProfile {
  const p: DeviceProfile = {
    ...base,
    cpu: { ...base.cpu },
    precisions: [...base.precisions],
    accelerators: [...base.accelerators],
  };
  if (!spec) return p;
  for (const part of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq < 0) {
      const preset = PROFILE_PRESETS[part];
      if (!preset)
        throw new VergeError(
          'E_BAD_ARGUMENT',
          `unknown --profile preset '${part}' (known: ${Object.keys(PROFILE_PRESETS).join(', ')})`,
        );
      Object.assign(p, preset, {
        cpu: { ...(preset.cpu ?? p.cpu) },
        precisions: [...(preset.precisions ?? p.precisions)],
      });
      continue;
    }
    const key = part.slice(0, eq);
    const value = part.slice(eq + 1);
    switch (key) {
      case 'class':
      case 'arch':
      case 'platform':
        p[key] = value;
        break;
      case 'cpu_model':
        p.cpu.model = value;
        break;
      case 'cores':
        p.cpu.cores = positiveInt(key, value);
        break;
      case 'memory_mb':
        p.memory_mb = positiveInt(key, value);
        break;
      case 'precisions':
        p.precisions = parsePrecisions(value);
        break;
      case 'accelerators':
        p.accelerators = value.split('+').filter(Boolean);
        break;
      default:
        throw new VergeError('E_BAD_ARGUMENT', `unknown --profile key '${key}' (known: ${PROFILE_KEYS})`);
    }
  }
  return p;
}
