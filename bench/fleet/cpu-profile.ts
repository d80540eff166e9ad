/** V8 CPU profiles of a phase of bench/fleet (the control-plane process or a simulated-agent worker). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { dirname } from 'node:path';

/** Start sampling this process (every 200 µs). */
export async function startCpuProfile(): Promise<Session> {
  const profiler = new Session();
  profiler.connect();
  await profiler.post('Profiler.enable');
  await profiler.post('Profiler.setSamplingInterval', { interval: 200 });
  await profiler.post('Profiler.start');
  return profiler;
}

/** Stop sampling and write the profile to `file` (.cpuprofile: Chrome DevTools, bench/fleet/profile-summary.ts). */
export async function writeCpuProfile(profiler: Session, file: string): Promise<void> {
  const { profile } = await profiler.post('Profiler.stop');
  profiler.disconnect();
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(profile));
}
