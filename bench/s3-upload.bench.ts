/**
 * FileOps.upload to S3 (multipart, against the real Swift s3api server) vs a local fs.copyFile
 * of the same bytes, and the download back.
 *
 *   npx tsx bench/s3-upload.bench.ts [sizeMB]      (default 200)
 *
 * Starts its own Swift (scripts/s3-server.mjs), writes a file of pseudo-random bytes, copies it
 * with fs.copyFile (the baseline: the same bytes moved by the kernel, no network, no hashing), then
 * uploads it with FileOps (multipart: 64 MiB threshold, 16 MiB parts, 4 in flight; defaults) and
 * downloads it again, checking the content. Prints MB/s of each and the ratios. Not pass/fail:
 * Swift's single-process Python proxy and object server are the likely ceiling.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { FileOps } from '../src/datasources/file-ops.js';
import { startS3Server } from '../scripts/s3-server-launch.mjs';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.env.LOG_LEVEL ??= 'silent';

const MB = 1e6;

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function timed<T>(fn: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const started = performance.now();
  const value = await fn();
  return { seconds: (performance.now() - started) / 1000, value };
}

async function main(): Promise<void> {
  const sizeMb = Number(process.argv[2] ?? 200);
  const bytes = Math.round(sizeMb * MB);
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'sedna-s3-bench-'));
  const server = await startS3Server({ buckets: ['bench'] });
  console.log(`Swift s3api at ${server.endpoint} (started in ${server.startupMs} ms)`);
  const ops = new FileOps({
    s3: { endpoint: server.endpoint, accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
  });
  try {
    const src = path.join(dir, 'model.bin');
    const out = fs.createWriteStream(src);
    for (let left = bytes; left > 0; left -= 4 * 2 ** 20) out.write(randomBytes(Math.min(left, 4 * 2 ** 20)));
    await new Promise<void>((resolve) => out.end(resolve));
    const digest = await sha256(src); // also warms the page cache for both contenders

    const copies: number[] = [];
    const uploads: number[] = [];
    for (let run = 1; run <= 2; run++) {
      const copy = await timed(() => fsp.copyFile(src, path.join(dir, `copy-${run}.bin`)));
      copies.push(copy.seconds);
      await fsp.rm(path.join(dir, `copy-${run}.bin`));
      const upload = await timed(() => ops.upload(src, `s3://bench/runs/${run}/model.bin`));
      uploads.push(upload.seconds);
      console.log(
        `run ${run}: fs.copyFile ${(bytes / MB / copy.seconds).toFixed(0)} MB/s, ` +
          `FileOps.upload ${(bytes / MB / upload.seconds).toFixed(0)} MB/s (${upload.seconds.toFixed(2)} s)`,
      );
    }
    const sdk = new S3Client({
      endpoint: server.endpoint,
      region: server.region,
      forcePathStyle: true,
      credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    });
    const head = await sdk.send(new HeadObjectCommand({ Bucket: 'bench', Key: 'runs/1/model.bin' }));
    sdk.destroy();
    const download = await timed(() => ops.download('s3://bench/runs/1/model.bin', path.join(dir, 'back.bin')));
    const intact = (await sha256(download.value)) === digest;

    const best = (xs: number[]): number => Math.min(...xs);
    const copyRate = bytes / MB / best(copies);
    const uploadRate = bytes / MB / best(uploads);
    const downloadRate = bytes / MB / download.seconds;
    console.log(`size ${(bytes / MB).toFixed(0)} MB, multipart ETag ${head.ETag ?? '?'}, download intact: ${intact}`);
    console.log(`fs.copyFile      ${copyRate.toFixed(0).padStart(6)} MB/s (best of 2)`);
    console.log(`FileOps.upload   ${uploadRate.toFixed(0).padStart(6)} MB/s (best of 2)`);
    console.log(`FileOps.download ${downloadRate.toFixed(0).padStart(6)} MB/s`);
    console.log(`ratio upload / copyFile: ${(uploadRate / copyRate).toFixed(3)}`);
    console.log(`ratio download / copyFile: ${(downloadRate / copyRate).toFixed(3)}`);
  } finally {
    await ops.close();
    await server.stop();
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

await main();
