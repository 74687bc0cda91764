import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly' },
    },
  },
  {
    // The browser pool shares only the platform-neutral half of the pool (src/pool/shared, checked
    // with no Node types by tsconfig.browser.json); the rest of src/pool needs Node.
    files: ['src/browser/**/*.ts', 'src/pool/shared/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['../pool/*', '!../pool/shared'],
              message: 'src/browser may import only src/pool/shared of the pool',
            },
            { group: ['node:*'], message: 'this code runs in browsers too: no Node.js built-ins' },
          ],
        },
      ],
    },
  },
  {
    // Tests read JSON answers field by field; typing every response body would add noise, not safety.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
