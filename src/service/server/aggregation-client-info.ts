/**
 * What the aggregation server tells about its clients (`GET /{aggregation}` and the stall
 * diagnostic). Apart from aggregation-sessions.ts so that the public declarations do not import
 * `ws`'s types, which a user's TypeScript project need not have installed.
 */
import type { WireEncoding } from '../aggregation-protocol.js';

/** A client as `GET /{aggregation}` shows it (Sedna's `{client_id, connected_at, info}`). */
export interface AggregationClientInfo {
  readonly client_id: string;
  /** Unix time in seconds, as Sedna's `time.time()`. */
  readonly connected_at: number;
  readonly info: {
    readonly encoding: WireEncoding;
    readonly connected: boolean;
    readonly rounds_contributed: number;
  };
}

/** One client as the server last saw it, for the diagnostic of a stalled round. */
export interface ClientTrace {
  readonly client: string;
  /** `gone`: dropped, or not back within `reconnectGraceMs`. */
  readonly state: 'connected' | 'disconnected' | 'gone';
  /** Since when it has been in that state. */
  readonly forMs: number;
  /** Whether the round in progress holds its update. */
  readonly contributed: boolean;
  /** The type of the last frame it sent, and how long ago. */
  readonly lastMessage: string | undefined;
  readonly lastMessageAgoMs: number | undefined;
}
