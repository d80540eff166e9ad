/**
 * Device-profile presets for simulated devices (`verge agent --profile camera`). Data only, no
 * imports at run time but the freezing helper: the CLI lists the names in its help without loading
 * the agent.
 */
import { deepFreeze, type DeepReadonly } from '../frozen.ts';
import type { DeviceProfile } from '../protocol/index.ts';

/** Named presets for simulated devices: `--profile gateway`, or `--profile camera,memory_mb=512`. */
export const PROFILE_PRESETS: DeepReadonly<Record<string, Partial<DeviceProfile>>> = deepFreeze({
  // A mains-powered x86 gateway that runs full precision only, like an industrial PC without
  // tuned int8 kernels.
  gateway: { class: 'gateway', arch: 'x64', memory_mb: 8192, precisions: ['fp32'] },
  // A smart camera with an int8 path (NPU/DSP or VNNI): runs int8, falls back to fp32.
  camera: {
    class: 'camera',
    arch: 'arm64',
    memory_mb: 1024,
    cpu: { model: 'Cortex-A55 (simulated)', cores: 2 },
    precisions: ['int8', 'fp32'],
  },
  // A microcontroller-class device with fp16 arithmetic and a few MB of RAM: a variant built for
  // its class wins, and the memory gate rules out full-precision models.
  small: {
    class: 'small',
    arch: 'arm',
    memory_mb: 4,
    cpu: { model: 'Cortex-M7 (simulated)', cores: 1 },
    precisions: ['fp32', 'fp16', 'int8'],
  },
});

export const PROFILE_PRESET_NAMES = Object.freeze(Object.keys(PROFILE_PRESETS));
