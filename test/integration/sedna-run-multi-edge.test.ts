/**
 * `sedna run` of the multi-edge inference example: four resources (a FeatureExtractionService, a
 * ReidJob, two VideoAnalyticsJobs on two camera nodes) whose workers reach each other through the
 * GlobalManager's edgemesh Service names, played locally by pod addresses on the loopback network
 * and a resolver in the workers' Node (src/cli/run/edgemesh.ts). One state folder for both tests:
 * the nodes' recordings, rendered by the first run's prepare step, are kept for the second.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { JobState, RunSnapshot } from '../../src/cli/run/status.js';
import { editedExample, printedEnvs, type JobDocument } from '../helpers/job-yaml.js';
import { startRun, tempStateDir } from '../helpers/sedna-run.js';
import { scoredMatches } from '../helpers/reid-matches.js';

const EXAMPLE = 'examples/multi-edge-inference/multi-edge-inference.yaml';

let dir: string;
let stateDir: string;
beforeAll(async () => {
  dir = await tempStateDir('sedna-run-multi-edge-');
  stateDir = path.join(dir, 'state');
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const jobNamed = (s: RunSnapshot, name: string): JobState => {
  const job = s.jobs.find((j) => j.name === name);
  if (job === undefined) throw new Error(`no job ${name} in the status`);
  return job;
};

/**
 * Each container prints its environment and what the Service names resolve to in its Node, as one
 * `ENV {...}` line, once they all resolve (a pod started before a later Service exists sees it
 * appear: the table is read again). Each listens on its server's address and port meanwhile (the
 * runner starts the next resource once it does); the Jobs' workers then exit 0, feature extraction
 * (a Deployment) stays up.
 */
const SERVERS: Record<string, [string, string]> = {
  FeatureExtractionService: ['FE_MODEL_BIND_URL', "process.env.FE_MODEL_BIND_PORT || '6000'"],
  ReidJob: ['REID_MODEL_BIND_URL', "process.env.REID_MODEL_BIND_PORT || '5000'"],
  VideoAnalyticsJob: ['DET_MODEL_BIND_URL', "process.env.DET_MODEL_BIND_PORT || '4000'"],
};
const PRINT_ENV_AND_NAMES = (kind: string, stayUp: boolean): string[] => [
  'node',
  '-e',
  `const dns = require('node:dns');
   const names = ['feature-extraction-fe', 'reid-reid.default', 'video-analytics-videoanalytics.default.svc.cluster.local', 'localhost'];
   const server = require('node:net').createServer().listen(Number(${SERVERS[kind]?.[1]}), process.env.${SERVERS[kind]?.[0]});
   const look = () => Promise.all(names.map((n) => dns.promises.lookup(n).then((r) => r.address, (e) => e.code))).then((addresses) => {
     if (addresses.some((a) => !/^[0-9.:]+$/.test(a))) return setTimeout(look, 100);
     console.log('ENV ' + JSON.stringify({ ...process.env, RESOLVED: JSON.stringify(Object.fromEntries(names.map((n, i) => [n, addresses[i]]))) }));
     ${stayUp ? '' : 'server.close();'}
   });
   look();`,
];

test("the multi-edge workers get the GlobalManager's variables, a pod address each, and the Service names resolve to them", async () => {
  const file = await editedExample(EXAMPLE, dir, (docs: JobDocument[]) => {
    for (const doc of docs.filter((d) => d.kind !== 'Model')) {
      const template = doc.spec.template as { spec: { containers: { command?: string[] }[] } };
      for (const c of template.spec.containers)
        c.command = PRINT_ENV_AND_NAMES(doc.kind, doc.kind === 'FeatureExtractionService');
    }
  });
  const run = startRun([file, '--local', 'examples/multi-edge-inference/sedna.local.yaml'], stateDir);
  try {
    await run.until('the jobs done and feature extraction printing', (s) =>
      ['reid', 'video-analytics', 'video-analytics-camera-1'].every((n) => jobNamed(s, n).phase === 'Succeeded'),
    );
  } finally {
    run.child.kill('SIGINT');
  }
  expect((await run.exited).code).toBe(130);

  const [fe] = await printedEnvs(stateDir, 'feature-extraction-fe-');
  const [reid] = await printedEnvs(stateDir, 'reid-reid-');
  const [cam0] = await printedEnvs(stateDir, 'video-analytics-videoanalytics-');
  const [cam1] = await printedEnvs(stateDir, 'video-analytics-camera-1-videoanalytics-');
  if (fe === undefined || reid === undefined || cam0 === undefined || cam1 === undefined)
    throw new Error('a worker printed no environment');
  // Spec §1.6 and the controllers: WORKER_NAME is 5 random characters, JOB_NAME or SERVICE_NAME.
  for (const env of [fe, reid, cam0, cam1]) {
    expect(env.WORKER_NAME).toMatch(/^[a-z0-9]{5}$/);
    expect(env.NAMESPACE).toBe('default');
    expect(env.LC_SERVER).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(env.KAFKA_ENABLED).toBeUndefined(); // kafkaSupport: false
  }
  // One REST token for the whole run (the resources call each other across jobs), in a 0600 file.
  const tokenFile = fe.SERVICE_TOKEN_FILE as string;
  expect([reid, cam0, cam1].map((env) => env.SERVICE_TOKEN_FILE)).toEqual([tokenFile, tokenFile, tokenFile]);
  expect((await fs.stat(tokenFile)).mode & 0o077).toBe(0);
  expect(fe).toMatchObject({
    SERVICE_NAME: 'feature-extraction',
    DET_MODEL_BIND_URL: 'video-analytics-videoanalytics',
  });
  expect(fe.JOB_NAME).toBeUndefined();
  expect(reid).toMatchObject({ JOB_NAME: 'reid', match_threshold: '0.75' });
  expect(cam0).toMatchObject({ JOB_NAME: 'video-analytics', MODEL_NAME: 'color-blob-detector', video_id: '0' });
  expect(cam1).toMatchObject({ JOB_NAME: 'video-analytics-camera-1', DET_MODEL_BIND_PORT: '4000' });
  // The Models' node folders, prepared on each node.
  expect((await fs.stat(cam0.MODEL_URL as string)).isDirectory()).toBe(true);
  expect((await fs.stat(fe.MODEL_URL as string)).isDirectory()).toBe(true);
  // The local map's camera: the recording on the camera's node, not the rtsp:// stream.
  expect(cam0.video_address).toBe(path.join(stateDir, 'nodes', 'edge-node-0', 'data', 'videos', 'camera-0.mp4'));
  expect((await fs.stat(cam1.video_address as string)).size).toBeGreaterThan(0);
  // Both query images rewritten to the ReID pod's volume, each existing.
  const queries = (reid.query_images as string).split('|');
  expect(queries).toHaveLength(2);
  for (const q of queries) expect((await fs.stat(q)).size).toBeGreaterThan(0);

  // Every pod an address of its own; each server binds it unless the template says otherwise.
  const own = [fe.FE_MODEL_BIND_URL, reid.REID_MODEL_BIND_URL, cam0.DET_MODEL_BIND_URL, cam1.DET_MODEL_BIND_URL];
  for (const ip of own) expect(ip).toMatch(/^127\.\d+\.\d+\.\d+$/);
  expect(new Set(own).size).toBe(4);
  // The Services resolve to those pods, in every form, from every pod; other names as usual.
  for (const env of [fe, reid, cam0, cam1]) {
    const { localhost, ...services } = JSON.parse(env.RESOLVED as string) as Record<string, string>;
    expect(services).toEqual({
      'feature-extraction-fe': fe.FE_MODEL_BIND_URL,
      'reid-reid.default': reid.REID_MODEL_BIND_URL,
      'video-analytics-videoanalytics.default.svc.cluster.local': cam0.DET_MODEL_BIND_URL,
    });
    expect(localhost).toMatch(/^(127\.0\.0\.1|::1)$/);
  }
}, 180_000);

test('the example YAML, unchanged and with no flag: two cameras, feature extraction and ReID find the searched person', async () => {
  const run = startRun([EXAMPLE], stateDir);
  const matches = path.join(
    stateDir,
    'nodes',
    'cloud-node',
    'data',
    'network_shared',
    'reid',
    'output',
    'matches.jsonl',
  );
  let snapshot: RunSnapshot;
  try {
    // Both cameras read their whole recording, and ReID has matched every detection camera 0
    // forwarded (feature extraction sends every enriched result back to the first camera's Service).
    snapshot = await run.until(
      'both cameras done and every forwarded detection matched',
      (s) => {
        const counter = (job: string, name: string): number | undefined => {
          const fact = Object.entries(jobNamed(s, job).facts).find(([k]) =>
            k.startsWith(job === 'reid' ? 'reid' : 'detection'),
          );
          const m = new RegExp(`${name} (\\d+)`).exec(fact?.[1] ?? '');
          return m === null ? undefined : Number(m[1]);
        };
        const received = [counter('video-analytics', 'received'), counter('video-analytics-camera-1', 'received')];
        const forwarded = counter('video-analytics', 'forwarded') ?? 0;
        const processed = counter('reid', 'processed') ?? 0;
        const detections =
          (counter('video-analytics', 'detections') ?? -1) + (counter('video-analytics-camera-1', 'detections') ?? -1);
        return received.every((r) => r === 100) && forwarded === detections && processed >= detections && s;
      },
      150_000,
    );
    const jobs = ['feature-extraction', 'reid', 'video-analytics', 'video-analytics-camera-1'].map((n) =>
      jobNamed(snapshot, n),
    );
    expect(jobs.map((j) => [j.kind, j.phase])).toEqual([
      ['FeatureExtractionService', 'Running'],
      ['ReidJob', 'Running'],
      ['VideoAnalyticsJob', 'Running'],
      ['VideoAnalyticsJob', 'Running'],
    ]);
    expect(jobs.map((j) => j.workers.map((w) => [w.role, w.node, w.restarts]))).toEqual([
      [['feature extraction', 'cloud-node', 0]],
      [['reid', 'cloud-node', 0]],
      [['detection', 'edge-node-0', 0]],
      [['detection', 'edge-node-1', 0]],
    ]);
    // Each server takes the run's token: a request without it is refused (the counters above came
    // through the runner's own polls with the token, the matches through the workers' clients).
    const [reidAddress] = Object.keys(jobNamed(snapshot, 'reid').facts)
      .map((k) => /^reid ([\d.]+:\d+)$/.exec(k)?.[1])
      .filter((a) => a !== undefined);
    expect(reidAddress).toBeDefined();
    const refused = await fetch(`http://${reidAddress ?? ''}/reid/status`);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { code: string }).code).toBe('SEDNA_ERR_UNAUTHORIZED');
    const services = snapshot.timeline.map((e) => e.message).filter((m) => m.startsWith('Service '));
    expect(services).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^Service feature-extraction-fe\.default:6000 → 127\.\d+\.\d+\.\d+:6000/),
        expect.stringMatching(/^Service reid-reid\.default:5000 → /),
        expect.stringMatching(/^Service video-analytics-videoanalytics\.default:4000 → /),
        expect.stringMatching(/^Service video-analytics-camera-1-videoanalytics\.default:4000 → /),
      ]),
    );
  } finally {
    run.child.kill('SIGINT');
  }
  expect((await run.exited).code).toBe(130);

  // ReID's matches, scored against the scene's ground truth: the searched person is found on
  // both cameras and the matched box is theirs.
  const { lines, correct } = await scoredMatches(matches);
  expect(lines.length).toBeGreaterThan(100);
  const found = lines.filter((m) => m.match >= 0);
  expect(new Set(found.map((m) => m.camera))).toEqual(new Set([0, 1]));
  expect(correct.length / lines.length).toBeGreaterThanOrEqual(0.9);
  expect(run.stdout()).toMatch(/ReidJob default\/reid · Stopped/);
}, 240_000);
