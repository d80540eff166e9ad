/**
 * The dashboard's device page: what the device is and serves, and its own telemetry over the last
 * minutes (GET /v1/devices/:id/telemetry): latency p50/p99, throughput and errors, and the class
 * mix of its results, as charts and as a table of the latest buckets. Re-read whenever the fleet
 * data is (live events or the poll).
 */
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { DeviceTelemetryResponse, type Device } from '../../protocol/browser.ts';
import { ApiClient, HTTP_PATHS } from './api.ts';
import { LineChart } from './chart.ts';
import { ago, message, pill, tags } from './format.ts';

/** The device page charts this much history. */
const SERIES_WINDOW_MS = 15 * 60_000;
/** Classes drawn in the class-mix chart (the most frequent; the table lists all of a bucket's). */
const CLASS_MIX_SERIES = 5;

/** A time chart of `series`; rebuilt when the series change (the class mix's classes can). */
function Chart({
  id,
  series,
  xs,
  ys,
  range,
}: {
  id: string;
  series: string[];
  xs: number[];
  ys: (number | null)[][];
  range: [number, number];
}) {
  const el = useRef<HTMLDivElement>(null);
  const chart = useRef<{ key: string; chart: LineChart } | null>(null);
  useEffect(() => {
    if (!el.current) return;
    const key = series.join('\u0000');
    if (chart.current?.key !== key) {
      el.current.replaceChildren();
      chart.current = { key, chart: new LineChart(el.current, 'time', series, { time: true, height: 180 }) };
    }
    chart.current.chart.set(xs, ys, range);
  });
  return html`<div ref=${el} id=${id}></div>`;
}

function topClasses(s: DeviceTelemetryResponse): string[] {
  const total = new Map<string, number>();
  for (const p of s.points) for (const [k, v] of Object.entries(p.results)) total.set(k, (total.get(k) ?? 0) + v);
  return [...total.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, CLASS_MIX_SERIES)
    .map(([k]) => k);
}

function Charts({ s }: { s: DeviceTelemetryResponse }) {
  const xs = s.points.map((p) => Math.round(p.t / 1000));
  const classes = topClasses(s);
  const range: [number, number] = [Math.round(s.since / 1000), Math.round(s.until / 1000)];
  return html`<div class="charts">
    <div>
      <h4>Latency (ms)</h4>
      <${Chart}
        id="device-chart"
        range=${range}
        series=${['p50 ms', 'p99 ms']}
        xs=${xs}
        ys=${[s.points.map((p) => p.p50_ms), s.points.map((p) => p.p99_ms)]}
      />
    </div>
    <div>
      <h4>Throughput and errors</h4>
      <${Chart}
        id="device-load-chart"
        range=${range}
        series=${['inferences/s', 'errors']}
        xs=${xs}
        ys=${[s.points.map((p) => p.throughput), s.points.map((p) => p.errors)]}
      />
    </div>
    <div>
      <h4>Class mix (results per bucket)</h4>
      <${Chart}
        id="device-mix-chart"
        range=${range}
        series=${classes}
        xs=${xs}
        ys=${classes.map((c) => s.points.map((p) => p.results[c] ?? 0))}
      />
    </div>
  </div>`;
}

function SeriesTable({ s }: { s: DeviceTelemetryResponse }) {
  const latest = s.points.slice(-6).reverse();
  return html`<div id="device-telemetry">
    <p class="muted">
      Reporting: ${s.models.map((m) => `${m.name}@${m.version} (${m.variant})`).join(', ') || 'nothing yet'} ·
      ${s.bucket_ms / 1000} s buckets
    </p>
    <table class="table">
      <tr>
        <th>time</th>
        <th>inferences</th>
        <th>errors</th>
        <th>per s</th>
        <th>p50</th>
        <th>p99</th>
        <th>classes</th>
      </tr>
      ${latest.map(
        (p) =>
          html`<tr>
            <td>${new Date(p.t).toLocaleTimeString()}</td>
            <td>${p.inferences}</td>
            <td>${p.errors}</td>
            <td>${p.throughput.toFixed(2)}</td>
            <td>${p.p50_ms ?? '—'} ms</td>
            <td>${p.p99_ms ?? '—'} ms</td>
            <td class="classes">
              ${Object.entries(p.results)
                .map(([k, v]) => `${k}: ${v}`)
                .join(', ')}
            </td>
          </tr>`,
      )}
    </table>
  </div>`;
}

export function DevicePage({ api, device, at }: { api: ApiClient; device: Device | undefined; at: number }) {
  const [series, setSeries] = useState<DeviceTelemetryResponse | null>(null);
  const [error, setError] = useState<string | null>(null);
  const id = device?.id;
  useEffect(() => {
    if (!id) return;
    let stale = false;
    api.get(`${HTTP_PATHS.deviceTelemetry(id)}?since=${Date.now() - SERIES_WINDOW_MS}`, DeviceTelemetryResponse).then(
      (s) => !stale && (setSeries(s), setError(null)),
      (e) => !stale && setError(`Telemetry not loaded: ${message(e)}`),
    );
    return () => void (stale = true);
  }, [id, at]);
  if (!device) return html`<div class="banner error">This device is not in the fleet.</div>`;
  const dev = device;
  return html`<div class="card" id="device-page">
    <h2>${dev.name} ${pill(dev.status)}</h2>
    <dl class="kv">
      <dt>id</dt>
      <dd>${dev.id}</dd>
      <dt>serving</dt>
      <dd>${dev.models.map((m) => `${m.name}@${m.version} (${m.variant})`).join(', ') || 'nothing'}</dd>
      <dt>profile</dt>
      <dd id="device-profile">
        ${
          dev.profile
            ? `${dev.profile.class ?? 'no class'} · ${dev.profile.arch}/${dev.profile.platform} · ${dev.profile.cpu.model} (${dev.profile.cpu.cores} cores) · ${dev.profile.memory_mb} MB · ${dev.profile.precisions.join(', ')}`
            : '—'
        }
      </dd>
      <dt>tags</dt>
      <dd>${tags(dev.tags).join(', ') || '—'}</dd>
      <dt>last seen</dt>
      <dd>${ago(dev.last_seen)}</dd>
      <dt>enrolled</dt>
      <dd>${new Date(dev.enrolled_at).toLocaleString()}</dd>
    </dl>
    <h3>Its telemetry, last ${SERIES_WINDOW_MS / 60_000} minutes</h3>
    ${error && html`<div class="banner error" role="alert">${error}</div>`}
    ${
      series
        ? series.points.length === 0
          ? html`<p class="muted" id="device-telemetry">No telemetry from this device in this window.</p>`
          : html`<${SeriesTable} s=${series} /><${Charts} s=${series} />`
        : html`<p class="muted">Loading telemetry…</p>`
    }
  </div>`;
}
