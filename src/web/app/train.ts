/**
 * The in-browser training page: the seed CNN built by nn/, trained on Fashion-MNIST by train/'s
 * fit() on onnxruntime-web, then used to classify test images, drawings and uploads — all in the
 * tab. `?auto=1` starts training on load (with `samples`, `epochs`, `batch`, `lr`, `threads`,
 * `replicas`, `share` taken from the query); `window.vergeTraining` and `body[data-state]` expose the
 * outcome. Training is data-parallel: the page's session and replicas − 1 workers each compute the
 * gradients of a share of every batch (replicas.ts; default one replica per core, at most 4).
 * The last card enrolls the tab as a federated-learning device (fl-device.ts), whose rounds train
 * data-parallel the same way; `?fl_token=T` (with `fl_name`, `fl_samples`) joins on load,
 * `window.vergeFl` exposes its rounds.
 */
import type { Dataset } from '../../data/browser.ts';
import { buildArchitecture } from '../../nn/index.ts';
import { configureRuntime, float32, runtimeBackendName, webRuntimeThreads } from '../../runtime/index.ts';
import { evaluate, fit, type EpochRecord, TrainingSession } from '../../train/browser.ts';
import type { TrainingOutcome } from '../training-outcome.ts';
import type { FlOutcome } from '../../edge/browser.ts';
import { LineChart } from './chart.ts';
import { DeviceStore } from './device-store.ts';
import { BrowserFlDevice, type FlDeviceState } from './fl-device.ts';
import { fetchFashionMnist } from './fashion.ts';
import { classifyPixels, drawSample, imageToPixels, PadDrawing } from './pixels.ts';
import { parallelismFromQuery, trainingParallelism, workerReplicas } from './replicas.ts';

/** Test images shown (and classified) after training. */
const GALLERY_SIZE = 12;
/** Test samples used for the test accuracy (the whole subset test split). */
const TEST_SAMPLES = 500;
/** Let the page repaint at least this often while training (ms). */
const REPAINT_MS = 100;

declare global {
  interface Window {
    vergeTraining: TrainingOutcome;
    vergeFl: {
      state: FlDeviceState | 'idle';
      detail?: string;
      deviceId?: string;
      /** The device was kept from an earlier page (no token used). */
      resumed?: boolean;
      outcomes: FlOutcome[];
    };
  }
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const query = new URLSearchParams(location.search);
const threadsParam = query.get('threads');
const wasmAssets = new URL('ort/', location.href).href;
let parallel: ReturnType<typeof trainingParallelism>;
let badQuery: string | undefined;
try {
  parallel = parallelismFromQuery(query);
} catch (e) {
  badQuery = (e as Error).message;
  parallel = trainingParallelism({ replicas: 1 });
}
configureRuntime({ wasmAssets, ...(parallel.threads ? { threads: parallel.threads } : {}) });

const outcome: TrainingOutcome = {
  state: 'idle',
  backend: runtimeBackendName,
  threads: parallel.threads ?? null,
  replicas: parallel.replicas,
  crossOriginIsolated: globalThis.crossOriginIsolated === true,
  history: [],
};
window.vergeTraining = outcome;

function setState(state: TrainingOutcome['state'], message: string): void {
  outcome.state = state;
  document.body.dataset.state = state;
  $('status').textContent = message;
}

let session: TrainingSession | null = null;
let data: Dataset | null = null;

function formField(name: string): number {
  const input = ($('train-form') as HTMLFormElement).elements.namedItem(name) as HTMLInputElement;
  return Number(input.value);
}

// options given in the query show in the form (and are what Train uses)
for (const name of ['samples', 'epochs', 'batch', 'lr']) {
  const v = query.get(name);
  if (v !== null) (($('train-form') as HTMLFormElement).elements.namedItem(name) as HTMLInputElement).value = v;
}

async function train(): Promise<void> {
  const samples = formField('samples');
  const epochs = formField('epochs');
  const batchSize = formField('batch');
  const lr = formField('lr');
  ($('train-button') as HTMLButtonElement).disabled = true;
  setState('loading', 'Loading Fashion-MNIST…');
  data = await fetchFashionMnist('data/fashion-mnist/', { train: samples, test: TEST_SAMPLES });
  const model = buildArchitecture('cnn', { inputShape: data.shape, classes: data.classes, seed: 0 });
  setState('training', 'Building the training graph…');
  await session?.release();
  session = await TrainingSession.create(model, {
    loss: 'cross-entropy',
    optimizer: { kind: 'adam', lr },
    ...(parallel.replicas > 1
      ? { replicas: workerReplicas(parallel.replicas - 1, wasmAssets, { ownShare: parallel.ownShare }) }
      : {}),
  });
  outcome.threads = webRuntimeThreads() ?? outcome.threads;
  outcome.replicas = session.replicaCount;
  showRuntimeInfo();
  const chart = new LineChart($('chart'), 'step', ['loss', 'accuracy']);
  outcome.history = [];
  let lastPaint = performance.now();
  const result = await fit(session, data, {
    epochs,
    batchSize,
    lr,
    validation: 'test',
    onProgress: (p) => {
      chart.push(p.globalStep, [p.loss, p.accuracy ?? null]);
      $('progress-bar').style.width = `${((100 * p.globalStep) / p.totalSteps).toFixed(1)}%`;
      $('status').textContent =
        `epoch ${p.epoch}/${p.epochs} · step ${p.step}/${p.epochSteps} · loss ${p.loss.toFixed(3)}` +
        (p.accuracy !== undefined ? ` · accuracy ${(100 * p.accuracy).toFixed(1)}%` : '') +
        ` · ${Math.round(p.samplesPerSec)} samples/s`;
    },
    onEpochEnd: (r) => {
      outcome.history.push(r);
      renderHistory(outcome.history);
    },
    callbacks: [
      {
        async onBatchEnd() {
          if (performance.now() - lastPaint < REPAINT_MS) return;
          await new Promise((r) => setTimeout(r, 0));
          lastPaint = performance.now();
        },
      },
    ],
  });
  const test = await evaluate(session, data);
  outcome.samplesPerSec = result.samples_per_sec;
  outcome.test = { accuracy: test.accuracy, loss: test.loss, samples: test.samples };
  outcome.gallery = await renderGallery(session, data);
  for (const id of ['classify-button', 'upload']) ($(id) as HTMLButtonElement).disabled = false;
  ($('train-button') as HTMLButtonElement).disabled = false;
  setState(
    'done',
    `Trained ${result.epochs} epoch(s), ${result.steps} steps at ${Math.round(result.samples_per_sec)} samples/s; ` +
      `test accuracy ${(100 * test.accuracy).toFixed(1)}% on ${test.samples} images.`,
  );
}

function renderHistory(history: EpochRecord[]): void {
  const rows = history.map(
    (r) =>
      `<tr><td>${r.epoch}</td><td>${r.loss.toFixed(4)}</td><td>${pct(r.accuracy)}</td><td>${r.val_loss?.toFixed(4) ?? ''}</td>` +
      `<td>${pct(r.val_accuracy)}</td><td>${Math.round(r.samples_per_sec)}</td></tr>`,
  );
  $('history').innerHTML =
    '<tr><th>epoch</th><th>loss</th><th>accuracy</th><th>test loss</th><th>test accuracy</th><th>samples/s</th></tr>' +
    rows.join('');
}

const pct = (x: number | null | undefined) => (x === null || x === undefined ? '' : `${(100 * x).toFixed(1)}%`);

async function renderGallery(s: TrainingSession, d: Dataset): Promise<{ label: number; predicted: number }[]> {
  const n = Math.min(GALLERY_SIZE, d.test.count);
  const per = d.test.x.length / d.test.count;
  const x = d.test.x.slice(0, n * per);
  const { logits } = await s.predict({ input: float32([n, ...d.shape], x) });
  const gallery = $('gallery');
  gallery.innerHTML = '';
  const out: { label: number; predicted: number }[] = [];
  for (let i = 0; i < n; i++) {
    const row = (logits!.data as Float32Array).subarray(i * d.classes, (i + 1) * d.classes);
    const predicted = row.indexOf(Math.max(...row));
    const label = d.test.y[i]!;
    out.push({ label, predicted });
    const fig = document.createElement('figure');
    const canvas = document.createElement('canvas');
    drawSample(canvas, x.subarray(i * per, (i + 1) * per), 28, 28);
    const cap = document.createElement('figcaption');
    cap.className = predicted === label ? 'right' : 'wrong';
    cap.textContent = d.classNames![predicted]!;
    cap.title = `label: ${d.classNames![label]}`;
    fig.append(canvas, cap);
    gallery.append(fig);
  }
  return out;
}

async function showPrediction(pixels: Float32Array): Promise<void> {
  if (!session || !data) return;
  const ranked = await classifyPixels(session, pixels, data.shape, data.classNames!);
  $('prediction').innerHTML = ranked
    .slice(0, 3)
    .map((r) => `<li>${r.name} · ${(100 * r.probability).toFixed(1)}%</li>`)
    .join('');
}

function fail(e: unknown): void {
  const message = e instanceof Error ? e.message : String(e);
  outcome.error = message;
  ($('train-button') as HTMLButtonElement).disabled = false;
  setState('error', `Training failed: ${message}`);
}

const pad = new PadDrawing($('pad') as HTMLCanvasElement);
$('clear-button').addEventListener('click', () => pad.clear());
$('classify-button').addEventListener('click', () => void showPrediction(pad.pixels(28, 28)).catch(fail));
$('upload').addEventListener('change', async (ev) => {
  const file = (ev.target as HTMLInputElement).files?.[0];
  if (file) await showPrediction(await imageToPixels(file, 28, 28)).catch(fail);
});
$('train-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  train().catch(fail);
});
/**
 * The runtime line: data-parallel replicas and the thread count once known (?threads=, or
 * onnxruntime-web's choice at the first session).
 */
function showRuntimeInfo(): void {
  const n = outcome.threads;
  const r = outcome.replicas;
  const replicas = r > 1 ? `${r} data-parallel replicas (workers) of ` : '';
  const threads = n === null ? 'threads: onnxruntime-web chooses' : `${n} thread${n === 1 ? '' : 's'}`;
  $('runtime-info').textContent = outcome.crossOriginIsolated
    ? `${runtimeBackendName} · WebAssembly, ${replicas}${threads} (cross-origin isolated)`
    : `${runtimeBackendName} · WebAssembly, ${replicas}one thread (page not cross-origin isolated)`;
}
showRuntimeInfo();
if (badQuery) {
  ($('train-button') as HTMLButtonElement).disabled = true;
  outcome.error = badQuery;
  setState('error', `Cannot train: ${badQuery}`);
} else if (query.get('auto') === '1') train().catch(fail);

// ---- the tab as a federated-learning device -------------------------------------------------
window.vergeFl = { state: 'idle', outcomes: [] };
let flDevice: BrowserFlDevice | null = null;

function flField(name: string): HTMLInputElement {
  return ($('fl-form') as HTMLFormElement).elements.namedItem(name) as HTMLInputElement;
}

function renderFlOutcomes(): void {
  const rows = window.vergeFl.outcomes.map((o) => {
    const tr = document.createElement('tr');
    for (const v of [o.job, String(o.round), o.task, o.result, o.reason ?? '']) {
      const td = document.createElement('td');
      td.textContent = v; // device-independent, but never markup
      tr.append(td);
    }
    return tr;
  });
  const head = document.createElement('tr');
  head.innerHTML = '<th>job</th><th>round</th><th>task</th><th>result</th><th></th>';
  $('fl-outcomes').replaceChildren(head, ...rows);
}

const flCloud = new URL('./', location.href).href;
let flStore: Promise<DeviceStore> | null = null;
const deviceStore = () => (flStore ??= DeviceStore.open());

function flStatus(s: FlDeviceState | 'idle', detail?: string): void {
  window.vergeFl.state = s;
  window.vergeFl.detail = detail;
  window.vergeFl.deviceId = flDevice?.identity?.device_id;
  window.vergeFl.resumed = flDevice?.resumed;
  const id = window.vergeFl.deviceId ? ` as ${window.vergeFl.deviceId}` : '';
  const text: Record<string, string> = {
    enrolling: 'Enrolling this tab…',
    connecting: `${flDevice?.resumed ? 'Resumed the device kept in this browser' : 'Enrolled'}${id}; connecting to the fleet…`,
    online: `Online${id}: waiting for federated rounds (the tab must stay open).`,
    offline: `Connection lost${id}; retrying…`,
    revoked: 'This tab was revoked by the control plane.',
    stopped: 'Left the fleet.',
    error: 'Could not join',
  };
  $('fl-status').textContent = `${text[s] ?? s}${detail ? ` — ${detail}` : ''}`;
  ($('fl-forget') as HTMLButtonElement).hidden = !(flDevice?.identity && s !== 'revoked');
}

async function joinFl(): Promise<void> {
  const samples = Number(flField('samples').value);
  ($('fl-button') as HTMLButtonElement).disabled = true;
  try {
    flDevice = new BrowserFlDevice({
      cloudUrl: flCloud,
      store: await deviceStore(),
      token: flField('token').value.trim() || undefined,
      name: flField('name').value.trim(),
      data: () => fetchFashionMnist('data/fashion-mnist/', { train: samples, test: TEST_SAMPLES }),
      ...(threadsParam ? { threads: Number(threadsParam) } : {}),
      // the tab's rounds train data-parallel like the page (a model that cannot be split: one session)
      ...(parallel.replicas > 1
        ? {
            replicas: workerReplicas(parallel.replicas - 1, wasmAssets, {
              ownShare: parallel.ownShare,
              optional: true,
            }),
          }
        : {}),
      onState: flStatus,
      onOutcome: (o) => {
        window.vergeFl.outcomes.push(o);
        renderFlOutcomes();
      },
      log: (line) => console.log(`[verge fl] ${line}`),
    });
    await flDevice.start();
  } catch (e) {
    flDevice = null;
    ($('fl-button') as HTMLButtonElement).disabled = false;
    flStatus('error', e instanceof Error ? e.message : String(e));
  }
}

/** Leave the fleet and forget the kept device: the next join needs a new token. */
async function forgetFl(): Promise<void> {
  const id = flDevice?.identity?.device_id;
  await flDevice?.stop();
  flDevice = null;
  if (id) await (await deviceStore()).forget(id);
  ($('fl-button') as HTMLButtonElement).disabled = false;
  flStatus('idle');
  $('fl-status').textContent = `This browser no longer keeps ${id ?? 'the device'}.`;
}

$('fl-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  if (!flDevice) void joinFl();
});
$('fl-forget').addEventListener('click', () => void forgetFl().catch(fail));
for (const [param, field] of [
  ['fl_token', 'token'],
  ['fl_name', 'name'],
  ['fl_samples', 'samples'],
] as const) {
  const v = query.get(param);
  if (v !== null) flField(field).value = v;
}
// a device kept from an earlier page resumes on load; otherwise a token in the query enrolls
void deviceStore()
  .then((store) => store.load(flCloud))
  .then((kept) => {
    if (kept || query.get('fl_token')) void joinFl();
  })
  .catch((e: Error) => {
    if (query.get('fl_token')) void joinFl();
    else console.log(`[verge fl] no device store: ${e.message}`);
  });
