import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['.scratch/**', 'reports/**', '.stryker-tmp/**', 'dist/**', 'node_modules/**', 'test-results/**', 'playwright-report/**', 'data/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.browser, ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The pure core gets time, timers and I/O injected: forbid reaching for them directly.
    // src/analysis is pure too, except its one CLI file that does the I/O.
    files: ['src/protocol/**/*.ts', 'src/game/**/*.ts', 'src/analysis/**/*.ts'],
    ignores: ['**/*.test.ts', 'src/analysis/cli.ts'],
    rules: {
      'no-restricted-globals': ['error', 'setTimeout', 'setInterval', 'clearTimeout', 'clearInterval', 'performance', 'window', 'document', 'process', 'fetch', 'WebSocket'],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'time is injected into the core' },
        { object: 'Math', property: 'random', message: 'randomness is injected or seeded in state' },
      ],
      'no-restricted-imports': ['error', { patterns: ['node:*', 'fs', 'net', 'http', 'crypto', 'ws', 'phaser', 'zustand'] }],
    },
  },
);
