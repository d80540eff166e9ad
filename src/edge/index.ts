/**
 * edge/: the edge agent (docs/edge.md): enrolls with a control plane, keeps an MQTT session,
 * downloads and verifies signed model artifacts, picks the variant its device profile can hold,
 * serves predictions on a local HTTP API and reports telemetry, also while offline.
 *
 *   const agent = await EdgeAgent.start({ cloudUrl, enrollToken, dataDir, name: 'cam-1', port: 0 });
 *   agent.url;   …   await agent.stop();
 */
export {
  EdgeAgent,
  AGENT_VERSION,
  TELEMETRY_INTERVAL_MS,
  type EdgeAgentOptions,
  type EdgeAgentEvents,
  type AgentConnectionState,
  type AckRecord,
} from './agent.ts';
export { buildLocalApi, MAX_BODY_BYTES, type LocalApiOptions } from './local-api.ts';
export {
  detectProfile,
  parseProfileSpec,
  PROFILE_PRESETS,
  PROFILE_PRESET_NAMES,
  type DeviceProfile,
} from './profile.ts';
export {
  chooseVariant,
  estimatedMemoryMb,
  SESSION_MEMORY_FACTOR,
  variantMemory,
  type VariantDecision,
  type VariantMemory,
} from './variant-choice.ts';
export { ServedModels, loadModelBytes, type LoadedModel, type TensorSpec } from './served-models.ts';
export { downloadArtifact, sha256File, type DownloadRequest, type DownloadResult } from './artifact-download.ts';
export * from './browser.ts';
export { nodeFlPlatform } from './fl-node-platform.ts';
export { AgentEdgeLoop, type AfterPredict, type AnsweredBy, type OffloadOutcome } from './edge-loop.ts';
export { CollectionStore, type StoredItem, type CollectionCounts } from './collection-store.ts';
export { collectedDataset, type CollectedDatasetOptions } from './collected-dataset.ts';
export { outputConfidence, hardExampleReason, type PredictionConfidence } from './confidence.ts';
export { requestFeeds, tensorToJson } from './local-api.ts';
