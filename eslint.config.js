// ESLint flat config: strict TypeScript rules, plus the architecture's dependency arrows
// (docs/architecture.md) enforced with no-restricted-imports so a wrong import fails CI.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const layer = (files, forbidden, message) => ({
  files,
  rules: {
    'no-restricted-imports': ['error', { patterns: forbidden.map((group) => ({ group: [group], message })) }],
  },
});

export default tseslint.config(
  { ignores: ['node_modules/**', 'bench/node_modules/**', 'bench/.work/**', 'data/**', 'dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', fetch: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', structuredClone: 'readonly', queueMicrotask: 'readonly', Response: 'readonly', performance: 'readonly' } },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
      eqeqeq: ['error', 'always'],
    },
  },
  layer(['src/core/**', 'src/security/**'], ['**/http/**', '**/web/**', '**/ecosystems/**', '**/cli/**', '**/storage/metadata/sqlite/**', '**/storage/metadata/postgres/**', '**/storage/blobs/fs/**', '**/app.ts'],
    'core/ and security/ depend only on interfaces (docs/architecture.md).'),
  layer(['src/ecosystems/**'], ['**/storage/metadata/sqlite/**', '**/storage/metadata/postgres/**', '**/storage/blobs/fs/**', '**/cli/**', '**/app.ts'],
    'ecosystem adapters reach storage only through core/ (docs/architecture.md).'),
  layer(['src/storage/**'], ['**/http/**', '**/web/**', '**/ecosystems/**', '**/cli/**', '**/app.ts'],
    'storage/ knows nothing about the edges (docs/architecture.md).'),
);
