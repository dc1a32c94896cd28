// Jest runs our TypeScript through SWC (type checking is `npm run typecheck`), as native ESM.
/** @type {import('jest').Config} */
export default {
  // Node's environment, sharing the main realm's typed-array constructors with test files so
  // native addons (onnxruntime-node) behave as in production; see the file for why.
  testEnvironment: '<rootDir>/test/helpers/node-realm-environment.cjs',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          target: 'es2022',
          transform: { decoratorVersion: '2022-03' },
        },
        module: { type: 'es6' },
        sourceMaps: 'inline',
      },
    ],
  },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testMatch: ['<rootDir>/test/unit/**/*.test.ts', '<rootDir>/test/integration/**/*.test.ts'],
  setupFiles: ['<rootDir>/test/setup-env.ts'],
  // Starts the real S3 server (Swift) once per run; see test/global-setup.mjs.
  globalSetup: '<rootDir>/test/global-setup.mjs',
  globalTeardown: '<rootDir>/test/global-teardown.mjs',
  maxWorkers: 2,
  testTimeout: 30000,
};
