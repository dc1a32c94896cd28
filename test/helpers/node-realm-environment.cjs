/**
 * A Jest test environment for native addons that create typed arrays (onnxruntime-node).
 *
 * Jest runs each test file in its own `vm` context, whose Float32Array, Uint8Array, ... differ
 * from the main realm's. onnxruntime-node's binding creates output arrays in the main realm, and
 * onnxruntime-common then checks `data instanceof Float32Array` against the test realm's
 * constructor and fails ("A float32 tensor's data must be type of function Float32Array()";
 * jestjs/jest#2549). Plain Node has one realm, so sharing the main realm's binary-data
 * constructors with the test context makes tests behave like production code. jest.config.js
 * makes it the environment of every test file.
 */
const { TestEnvironment } = require('jest-environment-node');

const SHARED = [
  'ArrayBuffer',
  'SharedArrayBuffer',
  'DataView',
  'Int8Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
];

class NodeRealmEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = NodeRealmEnvironment;
