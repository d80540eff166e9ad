/**
 * The edge ↔ cloud wire contract (docs/protocol.md): MQTT topics, message schemas, HTTP schemas,
 * artifact signatures and variant selection. `cloud/` and `edge/` both import from here; nothing
 * else defines a wire format.
 */
export * from './version.ts';
export * from './topics.ts';
export * from './messages.ts';
export * from './limits.ts';
export * from './text-safety.ts';
export * from './http.ts';
export * from './http-errors.ts';
export * from './signature.ts';
export * from './variant.ts';
export * from './agent-api.ts';
export * from './fl.ts';
export * from './fl-update.ts';
export * from './edge-loop.ts';
