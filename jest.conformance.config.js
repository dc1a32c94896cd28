// The conformance suite (test/conformance): our workers against Sedna's real LocalController,
// which needs ../shared beside the repository. `npm test` does not run it; CI does, after it.
import base from './jest.config.js';

const { globalSetup: _setup, globalTeardown: _teardown, ...rest } = base;

/** @type {import('jest').Config} */
export default {
  ...rest,
  testMatch: ['<rootDir>/test/conformance/**/*.test.ts'],
  testTimeout: 120000,
};
