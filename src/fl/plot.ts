/**
 * A round-by-round accuracy chart as a self-contained SVG (no fonts or scripts to load): one line
 * per series, rounds on x, accuracy in percent on y.
 */
export interface PlotSeries {
  label: string;
  points: { round: number; accuracy: number }[];
}

const W = 640;
const H = 360;
const PAD = { left: 52, right: 16, top: 28, bottom: 40 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf', '#7f7f7f'];

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

export function accuracyChartSvg(title: string, series: PlotSeries[]): string {
  const rounds = Math.max(1, ...series.flatMap((s) => s.points.map((p) => p.round)));
  const accs = series.flatMap((s) => s.points.map((p) => p.accuracy * 100));
  const lo = Math.max(0, Math.floor((Math.min(100, ...accs) - 5) / 10) * 10);
  const x = (r: number) => PAD.left + ((r - 0) / rounds) * (W - PAD.left - PAD.right);
  const y = (a: number) => H - PAD.bottom - ((a - lo) / (100 - lo)) * (H - PAD.top - PAD.bottom);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="16" text-anchor="middle" font-size="13">${esc(title)}</text>`,
  ];
  for (let a = lo; a <= 100; a += 10) {
    out.push(`<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(a)}" y2="${y(a)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${PAD.left - 6}" y="${y(a) + 4}" text-anchor="end">${a}%</text>`);
  }
  const step = Math.max(1, Math.ceil(rounds / 10));
  for (let r = 0; r <= rounds; r += step)
    out.push(`<text x="${x(r)}" y="${H - PAD.bottom + 16}" text-anchor="middle">${r}</text>`);
  out.push(`<text x="${(W + PAD.left) / 2}" y="${H - 6}" text-anchor="middle">round</text>`);
  out.push(
    `<line x1="${PAD.left}" x2="${PAD.left}" y1="${PAD.top}" y2="${H - PAD.bottom}" stroke="#333"/>`,
    `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${H - PAD.bottom}" y2="${H - PAD.bottom}" stroke="#333"/>`,
  );
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const pts = s.points.map((p) => `${x(p.round).toFixed(1)},${y(p.accuracy * 100).toFixed(1)}`).join(' ');
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts}"/>`);
    out.push(`<text x="${PAD.left + 10}" y="${PAD.top + 14 + 14 * i}" fill="${color}">${esc(s.label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
