/**
 * A raw WebSocket peer for protocol tests: sends exactly the frames it is given and records every
 * frame it receives (text parsed as JSON, binary decoded as a weights frame), with waits on
 * events instead of sleeps.
 */
import { EventEmitter } from 'node:events';
import { WebSocket, type ClientOptions } from 'ws';
import {
  decodeWeightsFrame,
  encodeWeightsFrame,
  type FrameMeta,
  type WeightRecord,
} from '../../src/backend/weights.js';

export interface Received {
  readonly text: string | undefined;
  readonly json: Record<string, unknown>;
  readonly weights: WeightRecord[] | undefined;
}

export class RawClient extends EventEmitter {
  readonly frames: Received[] = [];
  closeCode: number | undefined;
  closeReason = '';
  readonly closed: Promise<{ code: number; reason: string }>;
  private constructor(readonly socket: WebSocket) {
    super();
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        const { meta, weights } = decodeWeightsFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        this.frames.push({ text: undefined, json: { ...meta }, weights });
      } else {
        const text = data.toString('utf8');
        this.frames.push({ text, json: JSON.parse(text) as Record<string, unknown>, weights: undefined });
      }
      this.emit('frame');
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        resolve({ code, reason: this.closeReason });
      });
    });
    socket.on('error', () => undefined);
  }

  static connect(url: string, options: ClientOptions = {}): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { perMessageDeflate: false, ...options });
      const client = new RawClient(socket);
      socket.once('open', () => resolve(client));
      socket.once('error', reject);
    });
  }

  sendText(text: string): void {
    this.socket.send(text);
  }

  sendJson(value: unknown): void {
    this.socket.send(JSON.stringify(value));
  }

  sendBinary(meta: FrameMeta, weights: readonly WeightRecord[]): void {
    this.socket.send(encodeWeightsFrame(weights, meta), { binary: true });
  }

  /** Subscribes and waits for the reply (the echo, or the error frame). */
  async subscribe(clientId: string, extra: Record<string, unknown> = {}): Promise<Received> {
    const from = this.frames.length;
    this.sendJson({ type: 'subscribe', client_id: clientId, ...extra });
    return this.waitFor(
      (f) => (f.json.type === 'subscribe' && f.json.client_id === clientId) || f.json.type === 'error',
      from,
    );
  }

  /** The first frame (from index `from`) matching `predicate`, waiting for it if needed. */
  waitFor(predicate: (frame: Received) => boolean, from = 0, timeoutMs = 10_000): Promise<Received> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = this.frames.slice(from).find(predicate);
        if (found === undefined) return false;
        this.off('frame', check);
        clearTimeout(timer);
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        this.off('frame', check);
        reject(
          new Error(
            `no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames.map((f) => f.json.type))}`,
          ),
        );
      }, timeoutMs);
      if (!check()) this.on('frame', check);
    });
  }

  /** Waits until `count` frames have arrived. */
  async waitCount(count: number): Promise<void> {
    while (this.frames.length < count) await new Promise((resolve) => this.once('frame', resolve));
  }

  ofType(type: string): Received[] {
    return this.frames.filter((f) => f.json.type === type);
  }

  close(): Promise<{ code: number; reason: string }> {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING)
      this.socket.close();
    return this.closed;
  }

  kill(): Promise<{ code: number; reason: string }> {
    this.socket.terminate();
    return this.closed;
  }
}

export const f32 = (name: string, shape: number[], values: number[]): WeightRecord => ({
  name,
  dtype: 'float32',
  shape,
  data: Float32Array.from(values),
});
