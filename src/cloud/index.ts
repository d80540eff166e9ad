/** verge control plane (docs/cloud.md). */
export { buildControlPlane, ENROLL_TOKEN_TTL_S, type ControlPlane, type ControlPlaneOptions } from './control-plane.ts';
export {
  CloudClient,
  resolveCloud,
  waitForDeployment,
  summarize,
  DEFAULT_CLOUD_URL,
  type CloudConnection,
} from './client.ts';
export { TERMINAL_DEPLOYMENT_STATES } from '../protocol/index.ts';
export { DEFAULT_WEB_DIR } from './control-plane.ts';
export {
  installedOrtWeb,
  ISOLATION_HEADERS,
  ORT_ASSETS_PATH,
  ORT_BUILD_MANIFEST,
  ORT_WEB_FILES,
  webRoutes,
} from './plugins/web.ts';
export { httpRetrainBackend, type RetrainBackend } from './retrain-backend.ts';
export { measurePublishedMemory, PUBLISHED_MEMORY_BATCHES } from './models.ts';
export { COLLECTED_HOLDOUT_FRACTION, MAX_PULLED_ITEMS, pullFleetDataset, type FleetPull } from './fleet-dataset.ts';
export {
  canaryAfterRetrain,
  retrainDue,
  retrainFromCollected,
  type DriftTrigger,
  type RetrainOptions,
  type RetrainResult,
  type TriggerDecision,
} from './retrain.ts';
