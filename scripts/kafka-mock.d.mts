export interface KafkaMock {
  /** The mock brokers' `host:port` addresses. */
  brokers: string[];
  pid: number;
  /** Stops kcat, and with it the mock cluster. */
  stop(): Promise<void>;
}

export const KAFKA_INSTALL_HINT: string;

export function startKafkaMock(options?: { brokers?: number; timeoutMs?: number }): Promise<KafkaMock>;
