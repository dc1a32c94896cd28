/**
 * The joint-inference example workers, run as in a pod (child processes configured only by
 * environment variables), reporting to the real LocalController: what reaches the GlobalManager.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runNode } from '../helpers/child.js';
import { edgeWorkerEnv, JI_EXAMPLE as example, startCloudWorker } from '../helpers/ji-example.js';
import { ROOT } from '../helpers/paths.js';
import { RealLC } from './real-lc.js';

describe('joint inference edge worker → real LocalController', () => {
  let lc: RealLC;
  let cloud: { child: ChildProcess; port: number };
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'ji-conformance-'));

  beforeAll(async () => {
    lc = await RealLC.start();
    cloud = await startCloudWorker();
  });
  afterAll(async () => {
    cloud.child.kill('SIGTERM');
    await lc.stop();
    fs.rmSync(out, { recursive: true, force: true });
  });

  it('reports counters the GM receives as jointinferenceservice status, each inference counted once', async () => {
    const result = await runNode([path.join(example, 'edge.mjs')], {
      name: 'edge-worker',
      cwd: ROOT,
      timeoutMs: 60_000,
      env: edgeWorkerEnv({ lcServer: lc.lcServer, cloudPort: cloud.port, outputDir: out }),
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const all = fs.readFileSync(path.join(out, 'all.jsonl'), 'utf8').trim().split('\n');
    const hard = fs.readFileSync(path.join(out, 'hard.jsonl'), 'utf8').trim().split('\n');
    const messages = await lc.waitFor((m) => m.some((x) => x.content.output.ownerInfo?.inferenceNumber === all.length));
    expect(messages.length).toBeGreaterThanOrEqual(1);
    for (const m of messages) {
      expect(m.header).toEqual({
        namespace: 'default',
        resourceKind: 'jointinferenceservice',
        resourceName: 'digits-inference',
        operation: 'status',
      });
      expect(m.content).toMatchObject({ phase: 'inference', status: '', output: { models: null } });
    }
    const last = messages.at(-1)!.content.output.ownerInfo!;
    expect(last).toMatchObject({
      inferenceNumber: all.length,
      hardExampleNumber: hard.length,
      uploadCloudRatio: hard.length / all.length,
    });
    // (Go re-encodes ownerInfo as a map, so the GM sees its keys sorted; the set is what counts.)
    expect(Object.keys(last).sort()).toEqual([
      'hardExampleNumber',
      'inferenceNumber',
      'startTime',
      'updateTime',
      'uploadCloudRatio',
    ]);
    expect(last.startTime).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    // Counters only grow, report after report.
    const counts = messages.map((m) => m.content.output.ownerInfo!.inferenceNumber as number);
    expect([...counts].sort((a, b) => a - b)).toEqual(counts);
  });
});
