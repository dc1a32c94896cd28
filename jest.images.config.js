// The container image suite (test/images): every Dockerfile built unchanged with buildah from the
// packed package, its worker started with podman, and the examples' workers run together on a
// podman network as Sedna's controller would deploy them. Needs ../shared (the OCI tool) and root
// (rootful podman). `npm test` does not run it; CI does, as `npm run test:images`.
import base from './jest.config.js';

const { globalSetup: _setup, globalTeardown: _teardown, ...rest } = base;

/** @type {import('jest').Config} */
export default {
  ...rest,
  testMatch: ['<rootDir>/test/images/**/*.test.ts'],
  // Builds every image once per run (test/images/global-setup.mjs); the teardown prints the table
  // of sizes, layers and start times and removes what a failed test left running.
  globalSetup: '<rootDir>/test/images/global-setup.mjs',
  globalTeardown: '<rootDir>/test/images/global-teardown.mjs',
  // Containers share 2 cores; one test file at a time keeps start times meaningful.
  maxWorkers: 1,
  testTimeout: 180000,
};
