/**
 * Every example image starts its worker as the controller would start the pod (read-only root
 * filesystem, uid 1000, the injected environment, hostPath-style volumes), reaches its ready line
 * (and health answer), and ends within its grace period on `podman stop` (SIGTERM handled in the
 * entry point, not ignored by node as PID 1) with its final report delivered to the LC.
 */
import fs from 'node:fs';
import { catalog } from '../../scripts/images/build.mjs';
import { Container, recordReady, stage, volumeDir, workerName } from './containers.js';
import { loadStartSpecs, type WorkerContext } from './workers.js';

const examples = catalog().filter((i) => i.kind === 'example');
const WORKERS = await loadStartSpecs();
const GRACE_SECONDS = 10;

const the = stage();

it('every example image has a start spec in test/images/start-specs/<example>.ts', () => {
  expect(examples.map((i) => i.name).filter((name) => WORKERS[name] === undefined)).toEqual([]);
  // and every spec is for an image that exists (a renamed Dockerfile leaves none behind)
  expect(Object.keys(WORKERS).filter((name) => !examples.some((i) => i.name === name))).toEqual([]);
});

describe.each(examples.map((i) => [i.name] as const))('%s', (name) => {
  const dirs = new Map<string, string>();
  const started: Container[] = [];
  const ctx = (): WorkerContext => ({
    network: the.network,
    lc: the.lc,
    dir: (label, writable = false) => {
      let dir = dirs.get(label);
      if (dir === undefined) {
        dir = volumeDir(label, writable);
        dirs.set(label, dir);
      }
      return dir;
    },
  });
  afterEach(async () => {
    for (const c of started.splice(0).reverse()) await c.kill();
    for (const dir of dirs.values()) fs.rmSync(dir, { recursive: true, force: true });
    dirs.clear();
  });

  it(`starts read-only as uid 1000, gets ready, and ends within a ${GRACE_SECONDS} s grace period`, async () => {
    const spec = WORKERS[name];
    if (spec === undefined) throw new Error(`no start spec for ${name} in test/images/start-specs/`);
    const context = ctx();
    for (const companion of spec.companions?.(context) ?? []) {
      const c = await Container.run(companion.options);
      started.push(c);
      await c.waitForLine(companion.ready.stream, companion.ready.match, 90_000);
    }
    const worker = workerName(spec.workerPrefix);
    const container = await Container.run({ ...spec.options(context, worker), image: name, name: worker });
    started.push(container);
    await container.waitForLine(spec.ready.stream, spec.ready.match, 90_000);
    recordReady(name, performance.now() - container.startedAt);

    if (spec.health !== undefined) {
      const port = await container.hostPort(spec.health.port);
      const answer = await fetch(`http://127.0.0.1:${port}${spec.health.path}`);
      expect(answer.status).toBe(200);
      expect(await answer.json()).toMatchObject({ status: 'ok' });
    }

    if ('exit' in spec.end) {
      const code = await container.waitForExit(90_000);
      if (code !== spec.end.exit)
        throw new Error(`exited with ${code} (expected ${spec.end.exit})\n${container.output()}`);
    } else {
      const { code, ms } = await container.stop(GRACE_SECONDS);
      if (code !== spec.end.stop)
        throw new Error(`exited with ${code} (expected ${spec.end.stop})\n${container.output()}`);
      expect(ms).toBeLessThan(GRACE_SECONDS * 1000); // SIGTERM handled: not killed at the deadline
    }
    if (spec.finalReport !== undefined) {
      const check = spec.finalReport;
      await the.lc.waitFor(
        (all) =>
          check(
            all.filter((r) => r.worker === worker),
            context,
          ),
        10_000,
      );
    }
  });
});
