/**
 * esbuild `inject` (build.ts): the browser bundle's `Buffer` is the `buffer` package (Node's API
 * in plain JavaScript), for the few Buffer calls on the browser path — protocol/'s encodeMessage and
 * the secure-aggregation party's base64 — so the tab runs the same code as the agent. esbuild adds
 * it only to bundles that use `Buffer`.
 */
export { Buffer } from 'buffer';
