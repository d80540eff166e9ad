/**
 * The host CPU's feature flags, for tests and benchmarks that depend on the instruction set (which
 * int8 kernels onnxruntime runs, what a result file records); never read by the library, which
 * computes the same on every host.
 */
import { readFileSync } from 'node:fs';

/** The `flags` line of /proc/cpuinfo (Linux x86); empty where it cannot be read. */
export function hostCpuFlags(): string[] {
  try {
    return /^flags\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.split(' ') ?? [];
  } catch {
    return [];
  }
}
