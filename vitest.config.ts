import { defineConfig } from 'vitest/config'

// Two projects: the suite, then timing-sensitive tests run alone so that other tests' hashing
// cannot blur their measurements (`npm test` runs them one after the other).
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      { extends: true, test: { name: 'suite', include: ['test/**/*.test.ts'], exclude: ['test/timing/**'] } },
      { extends: true, test: { name: 'timing', include: ['test/timing/**/*.test.ts'], fileParallelism: false } },
    ],
  },
})
