/**
 * Summarize a V8 .cpuprofile (e.g. from `npm run bench -- fleet --cpu-prof DIR`): the functions
 * with the most self time and the most total (inclusive) time, as a share of the sampled time.
 *
 *   npx tsx bench/fleet/profile-summary.ts FILE.cpuprofile [--top 30] [--filter substring]
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: profile-summary FILE.cpuprofile [--top N] [--filter S]\n');
  process.exit(2);
}
const argOf = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const top = Number(argOf('top') ?? 30);
const filter = argOf('filter');

const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const label = (n: Node) => {
  const url = n.callFrame.url
    .replace(/^file:\/\//, '')
    .replace(/^.*\/(node_modules\/)/, '$1')
    .replace(/^.*\/main\//, '');
  return `${n.callFrame.functionName || '(anonymous)'} ${url}:${n.callFrame.lineNumber + 1}`;
};

const selfUs = new Map<string, number>();
const totalUs = new Map<string, number>();
let all = 0;
for (let i = 0; i < p.samples.length; i++) {
  const dt = p.timeDeltas[i + 1] ?? 0; // a sample's time is the delta to the next one
  all += dt;
  let n = byId.get(p.samples[i]!)!;
  const self = label(n);
  selfUs.set(self, (selfUs.get(self) ?? 0) + dt);
  const seen = new Set<string>();
  for (let id: number | undefined = n.id; id !== undefined; id = parent.get(id)) {
    n = byId.get(id)!;
    const l = label(n);
    if (seen.has(l)) continue;
    seen.add(l);
    totalUs.set(l, (totalUs.get(l) ?? 0) + dt);
  }
}

const show = (title: string, m: Map<string, number>) => {
  console.log(`\n${title} (of ${(all / 1e6).toFixed(2)} s sampled)`);
  [...m.entries()]
    .filter(([l]) => !filter || l.includes(filter))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .forEach(([l, us]) =>
      console.log(`${((100 * us) / all).toFixed(1).padStart(6)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${l}`),
    );
};
show('self time', selfUs);
show('total time', totalUs);
