/**
 * The real S3 server for tests: OpenStack Swift + s3api, started once per Jest run by
 * test/global-setup.mjs and passed to test workers through process.env (SEDNA_TEST_S3_*).
 * Benchmarks start their own with {@link startS3Server}.
 */
import { randomBytes } from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import { FileOps, type FileOpsOptions } from '../../src/datasources/file-ops.js';
import type { S3Options } from '../../src/datasources/s3.js';

export { startS3Server, type S3Server, type S3ServerInfo } from '../../scripts/s3-server-launch.mjs';

export interface S3TestSettings {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** A bucket globalSetup created; tests use unique key prefixes inside it. */
  bucket: string;
}

/** The server globalSetup started; throws (never skips) when there is none. */
export function s3TestSettings(): S3TestSettings {
  const endpoint = process.env.SEDNA_TEST_S3_ENDPOINT;
  if (endpoint === undefined || endpoint === '') {
    throw new Error(
      "no S3 test server: SEDNA_TEST_S3_ENDPOINT is unset. Jest's globalSetup (test/global-setup.mjs) starts one " +
        'unless only test/unit/ paths were selected; run this test through jest.config.js.',
    );
  }
  return {
    endpoint,
    accessKeyId: process.env.SEDNA_TEST_S3_ACCESS_KEY_ID ?? '',
    secretAccessKey: process.env.SEDNA_TEST_S3_SECRET_ACCESS_KEY ?? '',
    region: process.env.SEDNA_TEST_S3_REGION ?? 'us-east-1',
    bucket: process.env.SEDNA_TEST_S3_BUCKET ?? 'sedna-test',
  };
}

/** The S3 options that reach the test server, plus overrides. */
export function s3TestOptions(overrides: S3Options = {}): S3Options {
  const s = s3TestSettings();
  return {
    endpoint: s.endpoint,
    accessKeyId: s.accessKeyId,
    secretAccessKey: s.secretAccessKey,
    region: s.region,
    ...overrides,
  };
}

/** The AWS SDK's own client on the test server, to check what our code wrote. */
export function s3TestSdk(): S3Client {
  const s = s3TestSettings();
  return new S3Client({
    endpoint: s.endpoint,
    region: s.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** FileOps pointed at the test server. */
export function s3FileOps(s3: S3Options = {}, options: FileOpsOptions = {}): FileOps {
  return new FileOps({ ...options, s3: s3TestOptions(s3) });
}

/** A key prefix no other test (or earlier run) uses. */
export function uniquePrefix(label: string): string {
  return `${label}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}
