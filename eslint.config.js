// @ts-check
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');
const fleet = require('./eslint-rules/import-boundaries');

module.exports = tseslint.config(
  {
    ignores: [
      'node_modules/**',
      '.fleet/**',
      'dist/**',
      '.dist-*/**',
      'apps/ui/dist/**',
      'packages/contracts/src/generated.ts',
      'bench/results/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { require: 'readonly', module: 'writable', __dirname: 'readonly', process: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  // Who may import whom (eslint-rules/import-boundaries.js); test/unit/import-rules.test.ts shows each wall holds.
  { plugins: { fleet }, rules: { 'fleet/import-boundaries': 'error' } },
);
