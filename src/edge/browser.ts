/**
 * edge/'s browser-safe part: what a browser tab needs to be a federated-learning device
 * (src/web/app/fl-device.ts) — enrollment, the device's HTTP credential, the signing keys it
 * trusts (following the cloud's rotations like an agent) and the FL participant,
 * which runs on a platform the tab provides (FlPlatform). index.ts re-exports all of it with the
 * Node-only agent.
 */
export { enroll, deviceAuthHeader, joinUrl } from './enrollment.ts';
export { AgentKeyTrust, type KeyTrustHost } from './signing-keys.ts';
export {
  FlParticipant,
  LOCAL_HOLDOUT,
  type FlParticipantHost,
  type FlOutcome,
  type FlPlatform,
  type FlUploadKey,
  type FlIdentity,
} from './fl-participant.ts';
