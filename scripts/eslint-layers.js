/**
 * ESLint rule `verge/layers` (used by eslint.config.js; no plugin dependency): the layering of
 * DESIGN.md as a lint error.
 *
 * - A file of `src/<layer>/` imports another layer only through that layer's public API:
 *   `src/<layer>/index.ts`, or `src/<layer>/browser.ts` (the browser-safe part of the same API,
 *   for layers whose index.ts also exports Node-only modules).
 * - Dependencies point down: a layer imports only layers below it in LAYER_ORDER (layers on one
 *   rank are siblings and do not import each other).
 *
 * `src/errors.ts` is below every layer. Tests (`*.test.ts`) are not checked: a unit test may reach
 * into the internals of the layers it sets up. CLI declarations (`src/cli/commands/`, and the option
 * modules they share: `src/cli/options.ts`, `src/cli/*-options.ts`) may import a lower layer's
 * data-only module (names, defaults) directly: `verge --help` loads every declaration,
 * so it must not load whole layers (test/cli/startup.test.ts bounds what it loads).
 */
import { dirname, relative, resolve, sep } from 'node:path';

/** DESIGN.md's layers, bottom first; an inner array is one rank of siblings. */
export const LAYER_ORDER = [
  'protocol',
  'onnx',
  'runtime',
  'data',
  'nn',
  ['train', 'hmm', 'tflite'],
  'optimize',
  'fl',
  'edge',
  'cloud',
  'web',
  'demo',
  'cli',
];

const RANK = new Map(LAYER_ORDER.flatMap((entry, rank) => [entry].flat().map((layer) => [layer, rank])));
/** Layers with a browser.ts beside index.ts (their index.ts also exports Node-only modules). */
const BROWSER_ENTRY = new Set(['onnx', 'data', 'protocol', 'train', 'edge', 'optimize']);
/**
 * Application folders, not library layers: no index.ts and no package entry. web/ is the browser
 * app and its build (esbuild, a development dependency, loaded only when building); the layers
 * above it (demo/, cli/) import its modules directly.
 */
const APPS = new Set(['web']);

/** The layer of a repository-relative path under src/, '' for src/*.ts files, undefined outside src/. */
function layerOf(parts) {
  if (parts[0] !== 'src') return undefined;
  return parts.length > 2 ? parts[1] : '';
}

/** @type {import('eslint').Rule.RuleModule} */
const layersRule = {
  meta: {
    type: 'problem',
    docs: {
      description: 'import other layers only through their index.ts/browser.ts, and only layers below (DESIGN.md)',
    },
    schema: [],
    messages: {
      internal:
        "'{{source}}' reaches into {{layer}}/'s internals: import '{{entry}}' (the layer's public API{{browser}}; export the name there if it is missing)",
      upward: '{{from}}/ must not import {{layer}}/ ({{why}}; DESIGN.md layer order: {{order}})',
    },
  },
  create(context) {
    const root = context.cwd;
    const file = relative(root, context.filename).split(sep);
    const from = layerOf(file);
    if (from === undefined || from === '' || context.filename.endsWith('.test.ts')) return {};
    // CLI declarations and the option modules they share (options.ts, *-options.ts)
    const declaration = file[1] === 'cli' && (file[2] === 'commands' || /^(.+-)?options\.ts$/.test(file[2] ?? ''));

    function check(node, source) {
      if (typeof source !== 'string' || !source.startsWith('.')) return;
      const target = relative(root, resolve(dirname(context.filename), source)).split(sep);
      const layer = layerOf(target);
      if (layer === undefined || layer === '' || layer === from) return;
      const rankFrom = RANK.get(from);
      const rankTo = RANK.get(layer);
      if (rankFrom !== undefined && rankTo !== undefined && rankTo >= rankFrom) {
        const why = rankTo === rankFrom ? 'siblings do not import each other' : `${layer}/ is above ${from}/`;
        const order = LAYER_ORDER.map((e) => [e].flat().join('|')).join(' < ');
        context.report({ node, messageId: 'upward', data: { from, layer, why, order } });
        return;
      }
      const entry =
        target.length === 3 && (target[2] === 'index.ts' || (target[2] === 'browser.ts' && BROWSER_ENTRY.has(layer)));
      if (entry || declaration || APPS.has(layer)) return;
      const up = source.slice(0, source.indexOf(layer + '/'));
      const browser = BROWSER_ENTRY.has(layer) ? ', or browser.ts on the browser path' : '';
      context.report({
        node,
        messageId: 'internal',
        data: { source, layer, entry: `${up}${layer}/index.ts`, browser },
      });
    }

    const fromSource = (node) => check(node.source, node.source?.value);
    return {
      ImportDeclaration: fromSource,
      ExportNamedDeclaration: fromSource,
      ExportAllDeclaration: fromSource,
      ImportExpression: (node) => check(node.source, node.source.type === 'Literal' ? node.source.value : undefined),
    };
  },
};

export default { rules: { layers: layersRule } };
