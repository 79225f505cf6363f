// Lint rules: typescript-eslint's type-aware recommended set; floating promises are bugs here.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'test-results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: {
          allowDefaultProject: ['bin/*.js', 'eslint.config.js', 'examples/*/*.js'],
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': [
        'error',
        { checksVoidReturn: { arguments: false } },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      // Async functions without await are how Fastify handlers and async interfaces are written.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
  {
    // The login page's script runs in browsers, outside any TypeScript project. localStorage is not
    // listed on purpose: tokens never go there (see public/login.js).
    files: ['public/**/*.js'],
    languageOptions: {
      parserOptions: { projectService: false },
      globals: Object.fromEntries(
        [
          'document',
          'fetch',
          'sessionStorage',
          'setTimeout',
          'clearTimeout',
          'URL',
          'URLSearchParams',
          'DOMParser',
          // The recovery links: read the token, then take it out of the address bar.
          'location',
          'history',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
)
