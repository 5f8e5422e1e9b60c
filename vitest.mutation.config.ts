/**
 * The tests StrykerJS runs against each mutant (stryker.config.json, `npm run test:mutation`):
 * the protocol core's own tests, a few seconds in all. Not the simulator and its 1000-seed
 * sweep: those take minutes per mutant. fast-check is seeded so that a mutant is killed or
 * survives the same way on every run.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/protocol/**/*.test.ts'],
    environment: 'node',
    setupFiles: ['./vitest.mutation.setup.ts'],
    testTimeout: 30_000,
  },
});
