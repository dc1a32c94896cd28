// The robustness suite (test/robustness): fuzzing every server and injecting faults, plus the
// archive attacks. `npm run test:robustness`; SEDNA_FUZZ_INPUTS=100000 for a longer run.
import base from './jest.config.js';

const { globalSetup: _setup, globalTeardown: _teardown, ...rest } = base;

/** @type {import('jest').Config} */
export default {
  ...rest,
  testMatch: ['<rootDir>/test/robustness/**/*.test.ts', '<rootDir>/test/integration/archive-attacks.test.ts'],
  // One suite at a time: each starts servers in child processes and measures their memory.
  maxWorkers: 1,
  testTimeout: 600_000,
};
