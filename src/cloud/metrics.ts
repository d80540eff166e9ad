/**
 * Prometheus metrics of one control-plane process (`GET /metrics`). Each instance has its own
 * registry, so tests can run several in one process; counters are per replica, as usual for
 * Prometheus (sum them across replicas in queries).
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export class ControlPlaneMetrics {
  readonly registry = new Registry();
  readonly mqttMessages = new Counter({
    name: 'verge_mqtt_messages_total',
    help: 'device messages received, by verb',
    labelNames: ['verb'],
    registers: [this.registry],
  });
  readonly rejectedMessages = new Counter({
    name: 'verge_messages_rejected_total',
    help: 'device messages dropped as invalid (bad JSON, wrong protocol version, bad shape, topic/device mismatch)',
    labelNames: ['verb'],
    registers: [this.registry],
  });
  readonly telemetryRecords = new Counter({
    name: 'verge_telemetry_records_total',
    help: 'telemetry records by result: accepted (first delivery) or duplicate (redelivery of a known message id)',
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

  constructor(deviceCounts: () => Promise<Record<'online' | 'offline' | 'revoked', number>>, connected: () => number) {
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
