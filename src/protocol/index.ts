/**
 * The edge ↔ cloud wire contract (docs/protocol.md): MQTT topics, message schemas, HTTP schemas,
 * artifact signatures and variant selection. `cloud/` and `edge/` both import from here; nothing
 * else defines a wire format.
 */
export * from './browser.ts';
export * from './signature.ts';
export * from './artifact-crypto.ts';
