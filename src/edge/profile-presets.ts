/**
 * Device-profile presets for simulated devices (`verge agent --profile camera`): the named device
 * profiles of protocol/device-classes.ts (one definition of each, shared with `verge optimize
 * --target`), as the class, hardware, memory and precisions an agent reports.
 */
import { deepFreeze, type DeepReadonly } from '../frozen.ts';
import { DEVICE_CLASSES, DEVICE_CLASS_NAMES, type DeviceProfile } from '../protocol/index.ts';

/** Named presets for simulated devices: `--profile gateway`, or `--profile camera,memory_mb=512`. */
export const PROFILE_PRESETS: DeepReadonly<Record<string, Partial<DeviceProfile>>> = deepFreeze(
  Object.fromEntries(
    Object.entries(DEVICE_CLASSES).map(([name, d]) => [
      name,
      {
        class: d.class,
        arch: d.arch,
        memory_mb: d.memory_mb,
        ...(d.cpu ? { cpu: { ...d.cpu } } : {}),
        precisions: [...d.precisions],
      },
    ]),
  ),
);

export const PROFILE_PRESET_NAMES: readonly string[] = DEVICE_CLASS_NAMES;
