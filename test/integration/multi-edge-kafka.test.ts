/**
 * Kafka (src/datasources/kafka.ts) against librdkafka's mock cluster (kcat): record frames through
 * Sedna's topics, a message that is not ours, and a network outage in the middle of a stream
 * (sockets cut under kafkajs): nothing acknowledged is lost, nothing unacknowledged is dropped.
 */
import net from 'node:net';
import { KafkaConsumer, KafkaProducer, KAFKA_TOPICS, kafkaBrokers } from '../../src/datasources/kafka.js';
import { decodeResults, encodeResults } from '../../src/datasources/multi-edge/codec.js';
import { DetTrackResult } from '../../src/datasources/multi-edge/records.js';
import { errorOf } from '../helpers/errors.js';
import { startKafkaMock } from '../../scripts/kafka-mock.mjs';
import type { KafkaMock } from '../../scripts/kafka-mock.d.mts';

let mock: KafkaMock;
beforeAll(async () => {
  mock = await (startKafkaMock as (o: { brokers: number }) => Promise<KafkaMock>)({ brokers: 3 });
}, 30_000);
afterAll(async () => {
  await mock.stop();
});

/** Waits until `check()` holds (polling; bounded). */
async function until(check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A socket factory whose network can be cut: open sockets die, new ones are refused. */
function cuttableNetwork(): {
  factory: (a: { host: string; port: number; onConnect: () => void }) => net.Socket;
  cut(): void;
  restore(): void;
} {
  const open = new Set<net.Socket>();
  let down = false;
  return {
    factory: ({ host, port, onConnect }) => {
      if (down) {
        const dead = new net.Socket();
        setImmediate(() =>
          dead.destroy(Object.assign(new Error(`connect ECONNREFUSED ${host}:${port}`), { code: 'ECONNREFUSED' })),
        );
        return dead;
      }
      const socket = net.connect({ host, port }, onConnect);
      open.add(socket);
      socket.once('close', () => open.delete(socket));
      return socket;
    },
    cut() {
      down = true;
      for (const s of open) s.destroy(Object.assign(new Error('network cut'), { code: 'ECONNRESET' }));
    },
    restore() {
      down = false;
    },
  };
}

describe('Kafka on the mock cluster', () => {
  it('zips Sedna’s broker lists, and rejects lists that do not pair up', () => {
    expect(kafkaBrokers(['10.0.0.1', 'kafka-service'], [9092, 9093])).toEqual(['10.0.0.1:9092', 'kafka-service:9093']);
    expect(errorOf(() => kafkaBrokers(['a', 'b'], [9092])).code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
    expect(errorOf(() => kafkaBrokers([], [])).code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
  });

  it('carries record frames through object_detection; a foreign message is counted and skipped', async () => {
    const topic = `${KAFKA_TOPICS.OBJECT_DETECTION}-t1`;
    const received: DetTrackResult[][] = [];
    const consumer = await KafkaConsumer.create({
      brokers: mock.brokers,
      topics: [topic],
      groupId: 'fe-t1',
      onMessage: (value) => {
        received.push(decodeResults(value)); // throws SEDNA_ERR_RECORD_FORMAT for foreign bytes
      },
    });
    const producer = await KafkaProducer.create({ brokers: mock.brokers });
    try {
      await producer.send(topic, Buffer.from('a pickle, or anything that is not ours'));
      for (let i = 0; i < 20; i++)
        await producer.send(
          topic,
          encodeResults([new DetTrackResult({ frameIndex: i, camera: 1, features: [Float32Array.of(i, 1)] })]),
          'camera-1',
        );
      await until(() => received.length === 20);
      // One key (the camera): one partition, so the frames arrive in order.
      expect(received.map((r) => r[0]!.frameIndex)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect(Array.from(received[7]![0]!.features[0]!)).toEqual([7, 1]);
      await until(() => consumer.stats.rejected === 1);
      expect(consumer.stats).toEqual({ received: 21, rejected: 1 });
      expect(producer.stats).toMatchObject({ sent: 21, pending: 0 });
    } finally {
      await producer.close();
      await consumer.close();
    }
  }, 60_000);

  it('a broker outage mid-stream loses nothing: sends wait, then deliver once the network is back', async () => {
    const topic = `${KAFKA_TOPICS.ENRICHED_OBJECT}-t2`;
    const seen = new Set<number>();
    const consumer = await KafkaConsumer.create({
      brokers: mock.brokers,
      topics: [topic],
      groupId: 'detector-t2',
      onMessage: (value) => {
        for (const r of decodeResults(value)) seen.add(r.frameIndex);
      },
    });
    const network = cuttableNetwork();
    const producer = await KafkaProducer.create({
      brokers: mock.brokers,
      socketFactory: network.factory,
      requestTimeoutMs: 2_000,
    });
    try {
      const acked: number[] = [];
      const send = (i: number): Promise<void> =>
        producer.send(topic, encodeResults([new DetTrackResult({ frameIndex: i })])).then(() => {
          acked.push(i);
        });
      for (let i = 0; i < 10; i++) await send(i);
      network.cut();
      const during = Array.from({ length: 10 }, (_, k) => send(10 + k));
      // Nothing sent during the outage is acknowledged, and nothing is dropped: it waits.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(acked).toHaveLength(10);
      expect(producer.stats.pending).toBe(10);
      expect(producer.stats.retries).toBeGreaterThanOrEqual(1);
      network.restore();
      await Promise.all(during);
      expect(acked.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      await until(() => seen.size === 20);
    } finally {
      await producer.close();
      await consumer.close();
    }
  }, 60_000);

  it('a producer refuses a message over its size limit, and brokers that do not answer are SEDNA_ERR_KAFKA', async () => {
    const producer = await KafkaProducer.create({ brokers: mock.brokers, maxMessageBytes: 100 });
    await expect(producer.send('t3', new Uint8Array(101))).rejects.toMatchObject({
      code: 'SEDNA_ERR_PAYLOAD_TOO_LARGE',
    });
    await producer.close();
    const closedPort = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as net.AddressInfo;
        s.close(() => resolve(port));
      });
    });
    await expect(
      KafkaProducer.create({ brokers: [`127.0.0.1:${closedPort}`], connectionTimeoutMs: 300 }),
    ).rejects.toMatchObject({
      code: 'SEDNA_ERR_KAFKA',
    });
  }, 60_000);
});
