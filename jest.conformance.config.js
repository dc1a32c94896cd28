// The conformance suite (test/conformance): our workers against Sedna's real LocalController,
// which needs ../shared beside the repository. `npm test` does not run it; CI does, after it.
import base from './jest.config.js';

const { globalSetup: _setup, globalTeardown: _teardown, ...rest } = base;

/** @type {import('jest').Config} */
export default {
  ...rest,
  // Sedna's real LocalController links against libsqlite3: installed first when missing.
  globalSetup: '<rootDir>/test/conformance-setup.mjs',
  testMatch: ['<rootDir>/test/conformance/**/*.test.ts'],
  testTimeout: 120000,
};
