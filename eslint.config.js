import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
    // Layering (DESIGN.md): only src/runtime imports onnxruntime.
    files: ['src/**/*.ts'],
    ignores: ['src/runtime/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['onnxruntime-node', 'onnxruntime-web', 'onnxruntime-common'] }],
    },
  },
);
