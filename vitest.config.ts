import { defineConfig } from 'vitest/config'

// Two projects: the suite, then the isolated tests one file at a time, alone: timing measurements
// that other tests' hashing would blur, and scale-out tests that run several servers and stop and
// start a PostgreSQL server of their own. `npm test` runs them one after the other. Before either,
// the global setup rebuilds dist/ when src/ is newer, for the tests that spawn bin/gatehouse.js.
export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'suite',
          include: ['test/**/*.test.ts'],
          exclude: ['test/timing/**', 'test/isolated/**'],
        },
      },
      {
        extends: true,
        test: {
          name: 'isolated',
          include: ['test/timing/**/*.test.ts', 'test/isolated/**/*.test.ts'],
          fileParallelism: false,
        },
      },
    ],
  },
})
