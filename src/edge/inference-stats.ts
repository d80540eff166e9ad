/**
 * What the agent measures about its own inference: request and error counts and a latency
 * histogram per served model, both as Prometheus metrics (the local /metrics endpoint) and as
 * telemetry windows the cloud's canary health gate reads (protocol TelemetryMessage: inferences,
 * errors, latency histogram, predicted-class counts).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { LATENCY_BUCKETS_MS, emptyHistogram, observeLatency, type LatencyHistogram } from '../protocol/index.ts';

export interface ModelKey {
  name: string;
  version: string;
  variant: string;
}

export interface InferenceWindow {
  model: ModelKey;
  window_start: number;
  window_end: number;
  inferences: number;
  errors: number;
  latency_ms: LatencyHistogram;
  /** Predicted class → count (argmax of a [N, C] output). */
  results: Record<string, number>;
}

/** Above this many classes a result summary stops being a summary. */
export const MAX_RESULT_CLASSES = 1000;

export class InferenceStats {
  readonly registry = new Registry();
  private readonly requests: Counter<'model' | 'version' | 'variant' | 'status'>;
  private readonly latency: Histogram<'model' | 'variant'>;
  readonly modelsLoaded: Gauge;
  readonly telemetryPending: Gauge;
  readonly artifactsRejected: Counter<'reason'>;
  readonly outboxDropped: Counter<'verb'>;
  private windows = new Map<string, InferenceWindow>();
  private windowStart = Date.now();

  constructor(defaultLabels: Record<string, string> = {}) {
    this.registry.setDefaultLabels(defaultLabels);
    this.requests = new Counter({
      name: 'verge_agent_predictions_total',
      help: 'Prediction requests served by this agent',
      labelNames: ['model', 'version', 'variant', 'status'],
      registers: [this.registry],
    });
    this.latency = new Histogram({
      name: 'verge_agent_predict_latency_seconds',
      help: 'Prediction latency (model run, excluding HTTP parsing)',
      labelNames: ['model', 'variant'],
      buckets: LATENCY_BUCKETS_MS.map((ms) => ms / 1000),
      registers: [this.registry],
    });
    this.modelsLoaded = new Gauge({
      name: 'verge_agent_models_loaded',
      help: 'Models currently served',
      registers: [this.registry],
    });
    this.telemetryPending = new Gauge({
      name: 'verge_agent_outbox_pending',
      help: 'Telemetry and acks queued locally, not yet acknowledged by the broker',
      registers: [this.registry],
    });
    this.outboxDropped = new Counter({
      name: 'verge_agent_outbox_dropped_total',
      help: 'Telemetry (oldest first) and messages dropped because the disk was full (SQLITE_FULL)',
      labelNames: ['verb'],
      registers: [this.registry],
    });
    this.artifactsRejected = new Counter({
      name: 'verge_agent_artifacts_rejected_total',
      help: 'Artifacts refused before loading (digest or signature mismatch, load failure)',
      labelNames: ['reason'],
      registers: [this.registry],
    });
  }

  /** Record one request; `classes` = predicted class per sample when the output is a [N, C] score matrix. */
  record(model: ModelKey, ms: number, ok: boolean, classes?: ArrayLike<number>): void {
    this.requests.inc({
      model: model.name,
      version: model.version,
      variant: model.variant,
      status: ok ? 'ok' : 'error',
    });
    const key = `${model.name}\u0000${model.version}\u0000${model.variant}`;
    let w = this.windows.get(key);
    if (!w) {
      w = {
        model: { name: model.name, version: model.version, variant: model.variant },
        window_start: this.windowStart,
        window_end: this.windowStart,
        inferences: 0,
        errors: 0,
        latency_ms: emptyHistogram(),
        results: {},
      };
      this.windows.set(key, w);
    }
    w.inferences++;
    if (!ok) {
      w.errors++;
      return;
    }
    this.latency.observe({ model: model.name, variant: model.variant }, ms / 1000);
    observeLatency(w.latency_ms, ms);
    if (classes)
      for (let i = 0; i < classes.length; i++) w.results[String(classes[i])] = (w.results[String(classes[i])] ?? 0) + 1;
  }

  /** Everything recorded since the last call (one entry per model), and start a new window. */
  takeWindows(): InferenceWindow[] {
    const now = Date.now();
    const out = [...this.windows.values()].map((w) => ({ ...w, window_end: now }));
    this.windows = new Map();
    this.windowStart = now;
    return out;
  }

  async metricsText(): Promise<string> {
    return this.registry.metrics();
  }
}

/** argmax per row of a [N, C] float output; undefined when the output is not a score matrix. */
export function predictedClasses(dims: number[], data: ArrayLike<number | bigint>): Int32Array | undefined {
  if (dims.length !== 2 || dims[1]! < 2 || dims[1]! > MAX_RESULT_CLASSES) return undefined;
  if (typeof data[0] === 'bigint') return undefined;
  const [n, c] = dims as [number, number];
  const out = new Int32Array(n);
  const d = data as ArrayLike<number>;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < c; j++) if (d[i * c + j]! > d[i * c + best]!) best = j;
    out[i] = best;
  }
  return out;
}
