/**
 * Who is connected to the aggregation server: WebSocket connections, the client sessions they
 * carry (a session outlives its connection for `reconnectGraceMs`, so a client that reconnects
 * with the same id finds its place), and a trace of every client seen, for the diagnostic of a
 * stalled round. No frames and no rounds here: the server decides what to send and when.
 */
import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import { SednaError } from '../../common/errors.js';
import { tokensMatch } from '../../common/shared-token.js';
import type { WireEncoding } from '../aggregation-protocol.js';
import type { AggregationClientInfo, ClientTrace } from './aggregation-client-info.js';

export interface Session {
  readonly id: string;
  connection: Connection | undefined;
  encoding: WireEncoding;
  /** A binary client whose last update had float64 tensors: it gets the aggregate in float64. */
  float64?: boolean;
  /** Asked for more than Sedna's protocol (gets the `server` hello, binary frames, round_config). */
  negotiated: boolean;
  /** Weights travel through S3 (both sides have an S3Transmitter); control frames stay here. */
  viaS3: boolean;
  connectedAt: number;
  roundsContributed: number;
  deliveredRound: number;
  graceTimer: NodeJS.Timeout | undefined;
  /**
   * The `session_secret` of the subscribe that opened the session (sedna-sdk clients choose one):
   * a reconnect claiming the id must send the same. Sedna's Python client sends none.
   */
  readonly secret: string | undefined;
}

export interface Connection {
  readonly socket: WebSocket;
  session: Session | undefined;
  lastSeen: number;
  dropped: boolean;
  subscribeTimer: NodeJS.Timeout | undefined;
}

export type { AggregationClientInfo, ClientTrace } from './aggregation-client-info.js';

/** Clients remembered for diagnostics after they are gone (bounded: ids come from peers). */
const MAX_TRACED_CLIENTS = 256;

interface Trace {
  state: ClientTrace['state'];
  since: number;
  lastMessage: string | undefined;
  lastMessageAt: number | undefined;
}

export class Sessions {
  /** Every open WebSocket, subscribed or not yet. */
  readonly connections = new Set<Connection>();
  private readonly byId = new Map<string, Session>();
  /** Every client seen (ids in order of their last change). */
  private readonly traces = new Map<string, Trace>();

  get(id: string): Session | undefined {
    return this.byId.get(id);
  }

  values(): IterableIterator<Session> {
    return this.byId.values();
  }

  /** Ids of the clients connected now. */
  connectedIds(): string[] {
    return [...this.byId.values()].filter((s) => s.connection !== undefined).map((s) => s.id);
  }

  /** Whether a subscribed client is connected and not being dropped. */
  anyConnected(): boolean {
    return [...this.connections].some((c) => c.session !== undefined && !c.dropped);
  }

  open(socket: WebSocket): Connection {
    const connection: Connection = {
      socket,
      session: undefined,
      lastSeen: Date.now(),
      dropped: false,
      subscribeTimer: undefined,
    };
    this.connections.add(connection);
    return connection;
  }

  closed(connection: Connection): void {
    this.connections.delete(connection);
    if (connection.subscribeTimer !== undefined) clearTimeout(connection.subscribeTimer);
  }

  /**
   * The id a subscribe asks for (Sedna: an empty one gets a random id), and the place it takes: a
   * kept one of that id, or none yet. Throws SEDNA_ERR_DUPLICATE_CLIENT while that id is connected.
   */
  claim(requested: string | undefined, secret?: unknown): { id: string; existing: Session | undefined } {
    const id = requested !== undefined && requested !== '' ? requested : randomUUID().replace(/-/g, '');
    const existing = this.byId.get(id);
    if (existing?.connection !== undefined) {
      throw new SednaError('SEDNA_ERR_DUPLICATE_CLIENT', `client id ${JSON.stringify(id)} is already connected`, {
        details: { client: id },
      });
    }
    // A kept place goes back only to the client that holds its secret (sedna-sdk clients; Sedna's
    // Python client sends none, and reconnects as before).
    if (existing?.secret !== undefined && !tokensMatch(existing.secret, secret)) {
      throw new SednaError(
        'SEDNA_ERR_DUPLICATE_CLIENT',
        `client id ${JSON.stringify(id)} is held for its client's reconnect (no matching session_secret)`,
        { details: { client: id } },
      );
    }
    return { id, existing };
  }

  /** Puts `connection` in the place `claim()` found (or a new one). */
  join(
    connection: Connection,
    claimed: { id: string; existing: Session | undefined },
    wire: { encoding: WireEncoding; negotiated: boolean; viaS3: boolean; deliveredRound: number; secret: unknown },
  ): Session {
    if (connection.subscribeTimer !== undefined) clearTimeout(connection.subscribeTimer);
    const { id, existing } = claimed;
    const session: Session = existing ?? {
      id,
      connection: undefined,
      encoding: wire.encoding,
      negotiated: wire.negotiated,
      viaS3: wire.viaS3,
      connectedAt: Date.now(),
      roundsContributed: 0,
      deliveredRound: wire.deliveredRound,
      graceTimer: undefined,
      secret:
        typeof wire.secret === 'string' && wire.secret !== '' && wire.secret.length <= 256 ? wire.secret : undefined,
    };
    if (existing?.graceTimer !== undefined) clearTimeout(existing.graceTimer);
    session.graceTimer = undefined;
    session.connection = connection;
    session.encoding = wire.encoding;
    session.negotiated = wire.negotiated;
    session.viaS3 = wire.viaS3;
    connection.session = session;
    this.byId.set(id, session);
    this.trace(id, 'connected', 'subscribe');
    return session;
  }

  /** The client's connection is gone: its place is kept for `graceMs`, then `expired` runs. */
  keep(session: Session, graceMs: number, expired: () => void): void {
    session.connection = undefined;
    this.trace(session.id, 'disconnected');
    session.graceTimer = setTimeout(expired, graceMs);
    session.graceTimer.unref();
  }

  /** Forgets a session (if it is still the one of its id); true when it was. */
  forget(session: Session): boolean {
    if (session.graceTimer !== undefined) clearTimeout(session.graceTimer);
    if (this.byId.get(session.id) !== session) return false;
    this.byId.delete(session.id);
    this.trace(session.id, 'gone');
    return true;
  }

  /** Stops every timer (the server is closing). */
  stop(): void {
    for (const session of this.byId.values()) if (session.graceTimer !== undefined) clearTimeout(session.graceTimer);
  }

  info(id: string): AggregationClientInfo | undefined {
    const session = this.byId.get(id);
    if (session === undefined) return undefined;
    return {
      client_id: session.id,
      connected_at: session.connectedAt / 1000,
      info: {
        encoding: session.encoding,
        connected: session.connection !== undefined,
        rounds_contributed: session.roundsContributed,
      },
    };
  }

  /** Notes the type of a frame `client` sent. */
  traceMessage(client: string, type: string): void {
    const trace = this.traces.get(client);
    if (trace === undefined) return;
    trace.lastMessage = type;
    trace.lastMessageAt = Date.now();
  }

  /** Every client seen, as a diagnostic shows it, and the last frame any of them sent. */
  clientTraces(contributed: (client: string) => boolean): {
    clients: ClientTrace[];
    lastMessage: { client: string; type: string; agoMs: number } | undefined;
  } {
    const now = Date.now();
    let last: { client: string; type: string; agoMs: number } | undefined;
    const clients = [...this.traces].map(([client, t]): ClientTrace => {
      if (t.lastMessage !== undefined && t.lastMessageAt !== undefined) {
        const agoMs = now - t.lastMessageAt;
        if (last === undefined || agoMs < last.agoMs) last = { client, type: t.lastMessage, agoMs };
      }
      return {
        client,
        state: t.state,
        forMs: now - t.since,
        contributed: contributed(client),
        lastMessage: t.lastMessage,
        lastMessageAgoMs: t.lastMessageAt === undefined ? undefined : now - t.lastMessageAt,
      };
    });
    return { clients, lastMessage: last };
  }

  private trace(client: string, state: Trace['state'], message?: string): void {
    const now = Date.now();
    const trace = this.traces.get(client);
    this.traces.delete(client); // re-inserted last: the map stays in order of change
    this.traces.set(client, {
      state,
      since: trace?.state === state ? trace.since : now,
      lastMessage: message ?? trace?.lastMessage,
      lastMessageAt: message === undefined ? trace?.lastMessageAt : now,
    });
    if (this.traces.size > MAX_TRACED_CLIENTS) {
      const oldest = this.traces.keys().next().value;
      if (oldest !== undefined) this.traces.delete(oldest);
    }
  }
}
