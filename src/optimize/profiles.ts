/**
 * Built-in device profiles: what a class of edge device can afford. Data only (no imports at run
 * time but the freezing helper), so the CLI lists the names in its help without loading the optimizer.
 */
import { deepFreeze } from '../frozen.ts';

export const PROFILE_PRECISIONS = Object.freeze(['fp32', 'fp16', 'int8'] as const);

export interface DeviceProfile {
  name: string;
  memory_mb: number;
  latency_budget_ms: number;
  batch: number;
  precisions: readonly (typeof PROFILE_PRECISIONS)[number][];
  description?: string;
}

/** Built-in profiles; budgets sized for the seed-CNN class of models verge's quickstart ships. */
export const DEVICE_PROFILES: Readonly<Record<string, Readonly<DeviceProfile>>> = deepFreeze({
  gateway: {
    name: 'gateway',
    description: 'edge gateway (x86/ARM, GBs of RAM) batching requests from many sensors',
    memory_mb: 256,
    latency_budget_ms: 10,
    batch: 32,
    precisions: ['fp32', 'fp16', 'int8'],
  },
  camera: {
    name: 'camera',
    description: 'smart camera SoC: one frame at a time, a few MB for models, int8 NPU/CPU paths',
    memory_mb: 0.25,
    latency_budget_ms: 1,
    batch: 1,
    precisions: ['fp32', 'int8'],
  },
  'mcu-class': {
    name: 'mcu-class',
    description: 'microcontroller-class device: ~150 KB for weights, integer arithmetic only',
    memory_mb: 0.15,
    latency_budget_ms: 2,
    batch: 1,
    precisions: ['int8'],
  },
});
