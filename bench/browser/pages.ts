/**
 * What bench/browser.ts and bench/browser-configs.ts share: the app built and served (cross-origin
 * isolated, as `verge cloud` serves it), bench.html run in chromium with a query, and the CPU time
 * the processes (and each of their threads) use between the marks the page awaits around its timed
 * training steps (read from /proc; NaN or empty without it).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import type { LaunchedBrowser } from '../../src/web/chromium.ts';
import { webRoutes } from '../../src/cloud/plugins/web.ts';
import { buildWebApp, type OrtFlavor } from '../../src/web/build.ts';
import type { SpeedResult } from '../../src/web/speed.ts';
import { CLOCK_TICKS, procStatFields } from '../lib.ts';

/** The app built under `dir` once per onnxruntime-web flavor, each served on its own port. */
export async function serveWebApps(
  dir: string,
  flavors: readonly OrtFlavor[],
): Promise<{ urls: Record<OrtFlavor, string>; close(): Promise<void> }> {
  const servers: { close(): Promise<void> }[] = [];
  const urls = {} as Record<OrtFlavor, string>;
  for (const f of flavors) {
    const web = await buildWebApp(join(dir, f), { ort: f });
    const app = Fastify();
    await app.register(webRoutes, { webDir: web.outDir });
    await app.listen({ port: 0, host: '127.0.0.1' });
    servers.push(app);
    urls[f] = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  }
  return {
    urls,
    close: async () => {
      for (const s of servers) await s.close();
    },
  };
}

/** The processes this process started, transitively (chromium's), by pid. */
function descendants(): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const f = procStatFields(`/proc/${entry}/stat`);
    if (!f) continue;
    const ppid = Number(f[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const out: number[] = [];
  const todo = [...(children.get(process.pid) ?? [])];
  for (let pid = todo.pop(); pid !== undefined; pid = todo.pop()) {
    out.push(pid);
    todo.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** CPU time (ms) used so far by the processes this bench started (chromium's), from /proc; NaN without it. */
export function childrenCpuMs(): number {
  if (!existsSync('/proc/self/stat')) return NaN;
  let ticks = 0;
  for (const pid of descendants()) {
    const f = procStatFields(`/proc/${pid}/stat`);
    if (f) ticks += Number(f[11]) + Number(f[12]);
  }
  return (ticks * 1000) / CLOCK_TICKS;
}

/** chromium's process type (`--type=renderer`, …; the browser process has none). */
function processType(pid: number): string {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return /--type=([\w-]+)/.exec(cmd)?.[1] ?? 'browser';
  } catch {
    return 'gone';
  }
}

/** CPU ticks per thread of the processes this bench started, by `pid/tid`, with `type:thread name`. */
export function threadTicks(): Map<string, { label: string; ticks: number }> {
  const out = new Map<string, { label: string; ticks: number }>();
  if (!existsSync('/proc/self/stat')) return out;
  for (const pid of descendants()) {
    const type = processType(pid);
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      const f = procStatFields(`/proc/${pid}/task/${tid}/stat`);
      if (!f) continue;
      let name = '?';
      try {
        name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      } catch {
        // exited meanwhile
      }
      out.set(`${pid}/${tid}`, { label: `${type}:${name}`, ticks: Number(f[11]) + Number(f[12]) });
    }
  }
  return out;
}

/** CPU ms per `type:thread name` between two threadTicks() snapshots, largest first. */
export function threadCpuBetween(
  start: Map<string, { label: string; ticks: number }>,
  end: Map<string, { label: string; ticks: number }>,
): Record<string, number> {
  const by = new Map<string, number>();
  for (const [k, e] of end) {
    const d = e.ticks - (start.get(k)?.ticks ?? 0);
    if (d > 0) by.set(e.label, (by.get(e.label) ?? 0) + (d * 1000) / CLOCK_TICKS);
  }
  return Object.fromEntries([...by].sort((a, b) => b[1] - a[1]));
}

/** CPU ms per timed step, read by the `onTimed` hook of measureSpeed with `read`. */
export function cpuMeter(read: () => number) {
  let start = NaN;
  let end = NaN;
  return {
    mark: (phase: 'start' | 'end') => {
      if (phase === 'start') start = read();
      else end = read();
    },
    perStep: (steps: number) => (end - start) / steps,
  };
}

export const nodeCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

export type BenchPageResult = SpeedResult & {
  crossOriginIsolated: boolean;
  threads?: number | null;
  cpu_ms_per_step: number;
  /** With `perThread`: CPU ms per step of each chromium `process type:thread name`. */
  thread_cpu_ms_per_step?: Record<string, number>;
};

/**
 * bench.html at `url` with `query` (its `steps` must be `steps`), in a new page of `browser`; CPU
 * per timed step of every chromium process, and with `perThread` of each thread name.
 */
export async function runBenchPage(
  browser: LaunchedBrowser,
  url: string,
  query: string,
  steps: number,
  perThread = false,
): Promise<BenchPageResult> {
  const page = await browser.context.newPage();
  const cpu = cpuMeter(childrenCpuMs);
  let threadsAt: Map<string, { label: string; ticks: number }> | undefined;
  let threadCpu: Record<string, number> | undefined;
  try {
    await page.exposeFunction('vergeBenchMark', (phase: 'start' | 'end') => {
      cpu.mark(phase);
      if (!perThread) return;
      if (phase === 'start') threadsAt = threadTicks();
      else if (threadsAt) threadCpu = threadCpuBetween(threadsAt, threadTicks());
    });
    await page.goto(`${url}/bench.html?${query}`);
    await page.waitForFunction("window.vergeBench && window.vergeBench.state !== 'running'", undefined, {
      timeout: 600_000,
      polling: 500,
    });
    const b = (await page.evaluate('window.vergeBench')) as {
      state: string;
      result?: SpeedResult & { crossOriginIsolated: boolean; threads?: number | null };
      error?: string;
    };
    if (b.state !== 'done') throw new Error(`browser run failed: ${b.error}`);
    const perStep = threadCpu
      ? Object.fromEntries(Object.entries(threadCpu).map(([k, v]) => [k, Math.round((v / steps) * 10) / 10]))
      : undefined;
    return {
      ...b.result!,
      cpu_ms_per_step: cpu.perStep(steps),
      ...(perStep ? { thread_cpu_ms_per_step: perStep } : {}),
    };
  } finally {
    await page.close();
  }
}
