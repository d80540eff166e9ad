/**
 * protocol/'s public API without its Node-only module (signature.ts: node:crypto signing): what the
 * browser path (the dashboard) and other layers import. index.ts re-exports all of it.
 */
export * from './version.ts';
export * from './topics.ts';
export * from './messages.ts';
export * from './limits.ts';
export * from './text-safety.ts';
export * from './http.ts';
export * from './http-errors.ts';
export * from './variant.ts';
export * from './device-classes.ts';
export * from './agent-api.ts';
export * from './fl.ts';
export * from './fl-update.ts';
export * from './key-trust.ts';
export * from './edge-loop.ts';
export { decodeCodecFrame, encodeCodecFrame, frameElements, type CodecParams } from './codec-frame.ts';
