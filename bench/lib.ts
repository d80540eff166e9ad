/**
 * Shared benchmark plumbing: machine/version facts, timing statistics, result files.
 * Benchmarks compare side by side in one run and report ratios; the JSON in bench/results/
 * says what machine and versions produced it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CodecReport } from '../src/cli/codec-train.ts';
import { writeFileAtomic } from '../src/onnx/io.ts';
import { hostCpuFlags } from '../test/host-cpu.ts';

const here = dirname(fileURLToPath(import.meta.url));
export const RESULTS_DIR = join(here, 'results');

function pkgVersion(name: string): string | undefined {
  try {
    const p = join(here, '..', 'node_modules', name, 'package.json');
    return (JSON.parse(readFileSync(p, 'utf8')) as { version: string }).version;
  } catch {
    return undefined;
  }
}

/** The host's vector and int8 instruction-set flags (what the kernels onnxruntime picks depend on). */
const cpuFlags = () => hostCpuFlags().filter((f) => /^(avx|avx2|avx512f|avx512_vnni|avx_vnni|fma|amx_int8)$/.test(f));

/** Debian's python3, the one with python3-torch (a `python3` earlier on PATH, e.g. pyenv's, has no torch). */
export const PYTHON = '/usr/bin/python3';

/** USER_HZ: the unit of /proc's CPU times (100 on Linux everywhere verge runs). */
export const CLOCK_TICKS = 100;

/**
 * Fields after the command name of a /proc stat line (the name, in parentheses, may hold spaces):
 * state ppid … utime (12th) stime (13th); undefined when it cannot be read (not Linux, process gone).
 */
export function procStatFields(path: string): string[] | undefined {
  try {
    const stat = readFileSync(path, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/**
 * Pinned by this machine's environment. The PyTorch baselines run without them (the brief: same
 * results, much faster here): pass `env: torchEnv()` to the python process and record
 * `pytorch_env: pytorchEnvRecord()` in the result.
 */
export const OPENBLAS_PINS = Object.freeze(['OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE'] as const);

/**
 * PyTorch at its best on this machine (session 13's measurements, docs/training.md):
 * - jemalloc, as PyTorch's CPU tuning guide ("switch memory allocator") and Intel's launcher run
 *   training, freed pages kept for reuse (the launcher's configuration, without its background
 *   thread: nothing to purge). Under glibc's malloc PyTorch's large activation buffers go back to
 *   the kernel and are faulted in again each step (seed CNN: ~2,700 minor faults, 20-40 ms of
 *   system time per step) - or not, depending on how glibc's dynamic mmap threshold moved early in
 *   the process: a 2x spread between PyTorch processes.
 * - OPENBLAS_NUM_THREADS=1: Debian's OpenBLAS is the pthreads build, whose threads busy-wait
 *   beside PyTorch's OpenMP threads (OpenBLAS's advice for an already multi-threaded program);
 *   with them the GRU's and the transformer's steps spread 10-600 ms, without them 10-35 ms.
 */
export const JEMALLOC = '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2';
export const JEMALLOC_CONF = 'oversize_threshold:1,metadata_thp:auto,dirty_decay_ms:-1,muzzy_decay_ms:-1';
const hasJemalloc = (): boolean => existsSync(JEMALLOC);
const torchSettings = (): Record<string, string> => ({
  OPENBLAS_NUM_THREADS: '1',
  ...(hasJemalloc() ? { LD_PRELOAD: JEMALLOC, MALLOC_CONF: JEMALLOC_CONF } : {}),
});

export function torchEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of OPENBLAS_PINS) delete env[k];
  return { ...env, ...torchSettings() };
}

export function pytorchEnvRecord(): Record<string, unknown> {
  return {
    unset: OPENBLAS_PINS,
    were: Object.fromEntries(OPENBLAS_PINS.map((k) => [k, process.env[k] ?? null])),
    why: "this machine pins OpenBLAS in the environment; PyTorch's results are identical without the pins and its speed is its best",
    set: torchSettings(),
    ...(hasJemalloc() ? {} : { allocator: `glibc malloc (${JEMALLOC} not installed: PyTorch may spread ~2x)` }),
    set_why:
      "PyTorch's CPU tuning guide: jemalloc reuses freed memory (under glibc PyTorch faults its activation buffers in again every step); OpenBLAS's pthreads busy-wait beside PyTorch's OpenMP threads",
  };
}

/**
 * Python and torch versions of the comparison interpreter (PYTHON), and what PyTorch computes a
 * convolution's training step with: one Conv2d forward + backward under oneDNN's verbose log gives
 * the kernels (e.g. 'jit:avx512_core') and their data types, so a result says whether PyTorch ran
 * float32 (not bf16 on AMX) — the same precision as verge. Undefined without python/torch.
 */
export function pythonVersions(): Record<string, unknown> | undefined {
  const script = String.raw`
import json, sys, torch
conv = torch.nn.Conv2d(16, 16, 3)
conv(torch.randn(2, 16, 8, 8, requires_grad=True)).sum().backward()
cfg = torch.__config__.show()
cap = [l.split(':', 1)[1].strip() for l in cfg.splitlines() if 'CPU capability usage' in l]
print(json.dumps({"python": sys.version.split()[0], "torch": torch.__version__,
                  "mkldnn": torch.backends.mkldnn.is_available(), "aten_cpu_capability": cap[0] if cap else None}))`;
  try {
    const out = execFileSync(PYTHON, ['-c', script], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      env: { ...torchEnv(), ONEDNN_VERBOSE: '1', DNNL_VERBOSE: '1' },
    });
    const lines = out.trim().split('\n');
    const info = JSON.parse(lines.at(-1)!) as Record<string, unknown>;
    // onednn_verbose,exec,cpu,convolution,<impl>,<prop_kind>,src_f32::… wei_f32::…
    const convs = new Set<string>();
    let isa: string | undefined;
    for (const l of lines) {
      const f = l.split(',');
      if (f[1] === 'info' && f[3]?.startsWith('isa:')) isa = f[3].slice(4);
      if (f[1] === 'exec' && f[3] === 'convolution')
        convs.add(
          `${f[5]} ${f[4]} ${[...(f[6] ?? '').matchAll(/(src|wei|dst)_(\w+?):/g)].map((m) => `${m[1]} ${m[2]}`).join(' ')}`,
        );
    }
    return { ...info, onednn_isa: isa ?? null, conv_kernels: [...convs] };
  } catch {
    return undefined;
  }
}

export function machineInfo(): Record<string, unknown> {
  const c = cpus();
  return {
    cpu: c[0]?.model ?? 'unknown',
    cores: c.length,
    cpu_flags: cpuFlags(),
    memory_gb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    onnxruntime_node: pkgVersion('onnxruntime-node'),
    verge: pkgVersion('..') ?? '0.1.0',
    date: new Date().toISOString(),
    // the 1/5/15-minute load averages when the result was written: a busy machine skews every ratio
    load_average: loadavg().map((l) => round(l, 2)),
  };
}

/** Median of xs (the mean of the middle two for an even count; NaN when empty). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

export interface TimingStats {
  p50_ms: number;
  p99_ms: number;
  mean_ms: number;
  runs: number;
}

export function stats(samplesMs: number[]): TimingStats {
  const s = [...samplesMs].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / Math.max(1, s.length);
  return { p50_ms: round(quantile(s, 0.5)), p99_ms: round(quantile(s, 0.99)), mean_ms: round(mean), runs: s.length };
}

export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Write bench/results/<name>.json atomically with the machine facts, and return the path. */
export function writeResult(name: string, figures: Record<string, unknown>): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `${name}.json`);
  writeFileAtomic(path, JSON.stringify({ benchmark: name, machine: machineInfo(), ...figures }, null, 2) + '\n');
  return path;
}

/** A codec's figures as the edge benchmarks record them (measureCodec with a classifier). */
export function codecFigures(r: CodecReport) {
  return {
    bytes_per_sample: round(r.bytes_per_sample, 1),
    ratio_vs_float32: round(r.ratio, 2),
    psnr_db: Number.isFinite(r.psnr_db) ? round(r.psnr_db, 2) : null,
    accuracy_original: round(r.classifier!.accuracy_original, 4),
    accuracy_decoded: round(r.classifier!.accuracy_decoded, 4),
    drop_pts: round(r.classifier!.drop_pts, 2),
  };
}

/** Print a plain table to stdout. */
export function printTable(header: string[], rows: (string | number)[][]): void {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  for (const [ri, r] of cells.entries()) {
    console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
    if (ri === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}
