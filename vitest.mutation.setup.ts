// Only for mutation runs (vitest.mutation.config.ts): one fixed seed for every fast-check
// property, so each mutant meets the same inputs every run.
import fc from 'fast-check';

fc.configureGlobal({ seed: 20261201 });
