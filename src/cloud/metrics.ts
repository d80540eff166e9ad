/**
 * Prometheus metrics of one control-plane process (`GET /metrics`). Each instance has its own
 * registry, so tests can run several in one process; counters are per replica, as usual for
 * Prometheus (sum them across replicas in queries).
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Distinct (model, version) label pairs per metric family. Devices name the models they report, so
 * without a cap one device could create a series per made-up name (5,000 names → 10,000 series in
 * one scrape); a fleet runs tens of model versions. Pairs past the cap are summed under `_other`.
 */
export const MAX_MODEL_SERIES = 200;
export const OTHER_LABEL = '_other';

export class ControlPlaneMetrics {
  readonly registry = new Registry();
  private readonly modelSeries = new Set<string>();
  /**
   * Device messages received per verb since the last collection: counted in a plain map (one
   * increment per message, many thousands a second under load) and added to the counter when it
   * is read (prom-client hashes and validates the labels on every inc).
   */
  private readonly received = new Map<string, number>();
  readonly mqttMessages = new Counter({
    name: 'verge_mqtt_messages_total',
    help: 'device messages received, by verb',
    labelNames: ['verb'],
    registers: [this.registry],
    collect: () => {
      for (const [verb, n] of this.received) this.mqttMessages.inc({ verb }, n);
      this.received.clear();
    },
  });

  /** One device message of `verb` received (verge_mqtt_messages_total). */
  messageReceived(verb: string): void {
    this.received.set(verb, (this.received.get(verb) ?? 0) + 1);
  }
  readonly rejectedMessages = new Counter({
    name: 'verge_messages_rejected_total',
    help: 'device messages dropped as invalid (bad JSON, wrong protocol version, bad shape, topic/device mismatch)',
    labelNames: ['verb'],
    registers: [this.registry],
  });
  readonly telemetryRecords = new Counter({
    name: 'verge_telemetry_records_total',
    help: 'telemetry records by result: accepted (first delivery), duplicate (redelivery of a known message id), dead_letter (refused by the database on its own)',
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly inferences = new Counter({
    name: 'verge_inferences_total',
    help: 'inferences reported by devices',
    labelNames: ['model', 'version'],
    registers: [this.registry],
  });
  readonly inferenceErrors = new Counter({
    name: 'verge_inference_errors_total',
    help: 'failed inferences reported by devices',
    labelNames: ['model', 'version'],
    registers: [this.registry],
  });
  readonly deployments = new Counter({
    name: 'verge_deployments_total',
    help: 'deployments created',
    labelNames: ['strategy'],
    registers: [this.registry],
  });
  readonly rollbacks = new Counter({
    name: 'verge_rollbacks_total',
    help: 'deployments rolled back, by trigger',
    labelNames: ['trigger'],
    registers: [this.registry],
  });
  readonly enrollments = new Counter({
    name: 'verge_enrollments_total',
    help: 'devices enrolled',
    registers: [this.registry],
  });

  /** Labels for a reported (model, version): itself while fewer than MAX_MODEL_SERIES pairs exist, else `_other`. */
  modelLabels(model: string, version: string): { model: string; version: string } {
    const key = `${model}\u0000${version}`;
    if (this.modelSeries.has(key)) return { model, version };
    if (this.modelSeries.size >= MAX_MODEL_SERIES) return { model: OTHER_LABEL, version: OTHER_LABEL };
    this.modelSeries.add(key);
    return { model, version };
  }

  constructor(
    deviceCounts: () => Promise<Record<'online' | 'offline' | 'revoked', number>>,
    connected: () => number,
    serviceDisconnects: () => number = () => 0,
  ) {
    new Gauge({
      name: 'verge_broker_service_disconnects',
      help: "times this process's own broker connection was lost since start (broker restarts; a session takeover would show here)",
      registers: [this.registry],
      collect() {
        this.set(serviceDisconnects());
      },
    });
    new Gauge({
      name: 'verge_devices',
      help: 'enrolled devices by status (from the shared database)',
      labelNames: ['status'],
      registers: [this.registry],
      async collect() {
        const counts = await deviceCounts();
        for (const [status, n] of Object.entries(counts)) this.set({ status }, n);
      },
    });
    new Gauge({
      name: 'verge_broker_connected_devices',
      help: "devices connected to this process's embedded broker (0 with an external broker)",
      registers: [this.registry],
      collect() {
        this.set(connected());
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: 'verge_cloud_' });
  }
}
