/**
 * A TCP relay on 127.0.0.1 between a client and a server, each connection (a link) under the
 * test's control: cut it, close one side only (the server then still sees the client), or hold
 * back what the server sends after the HTTP response head (a WebSocket reply that arrives late).
 * Links are announced on `link` as they are accepted, before any byte is relayed.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';

const HEAD_END = Buffer.from('\r\n\r\n');

export class RelayLink {
  /** Resolves when the client's side closed / when the server's side closed. */
  readonly clientClosed: Promise<void>;
  readonly serverClosed: Promise<void>;
  /** When the client's side closes, leave the server's side open (as a connection the server has not seen die). */
  keepServerSide = false;
  private holding = false;
  private headSeen = Buffer.alloc(0);
  private headDone = false;
  private readonly held: Buffer[] = [];

  constructor(
    readonly index: number,
    private readonly inbound: net.Socket,
    private readonly outbound: net.Socket,
  ) {
    this.clientClosed = new Promise((resolve) => inbound.once('close', () => resolve()));
    this.serverClosed = new Promise((resolve) => outbound.once('close', () => resolve()));
    inbound.pipe(outbound);
    outbound.on('data', (chunk: Buffer) => {
      this.downstream(chunk);
    });
    inbound
      .on('error', () => undefined)
      .on('close', () => {
        if (!this.keepServerSide) outbound.destroy();
      });
    outbound.on('error', () => undefined).on('close', () => inbound.destroy());
  }

  /** Passes the server's HTTP response head, then holds everything after it (never delivered). */
  holdAfterHead(): void {
    this.holding = true;
  }

  /** Closes the client's side only (the server keeps its side when `keepServerSide`). */
  closeClientSide(): void {
    this.inbound.destroy();
  }

  closeServerSide(): void {
    this.outbound.destroy();
  }

  cut(): void {
    this.inbound.destroy();
    this.outbound.destroy();
  }

  private downstream(chunk: Buffer): void {
    if (!this.holding || this.headDone) {
      if (this.holding) this.held.push(chunk);
      else this.inbound.write(chunk);
      return;
    }
    // Still in the head: pass it up to the blank line, hold the rest.
    const before = this.headSeen.length;
    this.headSeen = Buffer.concat([this.headSeen, chunk]);
    const end = this.headSeen.indexOf(HEAD_END);
    if (end < 0) {
      this.inbound.write(chunk);
      return;
    }
    const split = end + HEAD_END.length - before;
    this.inbound.write(chunk.subarray(0, split));
    this.headDone = true;
    if (split < chunk.length) this.held.push(chunk.subarray(split));
  }
}

export class TcpRelay extends EventEmitter<{ link: [link: RelayLink] }> {
  readonly links: RelayLink[] = [];
  private readonly server: net.Server;

  private constructor(targetPort: number) {
    super();
    this.server = net.createServer((inbound) => {
      const link = new RelayLink(this.links.length, inbound, net.connect(targetPort, '127.0.0.1'));
      this.links.push(link);
      this.emit('link', link);
    });
  }

  static async start(targetPort: number): Promise<TcpRelay> {
    const relay = new TcpRelay(targetPort);
    await new Promise<void>((resolve) => relay.server.listen(0, '127.0.0.1', resolve));
    return relay;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** Cuts every link open now. */
  cut(): void {
    for (const link of this.links) link.cut();
  }

  close(): Promise<void> {
    this.cut();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
