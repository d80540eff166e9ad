/**
 * Federated learning as one control-plane service: the coordinator (jobs and rounds,
 * fl-coordinator.ts) and the device uploads (fl-uploads.ts), which the routes (plugins/fl.ts) call,
 * plus the periodic `tick()` and `republish()` after (re)connecting MQTT.
 */
import { FlCoordinator, type FlHost } from './fl-coordinator.ts';
import { FlUploads } from './fl-uploads.ts';
import type { FlApi } from './plugins/fl.ts';

export class FederatedLearning implements FlApi {
  readonly coordinator: FlCoordinator;
  readonly uploads: FlUploads;

  constructor(host: FlHost) {
    this.coordinator = new FlCoordinator(host);
    this.uploads = new FlUploads(host, this.coordinator);
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
