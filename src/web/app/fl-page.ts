/**
 * The dashboard's federated-learning page: jobs over the fleet (state, model, strategy, rounds
 * done, final accuracy, privacy spent) and, for the selected job, its rounds (clients selected,
 * accepted, late, missing, uplink bytes, federated accuracy) with an accuracy chart. Admin keys
 * can stop a running job. Jobs are started with `verge fl start` (docs/fl.md).
 */
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { FL_PATHS, FlJob, type FlRound, type Role } from '../../protocol/browser.ts';
import { ApiClient } from './api.ts';
import { LineChart } from './chart.ts';
import { ago, bytes, message, pill, type Banner } from './format.ts';

const pct = (x: number | null | undefined) => (x === null || x === undefined ? '—' : `${(100 * x).toFixed(1)}%`);

function AccuracyChart({ rounds }: { rounds: FlRound[] }) {
  const el = useRef<HTMLDivElement>(null);
  const chart = useRef<LineChart | null>(null);
  useEffect(() => {
    if (!el.current) return;
    chart.current ??= new LineChart(el.current, 'round', ['accuracy %', 'loss'], {
      height: 180,
      integerX: true,
      rightSeries: 'loss',
    });
    const evaluated = rounds.filter((r) => r.accuracy !== null);
    chart.current.set(
      evaluated.map((r) => r.round),
      [evaluated.map((r) => 100 * r.accuracy!), evaluated.map((r) => r.loss)],
    );
  });
  return html`<div ref=${el} id="fl-chart"></div>`;
}

function JobRounds({ job }: { job: FlJob }) {
  return html`<div class="card" id="fl-job" data-job=${job.id}>
    <h2>${job.id} ${pill(job.state)}</h2>
    ${job.error && html`<div class="banner error">${job.error}</div>`}
    <${AccuracyChart} rounds=${job.history} />
    <table class="table" id="fl-rounds">
      <tr>
        <th>round</th>
        <th>task</th>
        <th>state</th>
        <th>selected</th>
        <th>accepted</th>
        <th>rejected</th>
        <th>late</th>
        <th>missing</th>
        <th>uplink</th>
        <th>accuracy</th>
        <th>loss</th>
      </tr>
      ${job.history.map(
        (r) =>
          html`<tr>
            <td>${r.round}</td>
            <td>${r.task}</td>
            <td>${r.state}</td>
            <td>${r.selected}</td>
            <td>${r.accepted}</td>
            <td>${r.rejected}</td>
            <td>${r.late}</td>
            <td>${r.missing}</td>
            <td>${bytes(r.uplink_bytes)}</td>
            <td>${pct(r.accuracy)}</td>
            <td>${r.loss?.toFixed(4) ?? '—'}</td>
          </tr>`,
      )}
    </table>
  </div>`;
}

export function FlPage({
  api,
  jobs,
  role,
  setBanner,
}: {
  api: ApiClient;
  jobs: FlJob[];
  role: Role;
  setBanner: (b: Banner) => void;
}) {
  const [selected, setSelected] = useState<string | null>(null);
  const job = jobs.find((j) => j.id === selected) ?? jobs[0];
  const stop = async (j: FlJob) => {
    try {
      const r = await api.post(FL_PATHS.stop(j.id), {}, FlJob);
      setBanner({ kind: 'info', text: `${r.id}: ${r.state}.` });
    } catch (e) {
      setBanner({ kind: 'error', text: `Stop failed: ${message(e)}` });
    }
  };
  if (jobs.length === 0)
    return html`<div class="card">
      <h2>Federated learning</h2>
      <p class="muted" id="fl-empty">
        No federated jobs yet. Start one over agents that hold data (<code>verge agent --data …</code>):
        <code>verge fl start --model NAME@VERSION --rounds 5 --devices '*'</code> (docs/fl.md).
      </p>
    </div>`;
  return html`<div class="card">
      <h2>Federated learning</h2>
      <table class="table" id="fl-jobs">
        <tr>
          <th>job</th>
          <th>state</th>
          <th>model</th>
          <th>strategy</th>
          <th>rounds</th>
          <th>accuracy</th>
          <th>privacy</th>
          <th>started</th>
          <th></th>
        </tr>
        ${jobs.map(
          (j) =>
            html`<tr class="clickable" data-job=${j.id} data-state=${j.state} onClick=${() => setSelected(j.id)}>
              <td>${j.id}</td>
              <td>${pill(j.state)}</td>
              <td>${j.model.name ? `${j.model.name}@${j.model.version}` : j.model.sha256.slice(0, 12)}</td>
              <td>
                ${j.strategy}${j.secure_agg ? ' · secure aggregation' : ''}${j.compress !== 'none' ? ` · ${j.compress}` : ''}
              </td>
              <td>${j.rounds_completed} / ${j.rounds}</td>
              <td>${pct(j.final?.accuracy ?? [...j.history].reverse().find((r) => r.accuracy !== null)?.accuracy)}</td>
              <td>${j.privacy ? `ε ${j.privacy.epsilon.toFixed(2)}, δ ${j.privacy.delta}` : '—'}</td>
              <td>${ago(j.created_at)}</td>
              <td>
                ${
                  role === 'admin' &&
                  j.state === 'running' &&
                  html`<button
                    class="danger"
                    data-action="stop"
                    onClick=${(e: Event) => (e.stopPropagation(), stop(j))}
                  >
                    Stop
                  </button>`
                }
              </td>
            </tr>`,
        )}
      </table>
    </div>
    ${job && html`<${JobRounds} job=${job} />`}`;
}
