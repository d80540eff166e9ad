import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';
import layers from './scripts/eslint-layers.js';

const ONNXRUNTIME = ['onnxruntime-node', 'onnxruntime-web', 'onnxruntime-common'];
const NODE_MODULES = ['node:*', ...builtinModules.filter((m) => !m.startsWith('_'))];
/**
 * data/ and optimize/ modules that need Node (files, folders, child processes, sharp): every other
 * module of those layers is on the browser path (their browser.ts) and imports nothing Node-only.
 */
const NODE_ONLY_FILES = [
  'src/data/index.ts',
  'src/data/sources/*.ts', // the file-system sources (catalog.ts, the names alone, is checked below)
  'src/data/load-dataset.ts',
  'src/data/class-folders.ts',
  'src/data/decoded-cache.ts',
  'src/data/image-decode.ts',
  'src/data/raw-input.ts',
  'src/data/npy.ts',
  'src/data/npz.ts',
  'src/data/audio/wav-file.ts',
  'src/data/audio/wav-folder.ts',
  'src/data/audio/speech-digits-synthesis.ts',
  'src/optimize/index.ts',
  'src/optimize/quantize/index.ts',
  'src/optimize/quantize/calibration-data.ts',
  'src/optimize/quantize/executed-ops.ts',
  'src/optimize/quantize/quantize.ts',
  'src/optimize/device-profiles.ts',
  'src/optimize/measure.ts',
  'src/optimize/sweep.ts',
];
const BROWSER_DATA_FILES = ['src/data/**/*.ts', 'src/data/sources/catalog.ts', 'src/optimize/**/*.ts'];
/** protocol/ files the dashboard uses (signature.ts, with node:crypto, is not among them). */
const BROWSER_PROTOCOL_FILES = [
  'src/protocol/http.ts',
  'src/protocol/fl.ts',
  'src/protocol/key-trust.ts',
  'src/protocol/messages.ts',
  'src/protocol/version.ts',
  'src/protocol/precisions.ts',
  'src/errors.ts',
];
/** edge/ files a browser tab runs as an FL device (src/web/app/fl-device.ts, through edge/browser.ts). */
const BROWSER_EDGE_FILES = [
  'src/edge/browser.ts',
  'src/edge/enrollment.ts',
  'src/edge/http-error.ts',
  'src/edge/fl-participant.ts',
  'src/edge/fl-secure-party.ts',
  'src/edge/signing-keys.ts',
];

/** Layers whose index.ts also exports Node-only modules: the browser path imports their browser.ts. */
const NODE_ONLY_ENTRIES = {
  regex: '(^|/)(onnx|data|protocol|train|edge|optimize)/index\\.ts$',
  message: "on the browser path import the layer's browser.ts (its index.ts also exports Node-only modules)",
};

export default tseslint.config(
  { ignores: ['node_modules/**', 'bench/results/**', 'dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'warn',
    },
  },
  {
    // plain JavaScript entry points (bin/, bench/run.js) run under Node
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', URL: 'readonly', console: 'readonly' } },
  },
  {
    // Layering (DESIGN.md, docs/architecture.md): other layers only through src/<layer>/index.ts
    // (or its browser.ts), and only layers below (scripts/eslint-layers.js).
    files: ['src/**/*.ts'],
    plugins: { verge: layers },
    rules: { 'verge/layers': 'error' },
  },
  {
    // Layering (DESIGN.md): only src/runtime imports onnxruntime.
    files: ['src/**/*.ts'],
    ignores: ['src/runtime/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['onnxruntime-node', 'onnxruntime-web', 'onnxruntime-common'] }],
    },
  },
  {
    // The browser path (src/web/build.ts bundles it; test/web/browser-layers.test.ts bundles each
    // layer's browser entry): onnx, nn, train, data (but its file-system sources) and optimize
    // import no Node module. Node-only files beside them (model files, checkpoint folders, dataset
    // sources, child processes) stay off that path.
    files: [
      'src/onnx/**/*.ts',
      'src/nn/**/*.ts',
      'src/train/**/*.ts',
      'src/fl/**/*.ts',
      'src/web/app/**/*.ts',
      ...BROWSER_EDGE_FILES,
      ...BROWSER_DATA_FILES,
      ...BROWSER_PROTOCOL_FILES,
    ],
    ignores: [
      '**/*.test.ts',
      'src/onnx/io.ts',
      'src/train/checkpoint-files.ts',
      ...NODE_ONLY_FILES.filter((f) => f !== 'src/data/sources/*.ts'),
      'src/data/sources/!(catalog).ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: [...NODE_MODULES, ...ONNXRUNTIME] }, NODE_ONLY_ENTRIES] },
      ],
    },
  },
  {
    // CLI actions never import each other (docs/architecture.md): shared CLI code is a module of src/cli/.
    // (A later no-restricted-imports replaces an earlier one's options: onnxruntime stays refused here.)
    files: ['src/cli/actions/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ONNXRUNTIME, message: 'only src/runtime imports onnxruntime' },
            { group: ['./*'], message: 'an action does not import another action: move the shared code to src/cli/' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/runtime/*.ts', 'src/runtime/backends/web*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [...NODE_MODULES, 'onnxruntime-node'] }],
    },
  },
);
