import { defineConfig } from 'vitest/config'

// Two projects: the suite, then the isolated tests one file at a time, alone: timing measurements
// that other tests' hashing would blur, and scale-out tests that stop and start PostgreSQL.
// `npm test` runs them one after the other.
export default defineConfig({
  test: {
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
