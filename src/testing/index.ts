/**
 * `sedna-sdk/testing`: tools for testing Sedna workers without a cluster.
 */
export {
  LCEmulator,
  decodeMessageContent,
  forwardOf,
  type LCEmulatorOptions,
  type RecordedReport,
  type ForwardedMessage,
} from './lc-emulator.js';
