/**
 * `sedna run` of examples/multi-edge-inference/object-search-service.yaml: one ObjectSearchService
 * (Sedna's objectsearch controller: ReID workers behind `<name>-reidworker:9378`, the user worker
 * behind `<name>-userworker:9379`, a pod per tracking worker with EDGEMESH_URL / USERWORKER_URL)
 * run unchanged with the multi-edge example's workers, to a steady state in which both cameras'
 * frames reach ReID and the searched person is found; and ObjectTrackingService, modelled as the
 * same without the user worker (src/cli/run/kinds/multi-edge-inference.ts says why).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { JobState, RunSnapshot } from '../../src/cli/run/status.js';
import { crdValidator, validateResources } from '../helpers/crd.js';
import { editedExample, printedEnvs, type JobDocument } from '../helpers/job-yaml.js';
import { ROOT } from '../helpers/paths.js';
import { scoredMatches } from '../helpers/reid-matches.js';
import { environOf, jobOf, startRun, tempStateDir } from '../helpers/sedna-run.js';

const EXAMPLE = 'examples/multi-edge-inference/object-search-service.yaml';
const LOCAL = 'examples/multi-edge-inference/sedna.local.yaml';

let dir: string;
beforeAll(async () => {
  dir = await tempStateDir('sedna-run-object-search-');
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** A counter of the fact whose key starts with `role` (`tracking 1 127.x.y.z:4000`). */
function counter(job: JobState, role: string, name: string): number | undefined {
  const fact = Object.entries(job.facts).find(([k]) => k.startsWith(`${role} `));
  const m = new RegExp(`\\b${name} (\\d+)`).exec(fact?.[1] ?? '');
  return m === null ? undefined : Number(m[1]);
}

/** The address the timeline's `Service NAME.default:PORT → IP:PORT (edgemesh)` line gives. */
function serviceAddress(s: RunSnapshot, name: string): string {
  const line = s.timeline.map((e) => e.message).find((m) => m.startsWith(`Service ${name}.default:`));
  const address = / → ([\d.]+:\d+) /.exec(line ?? '')?.[1];
  if (address === undefined) throw new Error(`no Service ${name} in the timeline`);
  return address;
}

test('the ObjectSearchService example validates against the real CRD', () => {
  const checks = validateResources(path.join(ROOT, EXAMPLE));
  expect(checks.map((c) => [c.kind, c.name, c.errors])).toEqual([['ObjectSearchService', 'object-search', []]]);
  const validate = crdValidator('ObjectSearchService');
  expect(
    validate({ apiVersion: 'sedna.io/v1alpha1', kind: 'ObjectSearchService', spec: { trackingWorkers: [] } }),
  ).toBe(false);
  expect(JSON.stringify(validate.errors)).toContain('reidWorkers');
});

test('the example, unchanged and with no flag: the tracking workers feed ReID, which finds the searched person on both cameras', async () => {
  const stateDir = path.join(dir, 'search');
  const run = startRun([EXAMPLE], stateDir);
  let snapshot: RunSnapshot;
  try {
    // Both cameras read their whole recording, every detection went on to ReID, and ReID has
    // matched them all.
    snapshot = await run.until(
      'both cameras done and every detection matched',
      (s) => {
        const job = jobOf(s);
        const received = [counter(job, 'tracking 1', 'received'), counter(job, 'tracking 2', 'received')];
        const detections = [counter(job, 'tracking 1', 'detections'), counter(job, 'tracking 2', 'detections')];
        const forwarded = [counter(job, 'tracking 1', 'forwarded'), counter(job, 'tracking 2', 'forwarded')];
        const processed = counter(job, 'reid', 'processed') ?? 0;
        const total = (detections[0] ?? -1) + (detections[1] ?? -1);
        return (
          received.every((r) => r === 100) &&
          forwarded[0] === detections[0] &&
          forwarded[1] === detections[1] &&
          total > 0 &&
          processed >= total &&
          s
        );
      },
      150_000,
    );
    const job = jobOf(snapshot);
    expect([job.kind, job.phase, job.stage]).toEqual(['ObjectSearchService', 'Running', 'serving']);
    expect(job.workers.map((w) => [w.role, w.node, w.phase, w.restarts])).toEqual([
      ['reid', 'cloud-node', 'Running', 0],
      ['user', 'cloud-node', 'Running', 0],
      ['tracking 1', 'edge-node-0', 'Running', 0],
      ['tracking 2', 'edge-node-1', 'Running', 0],
    ]);
    // The objectsearch controller's variables: none for the ReID workers, the user worker's and
    // each tracking worker's (both containers of its pod), with the Services' addresses.
    const [reid, user, tracking1, tracking2] = job.workers;
    const reidEnv = await environOf(reid?.pids[0]);
    expect([reidEnv.WORKER_NAME, reidEnv.SERVICE_NAME, reidEnv.LC_SERVER]).toEqual([undefined, undefined, undefined]);
    expect(await environOf(user?.pids[0])).toMatchObject({ NAMESPACE: 'default', SERVICE_NAME: 'object-search' });
    expect(user?.workerName).toMatch(/^userworker-[a-z0-9]{5}$/);
    for (const tracking of [tracking1, tracking2]) {
      expect(tracking?.workerName).toMatch(/^trackingworker-[a-z0-9]{5}$/);
      expect(tracking?.pids).toHaveLength(2);
      for (const pid of tracking?.pids ?? []) {
        const env = await environOf(pid);
        expect(env).toMatchObject({
          NAMESPACE: 'default',
          SERVICE_NAME: 'object-search',
          WORKER_NAME: tracking?.workerName,
          EDGEMESH_URL: 'object-search-reidworker.default:9378',
          USERWORKER_URL: 'object-search-userworker.default:9379',
        });
        expect(env.LC_SERVER).toBeUndefined();
      }
    }
    // The services answer, with the run's token only.
    const token = await fs.readFile(reidEnv.SERVICE_TOKEN_FILE ?? '', 'utf8');
    const auth = { authorization: `Bearer ${token}` };
    const reidAt = serviceAddress(snapshot, 'object-search-reidworker');
    expect(reidAt).toMatch(/:9378$/);
    const stats = (await (await fetch(`http://${reidAt}/reid/status`, { headers: auth })).json()) as {
      stats: { processed: number };
    };
    expect(stats.stats.processed).toBeGreaterThan(0);
    expect((await fetch(`http://${reidAt}/reid/status`)).status).toBe(401);
    const userAt = serviceAddress(snapshot, 'object-search-userworker');
    expect(userAt).toMatch(/:9379$/);
    expect((await fetch(`http://${userAt}/feature_extraction/status`, { headers: auth })).status).toBe(200);
    expect((await fetch(`http://${userAt}/feature_extraction/status`)).status).toBe(401);
  } finally {
    run.child.kill('SIGINT');
  }
  expect((await run.exited).code).toBe(130);

  // ReID's matches, scored against the scene's ground truth: the searched person is found on
  // both cameras and the matched box is theirs.
  const matches = path.join(stateDir, 'nodes/cloud-node/data/network_shared/reid/object-search/matches.jsonl');
  const { lines, correct } = await scoredMatches(matches);
  expect(lines.length).toBeGreaterThan(100);
  expect(new Set(lines.map((m) => m.camera))).toEqual(new Set([0, 1]));
  expect(new Set(lines.filter((m) => m.match >= 0).map((m) => m.camera))).toEqual(new Set([0, 1]));
  expect(correct.length / lines.length).toBeGreaterThanOrEqual(0.9);
  expect(run.stdout()).toMatch(/ObjectSearchService default\/object-search · Stopped/);
}, 240_000);

/** Prints its environment as one `ENV {...}` line and listens on `port` (0: none) until stopped. */
const PRINT_ENV_AND_LISTEN = (port: number, bindVariable: string): string[] => [
  'node',
  '-e',
  `console.log('ENV ' + JSON.stringify(process.env));
   require('node:net').createServer().listen(${port}, process.env.${bindVariable});`,
];

test('ObjectTrackingService: the ReID workers behind their Service, then the tracking workers with EDGEMESH_URL and no user worker', async () => {
  const file = await editedExample(
    EXAMPLE,
    dir,
    (docs: JobDocument[]) => {
      const doc = docs[0] as JobDocument & { metadata: { name: string } };
      doc.kind = 'ObjectTrackingService';
      doc.metadata.name = 'object-tracking';
      delete doc.spec.userWorker;
      const containers = (t: unknown): { command?: string[] }[] =>
        (t as { template: { spec: { containers: { command?: string[] }[] } } }).template.spec.containers;
      for (const c of containers(doc.spec.reidWorkers)) c.command = PRINT_ENV_AND_LISTEN(9378, 'REID_MODEL_BIND_URL');
      for (const tracking of doc.spec.trackingWorkers as unknown[])
        for (const c of containers(tracking)) c.command = PRINT_ENV_AND_LISTEN(0, 'POD_IP');
    },
    'object-tracking-service.yaml',
  );
  const checks = validateResources(file);
  expect(checks.map((c) => [c.kind, c.errors])).toEqual([['ObjectTrackingService', []]]);

  const stateDir = path.join(dir, 'tracking');
  const run = startRun([file, '--local', LOCAL], stateDir);
  try {
    const job = await run.until('every worker running', (s) => {
      const j = jobOf(s);
      return j.stage === 'serving' && j.workers.length === 3 && j.workers.every((w) => w.phase === 'Running') && j;
    });
    expect([job.kind, job.name]).toEqual(['ObjectTrackingService', 'object-tracking']);
    expect(job.workers.map((w) => [w.role, w.node])).toEqual([
      ['reid', 'cloud-node'],
      ['tracking 1', 'edge-node-0'],
      ['tracking 2', 'edge-node-1'],
    ]);
    const services = (await run.status()).timeline.map((e) => e.message).filter((m) => m.startsWith('Service '));
    expect(services).toEqual([expect.stringMatching(/^Service object-tracking-reidworker\.default:9378 → /)]);
    // Each tracking pod printed its environment (the first line of its log).
    const deadline = Date.now() + 30_000;
    let envs: Record<string, string>[] = [];
    while (envs.length < 2 && Date.now() < deadline) {
      envs = await printedEnvs(stateDir, 'object-tracking-trackingworker-').catch(() => []);
      if (envs.length < 2) await new Promise((r) => setTimeout(r, 200));
    }
    expect(envs).toHaveLength(2);
    for (const env of envs) {
      expect(env).toMatchObject({
        NAMESPACE: 'default',
        SERVICE_NAME: 'object-tracking',
        EDGEMESH_URL: 'object-tracking-reidworker.default:9378',
      });
      expect(env.WORKER_NAME).toMatch(/^trackingworker-[a-z0-9]{5}$/);
      expect(env.USERWORKER_URL).toBeUndefined();
      expect(env.SERVICE_TOKEN_FILE).toMatch(/\/secrets\/service\.token$/);
    }
  } finally {
    run.child.kill('SIGINT');
  }
  expect((await run.exited).code).toBe(130);
}, 180_000);
