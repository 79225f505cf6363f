// Lint rules: typescript-eslint's type-aware recommended set (floating promises are bugs here), and
// the layer rule of docs/development.md: which room of src/ may import which, and which files alone
// import the JWT, hashing, database and mail libraries. Import cycles are refused by madge (npm run lint).
import js from '@eslint/js'
import boundaries from 'eslint-plugin-boundaries'
import tseslint from 'typescript-eslint'

/**
 * The rooms of src/. A file belongs to the first room whose pattern matches its path from the
 * repository root, so the catch-all `store-shared` comes after the other rooms of src/store/.
 */
const ROOMS = {
  // On top: the server, the CLI, cluster mode and the package's exports.
  // src/kit/ re-exports the kit's package as gatehouse-auth's subpaths.
  entry: ['src/{server,cli,cluster,dev,index,first-start}.ts', 'src/cli/**', 'src/kit/**'],
  app: 'src/app.ts',
  // Wires the services for every entry point (compose), counts what they report (metrics) and
  // traces them (tracing/, loaded only when an OTLP endpoint is configured).
  wiring: ['src/{compose,metrics}.ts', 'src/tracing/**'],
  http: 'src/http/**',
  grants: 'src/grants/**',
  services: 'src/services/**',
  security: 'src/security/**',
  'store-contract': ['src/store/contract.ts', 'src/store/contract/**'],
  'store-open': 'src/store/open.ts',
  'store-migrations': 'src/store/migrations/**',
  // Reads the users of another database for `gatehouse users import`.
  'store-import': 'src/store/import-source.ts',
  // A folder per driver.
  'store-driver': 'src/store/{sqlite,postgres,redis}/**',
  // What the drivers share (row mapping, change-feed delivery, username keys), below them.
  'store-shared': 'src/store/**',
  // Read once by the entry points and handed down as values.
  settings: 'src/{config,logger,version}.ts',
  errors: 'src/errors.ts',
  // The resource-server kit: a package of its own (gatehouse-auth-kit) that other services import.
  kit: 'packages/kit/src/**',
}

/** The rooms each room may import besides itself: downwards only. */
const MAY_IMPORT = {
  entry: [
    'app',
    'wiring',
    'http',
    'grants',
    'services',
    'security',
    'store-contract',
    'store-open',
    'store-import',
    'settings',
    'errors',
  ],
  app: ['wiring', 'http', 'grants', 'services', 'security', 'store-contract', 'settings', 'errors'],
  wiring: ['grants', 'services', 'security', 'store-contract', 'store-open', 'settings', 'errors'],
  http: ['grants', 'services', 'security', 'store-contract', 'settings', 'errors'],
  grants: ['services', 'security', 'store-contract', 'errors'],
  services: ['security', 'store-contract', 'errors'],
  security: ['errors'],
  'store-contract': ['errors'],
  'store-open': ['store-contract', 'store-driver', 'store-shared', 'errors'],
  'store-driver': ['store-contract', 'store-shared', 'store-migrations', 'errors'],
  'store-shared': ['store-contract', 'store-migrations', 'errors'],
  'store-migrations': ['store-contract', 'store-shared', 'errors'],
  'store-import': ['store-contract', 'store-open', 'store-shared', 'errors'],
  settings: ['errors'],
  errors: [],
  kit: [],
}

/** Libraries that only some files of the server may import; the rest of the server may not. */
const OWNED_LIBRARIES = [
  {
    libraries: ['jose', 'fast-jwt'],
    owners: ['src/security/tokens.ts'],
    message: 'Only src/security/tokens.ts imports a JWT library on the server side.',
  },
  {
    libraries: ['@node-rs/argon2', '@node-rs/bcrypt'],
    owners: ['src/security/passwords.ts'],
    message: 'Only src/security/passwords.ts imports the password hashing libraries.',
  },
  {
    libraries: ['better-sqlite3', 'pg', 'ioredis'],
    owners: [ROOMS['store-driver'], ROOMS['store-import']].flat(),
    // Migrations name the clients' types; they run on the connection their driver hands them.
    typeOwners: [ROOMS['store-migrations']],
    message: 'Only the store drivers import a database client (the migrations: its types only).',
  },
  {
    libraries: ['@opentelemetry/*'],
    owners: ['src/tracing/**'],
    message:
      'Only src/tracing/ imports OpenTelemetry (loaded when an OTLP endpoint is configured).',
  },
  {
    libraries: ['nodemailer'],
    owners: ['src/services/mail/**'],
    message: 'Only the mail service (src/services/mail/) imports the mail transport.',
  },
]

const notKit = { file: { categories: '!kit' } }
const fromRoom = (room) => ({ file: { categories: room } })
const library = (names) => ({ module: { origin: 'external', source: names } })

const layerRule = {
  files: ['src/**/*.ts', 'packages/kit/src/**/*.ts'],
  plugins: { boundaries },
  settings: {
    // Imports name the compiled .js file; the TypeScript resolver finds the .ts source.
    'import/resolver': { typescript: { project: `${import.meta.dirname}/tsconfig.json` } },
    'boundaries/root-path': import.meta.dirname,
    'boundaries/files': Object.entries(ROOMS).map(([category, pattern]) => ({ category, pattern })),
    'boundaries/files-single-match': true,
    // Re-exports and `await import()` are dependencies too.
    'boundaries/dependency-nodes': ['import', 'export', 'dynamic-import'],
  },
  rules: {
    // A file in no room is an error: decide which room it belongs in.
    'boundaries/no-unknown-files': 'error',
    'boundaries/dependencies': [
      'error',
      {
        default: 'disallow',
        checkAllOrigins: true,
        checkUnknownLocals: true,
        message:
          'The room "{{from.file.categories}}" may not import "{{dependency.source}}"' +
          '{{#if to.file.categories}} (room "{{to.file.categories}}"){{/if}}: ' +
          'see the layer rule in docs/development.md.',
        policies: [
          // The server may use Node and its npm dependencies, but for the owned libraries below.
          { from: notKit, allow: { to: { module: { origin: ['core', 'external'] } } } },
          ...OWNED_LIBRARIES.flatMap(({ libraries, owners, typeOwners = [], message }) => [
            { from: notKit, disallow: { to: library(libraries) }, message },
            { from: { file: { path: owners } }, allow: { to: library(libraries) } },
            ...typeOwners.map((path) => ({
              from: { file: { path } },
              allow: { to: library(libraries), dependency: { kind: 'type' } },
            })),
          ]),
          {
            from: fromRoom(['grants', 'services', 'security', 'store-*']),
            disallow: { to: library(['fastify', '@fastify/*']) },
            message: 'Fastify stays out of grants/, services/, security/ and store/.',
          },
          ...Object.entries(MAY_IMPORT).map(([room, below]) => ({
            from: fromRoom(room),
            allow: { to: { file: { categories: [room, ...below] } } },
          })),
          // The Redis throttle is not a Store: compose.ts picks it beside openStore's store when
          // REDIS_URL is set.
          {
            from: { file: { path: 'src/compose.ts' } },
            allow: {
              to: { file: { path: ['src/store/redis/**'] } },
            },
          },
          // gatehouse-auth's subpaths re-export the kit's package (a workspace: its files are local).
          {
            from: { file: { path: 'src/kit/**' } },
            allow: { to: { file: { path: 'packages/kit/dist/**' } } },
          },
          // The kit carries the verify core on jose and the framework adapters' types, nothing else.
          {
            from: fromRoom('kit'),
            allow: [
              { to: library(['jose', 'eventsource-parser']) },
              { to: library(['express', 'fastify', 'hono']), dependency: { kind: 'type' } },
            ],
          },
        ],
      },
    ],
  },
}

export default tseslint.config(
  { ignores: ['dist/', 'packages/*/dist/', 'node_modules/', 'coverage/', 'test-results/'] },
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
  layerRule,
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
