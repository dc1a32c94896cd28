/**
 * Multi-edge inference and the real LocalController. The decision this suite pins down: the
 * detection, feature-extraction and ReID workers send no LC reports, as Sedna's do not (their
 * BaseService is not a JobBase and never calls report_task_info), and for a reason the real LC
 * shows: it has no manager for `videoanalyticsjob`, `featureextractionservice` or `reidjob`, so a
 * report of those kinds is answered 200 and dropped; the controller tracks these jobs by their
 * pods' status instead.
 */
import { loadConfig } from '../../src/common/config.js';
import { K8sResourceKind } from '../../src/common/constants.js';
import { FEService } from '../../src/core/multi-edge-inference/fe-service.js';
import { ReID, TargetMatcher } from '../../src/core/multi-edge-inference/reid.js';
import { encodeJpeg } from '../../src/datasources/multi-edge/image.js';
import { DetTrackResult, Target } from '../../src/datasources/multi-edge/records.js';
import { MultiEdgeClient } from '../../src/service/client/multi-edge-client.js';
import { RealLC } from './real-lc.js';

describe('multi-edge workers and the real LocalController', () => {
  let lc: RealLC;
  beforeAll(async () => {
    lc = await RealLC.start();
  });
  afterAll(async () => {
    await lc.stop();
  });

  const report = (ownerKind: string, name: string) =>
    fetch(`${lc.lcServer}/sedna/workers/${name}/info`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name,
        namespace: 'default',
        ownerName: name,
        ownerKind,
        kind: 'inference',
        status: 'running',
        ownerInfo: { frames: 1 },
      }),
    });

  /** A joint-inference report, which the LC forwards at once: proof that earlier reports were processed. */
  async function barrier(tag: string): Promise<void> {
    const res = await report(K8sResourceKind.JOINT_INFERENCE_SERVICE, tag);
    expect(res.status).toBe(200);
    await lc.waitFor((messages) => messages.some((m) => m.header.resourceName === tag));
  }

  it('the LC accepts and drops reports of the multi-edge kinds: nothing reaches the GlobalManager', async () => {
    for (const kind of [
      K8sResourceKind.VIDEO_ANALYTICS_JOB,
      K8sResourceKind.FEATURE_EXTRACTION_SERVICE,
      K8sResourceKind.REID_JOB,
    ]) {
      const res = await report(kind, `probe-${kind}`);
      expect([kind, res.status, await res.json()]).toEqual([kind, 200, { Status: 200, Message: 'OK' }]);
    }
    await barrier('barrier-1');
    expect(lc.messages().map((m) => m.header.resourceKind)).toEqual([K8sResourceKind.JOINT_INFERENCE_SERVICE]);
  });

  it('our feature-extraction and ReID workers, pointed at the LC, send it nothing while they work', async () => {
    const config = loadConfig({
      LC_SERVER: lc.lcServer,
      WORKER_NAME: 'reid-x1',
      NAMESPACE: 'default',
      JOB_NAME: 'reid',
      LOG_LEVEL: 'silent',
    });
    const features = (value: number) => Float32Array.from({ length: 4 }, (_, i) => (i === 0 ? value : 0));
    const fe = await FEService.create({
      config,
      host: '127.0.0.1',
      port: 0,
      kafka: false,
      detection: new MultiEdgeClient({ service: 'video_analytics', host: '127.0.0.1', port: 1, maxAttempts: 1 }),
      models: [
        {
          inference: (batch: DetTrackResult[]) => batch,
          getTargetFeatures: (records: DetTrackResult[]) =>
            records.map((r) => new Target({ userid: r.userID, features: [features(1)], targetid: '0001' })),
        },
      ],
    });
    const fePort = Number(new URL(await fe.start()).port);
    const matches: number[] = [];
    const reid = await ReID.create({
      config,
      host: '127.0.0.1',
      port: 0,
      featureExtraction: new MultiEdgeClient({ service: 'feature_extraction', host: '127.0.0.1', port: fePort }),
      models: [
        new TargetMatcher({
          queryImages: [await encodeJpeg({ width: 2, height: 2, channels: 3, data: new Uint8Array(12) })],
          onMatch: (m) => void matches.push(m.index),
        }),
      ],
    });
    const reidPort = Number(new URL(await reid.start()).port);
    try {
      const client = new MultiEdgeClient({ service: 'reid', host: '127.0.0.1', port: reidPort });
      for (let i = 0; i < 5; i++)
        await client.transmit([
          new DetTrackResult({ frameIndex: i, bboxCoord: [[0, 0, 1, 1]], features: [features(i % 2)] }),
        ]);
      await reid.drain();
      expect(matches).toEqual([-1, 0, -1, 0, -1]);
    } finally {
      await reid.close();
      await fe.close();
    }
    await barrier('barrier-2');
    expect(lc.messages().map((m) => m.header.resourceName)).toEqual(['barrier-1', 'barrier-2']);
  });
});
