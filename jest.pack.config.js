// The pack test (test/pack): the packed tarball installed into an empty project, as users get it.
// `npm test` does not run it; CI does (`npm run test:pack`).
import base from './jest.config.js';

const { globalSetup: _setup, globalTeardown: _teardown, ...rest } = base;

/** @type {import('jest').Config} */
export default {
  ...rest,
  testMatch: ['<rootDir>/test/pack/**/*.test.ts'],
  maxWorkers: 1,
  testTimeout: 180000,
};
