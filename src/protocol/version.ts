/**
 * Protocol version. Every MQTT message carries it as `v`; every HTTP path starts with `/v1`.
 * Additive changes (new optional fields, new verbs) keep the version; a change that an older
 * peer would misread bumps it, and topics move to `verge/v<N>/…` so both can coexist.
 */
export const PROTOCOL_VERSION = 1 as const;

/** Root of every MQTT topic verge uses. */
export const TOPIC_ROOT = `verge/v${PROTOCOL_VERSION}` as const;

/** Root of every HTTP path (enrollment, artifacts, operator API). */
export const HTTP_API_ROOT = `/v${PROTOCOL_VERSION}` as const;
