/**
 * The `verge optimize` report: one JSON document (every measured figure, ratios to fp32), a
 * Markdown table and an SVG plot with two panels (accuracy vs size, accuracy vs latency).
 */
import { MODEL_MEMORY_SHARE } from '../protocol/browser.ts';
import { modelMemoryBudget } from './profiles.ts';
import type { VariantChoice } from './variants.ts';
import type { VariantMeasurement } from './measure.ts';
import type { SkippedNode } from './quantize/common.ts';

export interface ReportVariant extends Omit<VariantMeasurement, 'correct'> {
  file?: string;
  bytes_ratio: number;
  /** fp32 accuracy minus this variant's, in percentage points. */
  accuracy_drop_pt: number;
  /** p50 latency / fp32 p50 latency, per batch size. */
  latency_ratio: Record<string, number>;
  /** Nodes the quantizer left in float, and why (quantized variants). */
  left_float?: SkippedNode[];
  /** What the quantizer changed beyond the plain rewrite (e.g. a Relu moved behind a MaxPool). */
  notes?: string[];
}

/** How a variant was made, as the sweep records it (BuiltVariant.details). */
export type VariantDetails = Record<string, unknown>;

function quantizeReportOf(d: VariantDetails | undefined): { skipped?: SkippedNode[]; notes?: string[] } {
  const q = d?.quantize as { skipped?: SkippedNode[]; notes?: string[] } | undefined;
  return q ?? {};
}

export interface OptimizeReport {
  model: string;
  data: { source: string; test_samples: number };
  threads: number;
  reference: string;
  variants: ReportVariant[];
  target?: {
    profile: VariantChoice['profile'];
    selected: string | null;
    reason: string;
    rejected: VariantChoice['rejected'];
  };
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;

export function buildReport(
  model: string,
  data: { source: string; test_samples: number },
  threads: number,
  measurements: VariantMeasurement[],
  files: Record<string, string> = {},
  choice?: VariantChoice,
  details: Record<string, VariantDetails> = {},
): OptimizeReport {
  const ref = measurements.find((m) => m.name === 'fp32') ?? measurements[0]!;
  const variants = measurements.map(({ correct: _perSample, ...m }) => {
    const q = quantizeReportOf(details[m.name]);
    return {
      ...m,
      ...(files[m.name] ? { file: files[m.name] } : {}),
      ...(q.skipped?.length ? { left_float: q.skipped } : {}),
      ...(q.notes?.length ? { notes: q.notes } : {}),
      bytes_ratio: r3(m.bytes / ref.bytes),
      accuracy_drop_pt: Math.round((ref.accuracy - m.accuracy) * 1e4) / 100,
      latency_ratio: Object.fromEntries(
        m.latency.map((l) => {
          const base = ref.latency.find((x) => x.batch === l.batch);
          return [`b${l.batch}`, base ? r3(l.p50_ms / base.p50_ms) : NaN];
        }),
      ),
    };
  });
  const report: OptimizeReport = { model, data, threads, reference: ref.name, variants };
  if (choice)
    report.target = {
      profile: choice.profile,
      selected: choice.selected?.name ?? null,
      reason: choice.reason,
      rejected: choice.rejected,
    };
  return report;
}

function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)}`;
}

function mb(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(2);
}

export function reportMarkdown(r: OptimizeReport): string {
  const batches = r.variants[0]?.latency.map((l) => l.batch) ?? [];
  const sel = r.target?.selected;
  const lines: string[] = [];
  lines.push(`# verge optimize: ${r.model}`, '');
  lines.push(
    `Accuracy on ${r.data.test_samples} test samples of ${r.data.source}; latency is the median of repeated runs on this machine ` +
      `(onnxruntime, ${r.threads} thread(s)), all variants measured side by side in one run. Ratios are to \`${r.reference}\`.`,
    '',
  );
  const head = [
    'variant',
    'precision',
    'KB',
    '× bytes',
    'loaded MB',
    'accuracy %',
    'drop (pt)',
    ...batches.flatMap((b) => [`B=${b} ms`, `× B=${b}`]),
  ];
  lines.push(`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i < 2 ? ' --- ' : ' ---: ')).join('|')}|`);
  for (const v of r.variants) {
    const name = v.name === sel ? `**${v.name}** (selected)` : v.name;
    const row = [
      name,
      v.precision,
      kb(v.bytes),
      v.bytes_ratio.toFixed(3),
      v.loaded.length ? v.loaded.map((l) => `${mb(l.bytes)} (B=${l.batch})`).join(', ') : '—',
      (v.accuracy * 100).toFixed(2),
      v.accuracy_drop_pt.toFixed(2),
      ...batches.flatMap((b) => {
        const l = v.latency.find((x) => x.batch === b)!;
        return [l.p50_ms.toFixed(3), (v.latency_ratio[`b${b}`] ?? NaN).toFixed(3)];
      }),
    ];
    lines.push(`| ${row.join(' | ')} |`);
  }
  lines.push('', '## Variants', '');
  for (const v of r.variants) {
    lines.push(`- \`${v.name}\`${v.file ? ` (${v.file})` : ''}: ${v.description}`);
    for (const s of v.left_float ?? []) lines.push(`  - left in float: \`${s.node}\` (${s.op}): ${s.reason}`);
    for (const n of v.notes ?? []) lines.push(`  - note: ${n}`);
  }
  if (r.target) {
    const p = r.target.profile;
    lines.push('', `## Target: ${p.name}`, '');
    lines.push(
      `Budget: ${mb(modelMemoryBudget(p))} MB of loaded memory (${MODEL_MEMORY_SHARE * 100}% of the device's ${p.memory_mb} MB), ${p.latency_budget_ms} ms at batch ${p.batch}, precisions ${p.precisions.join('/')}.`,
      '',
    );
    lines.push(
      r.target.selected
        ? `Selected **${r.target.selected}**: ${r.target.reason}.`
        : `Nothing selected: ${r.target.reason}.`,
      '',
    );
    for (const x of r.target.rejected) lines.push(`- ${x.name}: ${x.reason}`);
  }
  lines.push('', '![accuracy vs size and latency](report.svg)', '');
  return lines.join('\n');
}

// ------------------------------------------------------------------ SVG

const W = 1000;
const H = 460;
const PANEL = { w: 440, h: 330, top: 60, left: [70, 570] };
const COLORS: Record<string, string> = { fp32: '#1f77b4', fp16: '#17becf', int8: '#d62728' };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** "Nice" tick values covering [lo, hi]. */
function ticks(lo: number, hi: number, count = 5): number[] {
  const span = hi - lo || Math.abs(hi) || 1;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= count) ?? 10 * mag;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Math.round(t / step) * step);
  return out;
}

function fmtTick(t: number): string {
  return Math.abs(t) >= 100
    ? t.toFixed(0)
    : Math.abs(t) >= 10
      ? t.toFixed(1).replace(/\.0$/, '')
      : String(Math.round(t * 1000) / 1000);
}

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Approximate width of 11 px Helvetica text (no font metrics in a hand-written SVG). */
const CHAR_WIDTH = 6.2;

function overlap(a: Box, b: Box): number {
  const w = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  return w > 0 && h > 0 ? w * h : 0;
}

/** Greedy label placement: the first spot around the point that overlaps nothing already drawn. */
function placeLabel(
  text: string,
  cx: number,
  cy: number,
  placed: Box[],
  area: Box,
): { x: number; y: number; anchor: string; box: Box } {
  const w = text.length * CHAR_WIDTH;
  const h = 12;
  const spots: [number, number, 'start' | 'end' | 'middle'][] = [
    [8, -6, 'start'],
    [8, 14, 'start'],
    [-8, -6, 'end'],
    [-8, 14, 'end'],
    [0, -10, 'middle'],
    [0, 20, 'middle'],
    [8, 4, 'start'],
    [-8, 4, 'end'],
  ];
  let best: { x: number; y: number; anchor: string; box: Box } | undefined;
  let bestCost = Infinity;
  for (const [dx, dy, anchor] of spots) {
    const x = cx + dx;
    const y = cy + dy;
    const left = anchor === 'start' ? x : anchor === 'end' ? x - w : x - w / 2;
    const box = { x: left, y: y - h + 2, w, h };
    const outside =
      box.x < area.x || box.x + box.w > area.x + area.w || box.y < area.y || box.y + box.h > area.y + area.h ? 1e6 : 0;
    const cost = outside + placed.reduce((s, b) => s + overlap(box, b), 0);
    if (cost < bestCost) {
      bestCost = cost;
      best = { x, y, anchor, box };
      if (cost === 0) break;
    }
  }
  return best!;
}

interface Point {
  x: number;
  y: number;
  label: string;
  color: string;
  selected: boolean;
}

function panel(left: number, title: string, xLabel: string, points: Point[]): string {
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const pad = (lo: number, hi: number, f: number) => {
    const d = (hi - lo || Math.max(Math.abs(hi), 1) * 0.1) * f;
    return [lo - d, hi + d] as const;
  };
  const [x0, x1] = pad(0, Math.max(...xs), 0.08);
  const [y0, y1] = pad(Math.min(...ys), Math.max(...ys), 0.15);
  const sx = (x: number) => left + ((x - x0) / (x1 - x0)) * PANEL.w;
  const sy = (y: number) => PANEL.top + PANEL.h - ((y - y0) / (y1 - y0)) * PANEL.h;
  const parts: string[] = [];
  parts.push(
    `<rect x="${left}" y="${PANEL.top}" width="${PANEL.w}" height="${PANEL.h}" fill="#fafafa" stroke="#999"/>`,
  );
  parts.push(
    `<text x="${left + PANEL.w / 2}" y="${PANEL.top - 12}" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
  );
  for (const t of ticks(Math.max(0, x0), x1)) {
    const x = sx(t);
    parts.push(`<line x1="${x}" y1="${PANEL.top}" x2="${x}" y2="${PANEL.top + PANEL.h}" stroke="#e3e3e3"/>`);
    parts.push(
      `<text x="${x}" y="${PANEL.top + PANEL.h + 16}" text-anchor="middle" font-size="11">${fmtTick(t)}</text>`,
    );
  }
  for (const t of ticks(y0, y1)) {
    const y = sy(t);
    parts.push(`<line x1="${left}" y1="${y}" x2="${left + PANEL.w}" y2="${y}" stroke="#e3e3e3"/>`);
    parts.push(`<text x="${left - 6}" y="${y + 4}" text-anchor="end" font-size="11">${fmtTick(t)}</text>`);
  }
  parts.push(
    `<text x="${left + PANEL.w / 2}" y="${PANEL.top + PANEL.h + 36}" text-anchor="middle" font-size="12">${esc(xLabel)}</text>`,
  );
  parts.push(
    `<text x="${left - 48}" y="${PANEL.top + PANEL.h / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 ${left - 48} ${PANEL.top + PANEL.h / 2})">top-1 accuracy (%)</text>`,
  );
  const placed: Box[] = points.map((p) => ({ x: sx(p.x) - 6, y: sy(p.y) - 6, w: 12, h: 12 }));
  for (const p of [...points].sort((a, b) => a.x - b.x)) {
    const cx = sx(p.x);
    const cy = sy(p.y);
    if (p.selected) parts.push(`<circle cx="${cx}" cy="${cy}" r="10" fill="none" stroke="#2ca02c" stroke-width="3"/>`);
    parts.push(
      `<circle cx="${cx}" cy="${cy}" r="5" fill="${p.color}" stroke="#333" stroke-width="0.8"><title>${esc(`${p.label}: ${p.x}, ${p.y.toFixed(2)}%`)}</title></circle>`,
    );
    const label = placeLabel(p.label, cx, cy, placed, { x: left, y: PANEL.top, w: PANEL.w, h: PANEL.h });
    placed.push(label.box);
    parts.push(
      `<text x="${label.x}" y="${label.y}" font-size="11" text-anchor="${label.anchor}">${esc(p.label)}</text>`,
    );
  }
  return parts.join('\n');
}

/** Two panels: accuracy vs file size (KB) and accuracy vs p50 latency at `batch`. */
export function reportSvg(r: OptimizeReport, batch?: number): string {
  const b = batch ?? r.target?.profile.batch ?? Math.max(...(r.variants[0]?.latency.map((l) => l.batch) ?? [1]));
  const sel = r.target?.selected;
  const pts = (x: (v: ReportVariant) => number): Point[] =>
    r.variants.map((v) => ({
      x: x(v),
      y: v.accuracy * 100,
      label: v.name,
      color: COLORS[v.precision] ?? '#555',
      selected: v.name === sel,
    }));
  const latencyOf = (v: ReportVariant) => v.latency.find((l) => l.batch === b)?.p50_ms ?? NaN;
  const legend = Object.entries(COLORS)
    .map(
      ([k, c], i) =>
        `<circle cx="${W - 250 + i * 80}" cy="${H - 18}" r="5" fill="${c}" stroke="#333" stroke-width="0.8"/><text x="${W - 240 + i * 80}" y="${H - 14}" font-size="12">${k}</text>`,
    )
    .join('\n');
  const selNote = sel
    ? `<circle cx="40" cy="${H - 18}" r="8" fill="none" stroke="#2ca02c" stroke-width="3"/><text x="54" y="${H - 14}" font-size="12">selected for ${esc(r.target!.profile.name)}</text>`
    : '';
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="17">${esc(`verge optimize: ${r.model}`)}</text>`,
    panel(
      PANEL.left[0]!,
      'accuracy vs size',
      'model file (KB)',
      pts((v) => Math.round((v.bytes / 1024) * 10) / 10),
    ),
    panel(PANEL.left[1]!, `accuracy vs latency (batch ${b})`, `p50 latency at batch ${b} (ms)`, pts(latencyOf)),
    legend,
    selNote,
    `</svg>`,
    '',
  ].join('\n');
}
