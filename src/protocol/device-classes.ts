/**
 * The named device profiles — one definition of each, so a name means the same device everywhere:
 * `verge agent --profile camera` simulates it (edge/profile-presets.ts takes its class, hardware,
 * memory and precisions) and `verge optimize --target camera` picks the variant for it
 * (optimize/device-profiles.ts adds its latency budget and batch size). Data only (no imports at
 * run time but the freezing helper): the CLI lists the names in its help without loading a layer.
 *
 * `memory_mb` is the device's memory. A loaded model may take `MODEL_MEMORY_SHARE` of it — the
 * memory of the onnxruntime session once it has run (weights, their pre-packed copies, the
 * activation arena), not the size of the file: the agent checks a variant against it before
 * loading (edge/variant-choice.ts, from an estimate), `verge optimize` with the loaded memory it
 * measures for each variant.
 */
import { deepFreeze } from '../frozen.ts';

/**
 * Share of a device's memory one loaded model may take. The rest is the OS, the agent and the
 * application; a quarter is the usual rule of thumb for co-resident inference on embedded Linux.
 */
export const MODEL_MEMORY_SHARE = 0.25;

export interface DeviceClass {
  /** The class name agents report and variants target (`verge model publish --profile`). */
  class: string;
  description: string;
  arch: string;
  cpu?: Readonly<{ model: string; cores: number }>;
  /** The device's memory (MB); a loaded model may take MODEL_MEMORY_SHARE of it. */
  memory_mb: number;
  /** Arithmetic it runs, preferred first. */
  precisions: readonly ('fp32' | 'fp16' | 'int8')[];
  /** Latency budget per request (p50, ms) at `batch`. */
  latency_budget_ms: number;
  /** Requests per inference: 1 for a device serving one frame at a time. */
  batch: number;
}

export const DEVICE_CLASSES: Readonly<Record<string, Readonly<DeviceClass>>> = deepFreeze({
  gateway: {
    class: 'gateway',
    description:
      'mains-powered x86 gateway batching requests from many sensors; full precision only (an industrial PC without tuned int8 kernels)',
    arch: 'x64',
    memory_mb: 8192,
    precisions: ['fp32'],
    latency_budget_ms: 10,
    batch: 32,
  },
  camera: {
    class: 'camera',
    description: 'smart camera SoC: one frame at a time, an int8 path (NPU/DSP or VNNI), fp32 as a fallback',
    arch: 'arm64',
    cpu: { model: 'Cortex-A55 (simulated)', cores: 2 },
    memory_mb: 1024,
    precisions: ['int8', 'fp32'],
    latency_budget_ms: 1,
    batch: 1,
  },
  small: {
    class: 'small',
    description:
      'small device with fp16 arithmetic and a few MB of RAM: a variant built for its class wins, the memory budget rules out full-precision models',
    arch: 'arm',
    cpu: { model: 'Cortex-M7 (simulated)', cores: 1 },
    memory_mb: 4,
    precisions: ['fp32', 'fp16', 'int8'],
    latency_budget_ms: 2,
    batch: 1,
  },
  'mcu-class': {
    class: 'mcu-class',
    description: 'microcontroller-class device: 1 MB of RAM, integer arithmetic only',
    arch: 'arm',
    cpu: { model: 'Cortex-M4 (simulated)', cores: 1 },
    memory_mb: 1,
    precisions: ['int8'],
    latency_budget_ms: 2,
    batch: 1,
  },
});

export const DEVICE_CLASS_NAMES: readonly string[] = Object.freeze(Object.keys(DEVICE_CLASSES));
