/**
 * The fleet dashboard (served at `/` by `verge cloud`): sign in with an API key, then the fleet
 * (devices with status, served model/version/variant, tags, last seen; search and filters), a
 * device page with its own telemetry series (device-page.ts), deployments (canary progress, health
 * gate, promote and rollback, a form to start one), the model registry (versions, variants,
 * lineage), enrollment tokens (enroll-page.ts) and federated jobs (fl-page.ts). Live: the control
 * plane's event stream (live.ts) triggers a re-read on each change, with a slow poll beside it (and a
 * fast one while the stream is down). A lost control plane, a wrong key or a refused action shows as
 * one message. Read-only keys see no write actions. Device-provided strings are rendered as text.
 */
import { html, render } from 'htm/preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import {
  FL_PATHS,
  FlJobsResponse,
  isTerminalDeploymentState,
  type FlJob,
  Deployment,
  DeploymentsResponse,
  DevicesResponse,
  ModelsResponse,
  SessionResponse,
  StatusResponse,
  type CreateDeploymentRequest,
  type Device,
  type Role,
} from '../../protocol/browser.ts';
import { ApiClient, ApiError, HTTP_PATHS, isUnreachable } from './api.ts';
import { DevicePage } from './device-page.ts';
import { EnrollPage } from './enroll-page.ts';
import { FlPage } from './fl-page.ts';
import { ago, bytes, message, pill, tags, type Banner } from './format.ts';
import { openLiveStream } from './live.ts';

/** Re-read period while the live stream is down (ms). */
const POLL_MS = 2000;
/** Re-read period while live: derived states (a silent device turning offline, "last seen") change without events. */
const LIVE_POLL_MS = 15_000;
/** Events within this period cause one re-read. */
const EVENT_REFRESH_MS = 300;
const KEY_STORAGE = 'verge.apiKey';

interface FleetData {
  status: StatusResponse;
  devices: Device[];
  deployments: Deployment[];
  models: ModelsResponse['models'];
  flJobs: FlJob[];
  at: number;
}

async function loadFleet(api: ApiClient): Promise<FleetData> {
  const [status, devices, deployments, models, fl] = await Promise.all([
    api.get(HTTP_PATHS.status, StatusResponse),
    api.get(HTTP_PATHS.devices, DevicesResponse),
    api.get(HTTP_PATHS.deployments, DeploymentsResponse),
    api.get(HTTP_PATHS.models, ModelsResponse),
    api.get(FL_PATHS.jobs, FlJobsResponse),
  ]);
  return {
    status,
    devices: devices.devices,
    deployments: deployments.deployments,
    models: models.models,
    flJobs: fl.jobs,
    at: Date.now(),
  };
}

function useRoute(): string {
  const [route, setRoute] = useState(location.hash.slice(1) || '/fleet');
  useEffect(() => {
    const on = () => setRoute(location.hash.slice(1) || '/fleet');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

function Login({
  onSignedIn,
  initialError,
}: {
  onSignedIn: (api: ApiClient, role: Role) => void;
  initialError: string | null;
}) {
  const [error, setError] = useState<string | null>(initialError);
  const [busy, setBusy] = useState(false);
  const submit = async (ev: Event) => {
    ev.preventDefault();
    const key = ((ev.target as HTMLFormElement).elements.namedItem('key') as HTMLInputElement).value.trim();
    if (!key)
      return setError(
        'Enter an API key (admin.key in the control plane’s data folder, or one made with POST /v1/api-keys).',
      );
    setBusy(true);
    const api = new ApiClient(key);
    try {
      const s = await api.get(HTTP_PATHS.session, SessionResponse);
      sessionStorage.setItem(KEY_STORAGE, key);
      onSignedIn(api, s.role);
    } catch (e) {
      setError(
        e instanceof ApiError && e.status === 401
          ? 'Wrong API key: this control plane does not know it.'
          : isUnreachable(e)
            ? `Cannot reach the control plane at ${location.origin}; is verge cloud running?`
            : `Sign-in failed: ${message(e)}`,
      );
    } finally {
      setBusy(false);
    }
  };
  return html`<div class="card login">
    <h2>Sign in</h2>
    <p class="muted">
      Use an operator API key: <code>admin.key</code> in the control plane's data folder, or a read-only key.
    </p>
    ${error && html`<div class="banner error" role="alert" id="login-error">${error}</div>`}
    <form onSubmit=${submit} class="row">
      <label style="flex:1">API key <input name="key" type="password" autocomplete="off" style="width:100%" /></label>
      <button type="submit" disabled=${busy}>Sign in</button>
    </form>
  </div>`;
}

function Stats({ d }: { d: FleetData }) {
  const s = d.status;
  const items: [string, number | string][] = [
    ['devices online', `${s.devices.online} / ${s.devices.total}`],
    ['offline', s.devices.offline],
    ['models', s.models],
    ['active deployments', s.deployments.active],
    ['inferences', s.telemetry.inferences],
    ['errors', s.telemetry.errors],
  ];
  return html`<div class="stats">
    ${items.map(([k, v]) => html`<div class="stat"><b>${v}</b><span>${k}</span></div>`)}
  </div>`;
}

function Fleet({ d }: { d: FleetData }) {
  const [q, setQ] = useState('');
  const [status, setStatus] = useState('');
  const rows = d.devices.filter(
    (dev) =>
      (!status || dev.status === status) &&
      (!q ||
        [dev.name, dev.id, dev.model ?? '', dev.version ?? '', ...tags(dev.tags)].some((s) =>
          s.toLowerCase().includes(q.toLowerCase()),
        )),
  );
  return html`<${Stats} d=${d} />
    <div class="card">
      <h2>Devices</h2>
      <div class="row" style="margin-bottom:.6rem">
        <label
          >search
          <input
            id="device-search"
            value=${q}
            onInput=${(e: Event) => setQ((e.target as HTMLInputElement).value)}
            placeholder="name, model, tag"
        /></label>
        <label
          >status
          <select
            id="device-status"
            value=${status}
            onChange=${(e: Event) => setStatus((e.target as HTMLSelectElement).value)}
          >
            <option value="">all</option>
            <option>online</option>
            <option>offline</option>
            <option>revoked</option>
          </select>
        </label>
      </div>
      ${
        d.devices.length === 0
          ? html`<p class="muted">
              No devices yet. Enroll one: <code>verge enroll-token</code>, then
              <code>verge agent --cloud ${location.origin} --enroll-token …</code>
            </p>`
          : html`<table class="table" id="devices">
              <tr>
                <th>name</th>
                <th>status</th>
                <th>model</th>
                <th>version</th>
                <th>variant</th>
                <th>tags</th>
                <th>last seen</th>
              </tr>
              ${rows.map(
                (dev) =>
                  html`<tr
                    class="clickable"
                    data-device=${dev.name}
                    onClick=${() => (location.hash = `/devices/${dev.id}`)}
                  >
                    <td><a href=${`#/devices/${dev.id}`}>${dev.name}</a></td>
                    <td>${pill(dev.status)}</td>
                    <td>${dev.model ?? '—'}</td>
                    <td>${dev.version ?? '—'}</td>
                    <td>${dev.variant ?? '—'}</td>
                    <td>${tags(dev.tags).join(', ')}</td>
                    <td>${ago(dev.last_seen)}</td>
                  </tr>`,
              )}
            </table>`
      }
    </div>`;
}

function DeployForm({ api, d, onDone }: { api: ApiClient; d: FleetData; onDone: (b: Banner) => void }) {
  const [busy, setBusy] = useState(false);
  const submit = async (ev: Event) => {
    ev.preventDefault();
    const f = (ev.target as HTMLFormElement).elements;
    const val = (n: string) => (f.namedItem(n) as HTMLInputElement).value.trim();
    const target = val('target');
    const strategy = val('strategy');
    const tag = /^([^=]+)=(.*)$/.exec(target);
    const req: CreateDeploymentRequest = {
      model: val('model'),
      version: val('version'),
      target:
        target === '*' || !target
          ? { devices: d.devices.map((x) => x.id) }
          : tag
            ? { tags: { [tag[1]!]: tag[2]! } }
            : { devices: target.split(',').map((s) => s.trim()) },
      strategy: strategy === 'all' ? 'all' : 'canary',
      ...(strategy === 'all' ? {} : { canary_percent: Number(strategy) }),
      auto_promote: (f.namedItem('auto') as HTMLInputElement).checked,
    };
    setBusy(true);
    try {
      const dep = await api.post(HTTP_PATHS.deployments, req, Deployment);
      onDone({ kind: 'info', text: `Deployment ${dep.id} of ${dep.model}@${dep.version} started (${dep.state}).` });
    } catch (e) {
      onDone({ kind: 'error', text: `Deployment not started: ${message(e)}` });
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="row" id="deploy-form" onSubmit=${submit}>
    <label
      >model
      <select name="model">
        ${d.models.map((m) => html`<option>${m.name}</option>`)}
      </select></label
    >
    <label>version <input name="version" placeholder="1.0.0" list="versions" /></label>
    <datalist id="versions">
      ${[...new Set(d.models.flatMap((m) => m.versions.map((v) => v.version)))].map((v) => html`<option value=${v} />`)}
    </datalist>
    <label>devices <input name="target" placeholder="* | tag k=v | a,b" value="*" /></label>
    <label
      >strategy
      <select name="strategy">
        <option value="34">canary 34%</option>
        <option value="50">canary 50%</option>
        <option value="all">all at once</option>
      </select></label
    >
    <label>auto-promote <input name="auto" type="checkbox" /></label>
    <button type="submit" disabled=${busy}>Deploy</button>
  </form>`;
}

function Deployments({
  api,
  d,
  role,
  setBanner,
}: {
  api: ApiClient;
  d: FleetData;
  role: Role;
  setBanner: (b: Banner) => void;
}) {
  const act = async (dep: Deployment, verb: 'promote' | 'rollback') => {
    try {
      const path = verb === 'promote' ? HTTP_PATHS.promote(dep.id) : HTTP_PATHS.rollback(dep.id);
      const r = await api.post(
        path,
        verb === 'rollback' ? { reason: 'rolled back from the dashboard' } : {},
        Deployment,
      );
      setBanner({
        kind: 'info',
        text: `${r.model}@${r.version}: ${verb === 'promote' ? 'promoted' : 'rolled back'} (${r.state}).`,
      });
    } catch (e) {
      setBanner({ kind: 'error', text: `${verb} failed: ${message(e)}` });
    }
  };
  const admin = role === 'admin';
  return html`<div class="card">
      <h2>New deployment</h2>
      ${admin ? html`<${DeployForm} api=${api} d=${d} onDone=${setBanner} />` : html`<p class="muted" id="read-only-note">This API key is read-only: it can watch deployments but not start, promote or roll back any.</p>`}
    </div>
    <div class="card">
      <h2>Deployments</h2>
      ${d.deployments.length === 0 && html`<p class="muted">No deployments yet.</p>`}
      <table class="table" id="deployments">
        <tr>
          <th>model</th>
          <th>state</th>
          <th>strategy</th>
          <th>devices loaded</th>
          <th>health gate</th>
          <th>created</th>
          <th></th>
        </tr>
        ${d.deployments.map((dep) => {
          const loaded = dep.devices.filter((x) => x.state === 'loaded').length;
          const canary = dep.devices.filter((x) => x.canary);
          const terminal = isTerminalDeploymentState(dep.state);
          return html`<tr data-deployment=${dep.id} data-state=${dep.state}>
            <td>
              ${dep.model}@${dep.version}${dep.previous_version ? html`<br /><span class="muted">from ${dep.previous_version}</span>` : ''}
            </td>
            <td>${pill(dep.state)}${dep.reason ? html`<br /><span class="muted">${dep.reason}</span>` : ''}</td>
            <td>
              ${dep.strategy === 'canary' ? `canary ${dep.canary_percent}% (${canary.length} device${canary.length === 1 ? '' : 's'})` : 'all'}
            </td>
            <td>${loaded} / ${dep.devices.length}</td>
            <td>
              ${dep.strategy !== 'canary' ? '—' : dep.gate_passed_at ? `passed ${ago(dep.gate_passed_at)}` : 'waiting'}
            </td>
            <td>${ago(dep.created_at)}</td>
            <td>
              ${
                admin && !terminal
                  ? html`${dep.state === 'canary' && html`<button class="secondary" data-action="promote" onClick=${() => act(dep, 'promote')}>Promote</button>`}
                      <button class="danger" data-action="rollback" onClick=${() => act(dep, 'rollback')}>
                        Roll back
                      </button>`
                  : ''
              }
            </td>
          </tr>`;
        })}
      </table>
    </div>`;
}

/** A version's optimize report (the SVG `verge optimize` wrote, published with the version). */
function OptimizeReport({
  api,
  name,
  version,
  sha256,
}: {
  api: ApiClient;
  name: string;
  version: string;
  sha256: string;
}) {
  const [url, setUrl] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let made: string | null = null;
    api
      .objectUrl(HTTP_PATHS.artifact(sha256), 'image/svg+xml')
      .then((u) => setUrl((made = u)))
      .catch((e: unknown) => setError(message(e)));
    return () => {
      if (made) URL.revokeObjectURL(made);
    };
  }, [api, sha256]);
  if (error) return html`<p class="muted">optimize report not shown: ${error}</p>`;
  return url
    ? html`<img class="report" src=${url} alt=${`optimize report of ${name}@${version}`} />`
    : html`<p class="muted">loading the optimize report…</p>`;
}

function Models({ d, api }: { d: FleetData; api: ApiClient }) {
  if (d.models.length === 0)
    return html`<div class="card">
      <p class="muted">No models yet: <code>verge model publish model.onnx --name N --version V</code>.</p>
    </div>`;
  return html`${d.models.map(
    (m) =>
      html`<div class="card" data-model=${m.name}>
        <h2>${m.name}</h2>
        <table class="table">
          <tr>
            <th>version</th>
            <th>variants</th>
            <th>lineage</th>
            <th>metrics</th>
            <th>published</th>
          </tr>
          ${m.versions.map(
            (v) =>
              html`<tr>
                  <td>${v.version}</td>
                  <td>
                    ${v.variants.map((x) => html`<div title=${`sha256 ${x.sha256} · key ${x.key_id}`}>${x.variant} · ${x.precision}${x.profile ? ` · ${x.profile}` : ''} · ${bytes(x.size)} · <code>${x.sha256.slice(0, 10)}</code> signed</div>`)}
                  </td>
                  <td>${v.parent ? `${v.parent} → ${v.optimization ?? ''}` : '—'}</td>
                  <td>
                    ${
                      Object.entries(v.metrics)
                        .map(([k, x]) => `${k} ${x}`)
                        .join(', ') || '—'
                    }
                  </td>
                  <td>${ago(v.created_at)}</td>
                </tr>
                ${
                  v.report_sha256
                    ? html`<tr class="report-row" data-report=${v.version}>
                        <td colspan="5">
                          <${OptimizeReport} api=${api} name=${m.name} version=${v.version} sha256=${v.report_sha256} />
                        </td>
                      </tr>`
                    : ''
                }`,
          )}
        </table>
      </div>`,
  )}`;
}

/**
 * Long because: the dashboard's top component: its state hooks and the page per route, in one
 * render function as Preact components are written.
 */
function App() {
  const route = useRoute();
  const [api, setApi] = useState<ApiClient | null>(null);
  const [role, setRole] = useState<Role | null>(null);
  const [data, setData] = useState<FleetData | null>(null);
  const [lost, setLost] = useState<string | null>(null);
  const [banner, setBanner] = useState<Banner>(null);
  const [loginError, setLoginError] = useState<string | null>(null);
  const [live, setLive] = useState(false);

  const signOut = useCallback((why: string | null) => {
    sessionStorage.removeItem(KEY_STORAGE);
    setApi(null);
    setRole(null);
    setData(null);
    setLoginError(why);
  }, []);

  useEffect(() => {
    const key = sessionStorage.getItem(KEY_STORAGE);
    if (!key) return;
    const a = new ApiClient(key);
    a.get(HTTP_PATHS.session, SessionResponse).then(
      (s) => (setApi(a), setRole(s.role)),
      (e) =>
        signOut(
          isUnreachable(e)
            ? `Cannot reach the control plane at ${location.origin}.`
            : 'Your API key is no longer accepted; sign in again.',
        ),
    );
  }, []);

  useEffect(() => {
    if (!api) return;
    let stopped = false;
    let isLive = false;
    let poll: ReturnType<typeof setTimeout> | undefined;
    let soon: ReturnType<typeof setTimeout> | null = null;
    // re-reads can overlap (an event during a poll): only a newer one may replace the data
    let started = 0;
    let shown = 0;
    const refresh = async () => {
      const seq = ++started;
      try {
        const d = await loadFleet(api);
        if (stopped || seq < shown) return;
        shown = seq;
        setData(d);
        setLost(null);
      } catch (e) {
        if (stopped) return;
        if (e instanceof ApiError && e.status === 401)
          return signOut('Your API key is no longer accepted; sign in again.');
        setLost(isUnreachable(e) ? `Lost contact with the control plane at ${location.origin}` : message(e));
      }
    };
    const loop = async () => {
      await refresh();
      if (!stopped) poll = setTimeout(loop, isLive ? LIVE_POLL_MS : POLL_MS);
    };
    const onChange = () => {
      soon ??= setTimeout(() => ((soon = null), void refresh()), EVENT_REFRESH_MS);
    };
    const stream = openLiveStream(api.apiKey, onChange, (l) => {
      isLive = l;
      setLive(l);
      if (l) onChange(); // what changed while the stream was down
    });
    void loop();
    return () => {
      stopped = true;
      clearTimeout(poll);
      if (soon) clearTimeout(soon);
      stream.close();
    };
  }, [api]);

  // an action's result belongs to the page it was taken on
  useEffect(() => setBanner(null), [route]);

  const nav = [
    ['/fleet', 'Fleet'],
    ['/deployments', 'Deployments'],
    ['/models', 'Models'],
    ['/enroll', 'Enroll'],
    ['/fl', 'Federated'],
  ];
  const page =
    !api || !role
      ? null
      : !data
        ? html`<p class="muted">Loading the fleet…</p>`
        : route.startsWith('/devices/')
          ? html`<${DevicePage}
              api=${api}
              device=${data.devices.find((x) => x.id === decodeURIComponent(route.slice(9)))}
              at=${data.at}
            />`
          : route === '/deployments'
            ? html`<${Deployments} api=${api} d=${data} role=${role} setBanner=${setBanner} />`
            : route === '/models'
              ? html`<${Models} d=${data} api=${api} />`
              : route === '/enroll'
                ? html`<${EnrollPage} api=${api} role=${role} setBanner=${setBanner} />`
                : route === '/fl'
                  ? html`<${FlPage} api=${api} jobs=${data.flJobs} role=${role} setBanner=${setBanner} />`
                  : html`<${Fleet} d=${data} />`;
  return html`<header>
      <a class="brand" href="#/fleet">verge</a>
      ${api && html`<nav>${nav.map(([r, label]) => html`<a href=${`#${r}`} class=${route.startsWith(r!) ? 'active' : ''}>${label}</a>`)}<a href="train.html">Train in browser</a><a href="/docs" target="_blank">API</a></nav>`}
      <span class="right">
        ${role && html`<span id="role">${role} key</span>`}
        ${api && html`<span id="live" class=${live ? 'live' : 'polling'} title=${live ? 'updates as the control plane reports changes' : `re-reading every ${POLL_MS / 1000} s until the event stream is back`}>${live ? '● live' : 'polling'}</span>`}
        ${data && html`<span>updated ${new Date(data.at).toLocaleTimeString()}</span>`}
        ${api && html`<button class="secondary" onClick=${() => signOut(null)}>Sign out</button>`}
      </span>
    </header>
    <main>
      ${lost && html`<div class="banner error" role="alert" id="connection-lost">${lost}${data ? ` — showing data from ${new Date(data.at).toLocaleTimeString()}` : ''}; retrying every ${POLL_MS / 1000} s.</div>`}
      ${banner && html`<div class=${`banner ${banner.kind}`} role="status" id="action-result">${banner.text} <button class="secondary" onClick=${() => setBanner(null)}>×</button></div>`}
      ${api && role ? page : html`<${Login} initialError=${loginError} onSignedIn=${(a: ApiClient, r: Role) => (setApi(a), setRole(r), setLoginError(null))} />`}
    </main>`;
}

window.addEventListener('error', (e) => {
  // never a blank page: an unexpected failure is shown where the user is looking
  const fatal = document.getElementById('fatal')!;
  fatal.textContent = `The dashboard hit an unexpected error: ${e.message}. Reload the page.`;
  fatal.style.display = '';
});
render(html`<${App} />`, document.getElementById('app')!);
