/**
 * What the aggregation server tells the outside about its rounds, behind one small interface it
 * calls (so its own code stays about aggregation): Prometheus families when metrics are on
 * (rounds, round duration, updates, bytes in and out, connected clients) and a progress line per
 * round (`aggregation 3/5 rounds`, which `sedna run` draws as a bar).
 */
import type { RawData } from 'ws';
import type { Logger } from '../../common/logger.js';
import { logProgress } from '../../common/progress.js';
import type { ServerMetrics } from './metrics.js';

export interface AggregationObserver {
  /** A WebSocket message from a client. */
  received(data: RawData): void;
  /** Bytes of an aggregate sent to one client. */
  sent(frame: string | readonly Uint8Array[]): void;
  round(event: { round: number; roundTimeMs: number; updatesReceived: number; totalSamples: number }): void;
}

function sizeOf(data: RawData | string | readonly Uint8Array[]): number {
  if (typeof data === 'string') return Buffer.byteLength(data);
  if (Array.isArray(data)) return (data as readonly Uint8Array[]).reduce((n, chunk) => n + chunk.byteLength, 0);
  return (data as ArrayBuffer | Buffer).byteLength;
}

export function aggregationObserver(
  metrics: ServerMetrics | undefined,
  settings: { exitRound: number; clients: () => number; log: () => Logger },
): AggregationObserver {
  const progress = (round: number): void => {
    logProgress(settings.log(), { task: 'aggregation', done: round, total: settings.exitRound, unit: 'rounds' });
  };
  if (metrics === undefined)
    return {
      received: () => {},
      sent: () => {},
      round: (event) => {
        progress(event.round);
      },
    };
  const rounds = metrics.counter('sedna_fl_rounds_total', 'Federated rounds aggregated');
  const updates = metrics.counter('sedna_fl_updates_total', 'Client updates aggregated');
  const bytesIn = metrics.counter('sedna_fl_received_bytes_total', 'Bytes of WebSocket messages from clients');
  const bytesOut = metrics.counter('sedna_fl_sent_bytes_total', 'Bytes of aggregates sent to clients');
  const duration = metrics.histogram(
    'sedna_fl_round_duration_seconds',
    'From the first update of a round to its aggregate',
    [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
  );
  metrics.gauge('sedna_fl_clients', 'Clients connected', settings.clients);
  const server = metrics.server;
  return {
    received: (data) => {
      bytesIn.labels(server).inc(sizeOf(data));
    },
    sent: (frame) => {
      bytesOut.labels(server).inc(sizeOf(frame));
    },
    round: (event) => {
      rounds.labels(server).inc();
      updates.labels(server).inc(event.updatesReceived);
      duration.labels(server).observe(event.roundTimeMs / 1000);
      progress(event.round);
    },
  };
}
