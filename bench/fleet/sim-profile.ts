/** The device profile every simulated agent of bench/fleet reports (enrollment and heartbeats). */
import type { DeviceProfile } from '../../src/protocol/index.ts';

export const SIM_PROFILE: DeviceProfile = {
  class: 'sim',
  arch: 'arm64',
  platform: 'linux',
  cpu: { model: 'simulated', cores: 1 },
  memory_mb: 512,
  precisions: ['fp32', 'int8'],
  accelerators: [],
};
