/**
 * Federated learning as one control-plane service: the coordinator (jobs and rounds,
 * fl-coordinator.ts) and the device uploads (fl-uploads.ts) behind the interface the plugin
 * (plugins/fl.ts) calls, plus the periodic `tick()` and `republish()` after (re)connecting MQTT.
 */
import type { FlJob, SecAggUploadPhase } from '../protocol/index.ts';
import { FlCoordinator, type FlHost } from './fl-coordinator.ts';
import { FlUploads, type UpdateHeaders } from './fl-uploads.ts';
import type { FlApi } from './plugins/fl.ts';

export class FederatedLearning implements FlApi {
  readonly coordinator: FlCoordinator;
  readonly uploads: FlUploads;

  constructor(host: FlHost) {
    this.coordinator = new FlCoordinator(host);
    this.uploads = new FlUploads(host, this.coordinator);
  }

  create(input: unknown): Promise<FlJob> {
    return this.coordinator.create(input);
  }
  list(): Promise<FlJob[]> {
    return this.coordinator.list();
  }
  describe(id: string): Promise<FlJob> {
    return this.coordinator.describe(id);
  }
  stop(id: string): Promise<FlJob> {
    return this.coordinator.stop(id);
  }
  registerKey(deviceId: string, pem: string): Promise<{ device_id: string; key_id: string }> {
    return this.uploads.registerKey(deviceId, pem);
  }
  receiveUpdate(jobId: string, round: number, deviceId: string, h: UpdateHeaders, body: Uint8Array) {
    return this.uploads.receiveUpdate(jobId, round, deviceId, h, body);
  }
  receiveSecAgg(
    jobId: string,
    round: number,
    deviceId: string,
    phase: SecAggUploadPhase,
    h: UpdateHeaders,
    body: Uint8Array,
  ) {
    return this.uploads.receiveSecAgg(jobId, round, deviceId, phase, h, body);
  }
  receiveEvaluation(jobId: string, round: number, deviceId: string, input: unknown) {
    return this.uploads.receiveEvaluation(jobId, round, deviceId, input);
  }
  /** Close due rounds, aggregate, open the next ones (the control plane's ticker). */
  tick(): Promise<void> {
    return this.coordinator.tick();
  }
  /** Re-send open rounds' retained tasks (the embedded broker forgets them across restarts). */
  republish(): Promise<void> {
    return this.coordinator.republish();
  }
}
