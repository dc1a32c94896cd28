/**
 * Multi-edge inference (Sedna's videoanalytics, featureextraction, reid, objectsearch and
 * objecttracking controllers). The workers find each other through the edgemesh Services the
 * GlobalManager creates (`<name>-videoanalytics:4000`, `<name>-fe:6000`, `<name>-reid:5000`), so
 * each pod gets an address of its own on the local mesh and those names resolve to it
 * (edgemesh.ts). Variables as the controllers inject them (spec §1.6): `WORKER_NAME` (5 random
 * characters), `JOB_NAME` or `SERVICE_NAME`, `NAMESPACE`, `MODEL_NAME`, `LC_SERVER`, `MODEL_URL`,
 * `KAFKA_ENABLED` with `kafkaSupport`.
 *
 * VideoAnalyticsJob and ReidJob are Kubernetes Jobs: the template's restart policy, succeeded when
 * the pod has, failed when it gives up. FeatureExtractionService and the ObjectSearch/Tracking
 * ReID and user workers are Deployments (restarted always), their tracking workers pods (the
 * template's policy, Kubernetes' default Always); a service fails when a worker gives up. The SDK
 * workers' `/{service}/status` counters are polled into the job's facts.
 */
import { followJob, followService, type JobKindModule, type JobRuntime, type WorkerHandle } from '../job-kind.js';
import type { PodTemplate, WorkerMount, WorkerRequest } from '../workload.js';
import { randomSuffix } from '../workload.js';

/** Sedna's ports: VideoAnalyticsPort, FEPort, the ReID default, objectsearch's reid and user workers. */
const PORTS = { videoanalytics: 4000, fe: 6000, reid: 5000, reidworker: 9378, userworker: 9379 } as const;

interface ModelRef {
  name: string;
}
interface JobSpec {
  model?: ModelRef;
  kafkaSupport?: boolean;
  template: PodTemplate;
}
interface DeploymentSpec extends JobSpec {
  replicas?: number;
}
interface ObjectSearchSpec {
  userWorker?: { template: PodTemplate };
  trackingWorkers: { template: PodTemplate }[];
  reidWorkers: { replicas?: number; template: PodTemplate };
}

/** A worker's own REST service (the multi-edge server's route prefix and status path). */
interface Served {
  /** The GlobalManager's worker type, the Service's suffix: `videoanalytics`, `fe`, `reid`. */
  readonly workerType: keyof typeof PORTS;
  /** Sedna's route prefix, for the status poll. */
  readonly route?: 'video_analytics' | 'feature_extraction' | 'reid';
  /** The variables the worker's server binds from (its pod address by default). */
  readonly bind: readonly string[];
  /** The variable that sets its port in the template, if any. */
  readonly portVariable?: string;
}

const DETECTION: Served = {
  workerType: 'videoanalytics',
  route: 'video_analytics',
  bind: ['DET_MODEL_BIND_URL'],
  portVariable: 'DET_MODEL_BIND_PORT',
};
const FEATURE_EXTRACTION: Served = {
  workerType: 'fe',
  route: 'feature_extraction',
  bind: ['FE_MODEL_BIND_URL'],
  portVariable: 'FE_MODEL_BIND_PORT',
};
const REID: Served = {
  workerType: 'reid',
  route: 'reid',
  bind: ['REID_MODEL_BIND_URL'],
  portVariable: 'REID_MODEL_BIND_PORT',
};

/** A literal `env` value of the template's first container. */
function templateValue(template: PodTemplate, name: string): string | undefined {
  return template.spec.containers[0]?.env?.find((e) => e.name === name && e.valueFrom === undefined)?.value;
}

function modelMount(rt: JobRuntime, name: string): WorkerMount {
  const model = rt.model(name);
  return {
    envName: 'MODEL_URL',
    urls: [
      { url: model.spec.url, access: 'read', download: true, what: `Model ${name}`, secret: rt.credentials(model) },
    ],
  };
}

const COUNTERS = ['received', 'processed', 'detections', 'skippedByGate', 'sent', 'forwarded', 'frames', 'matched'];

/** One line of a worker's status counters (the ones that say how far it got). */
function counters(stats: unknown): string | undefined {
  if (stats === null || typeof stats !== 'object') return undefined;
  const s = stats as Record<string, unknown>;
  const parts = COUNTERS.filter((k) => typeof s[k] === 'number').map((k) => `${k} ${String(s[k])}`);
  return parts.length === 0 ? undefined : parts.join(', ');
}

interface Started {
  readonly handle: WorkerHandle;
  readonly podIp: string;
  /** Resolves once its server listens (or after 60 s, with a warning); its counters are polled from then on. */
  readonly ready: Promise<void>;
}

/** Polls a worker's `/{route}/status` counters into the job's facts (with the pod's own token). */
function pollCounters(rt: JobRuntime, handle: WorkerHandle, host: string, port: number, route: string): void {
  const fact = `${handle.state.role} ${host}:${port}`;
  rt.every(rt.periodMs(2), async () => {
    if (handle.phase !== 'Running') return;
    // Its server answers 401 to a request without its token (all but /healthz).
    const token = handle.serviceToken;
    const res = await fetch(`http://${host}:${port}/${route}/status`, {
      signal: AbortSignal.timeout(1000),
      ...(token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } }),
    }).catch(() => undefined);
    if (res?.ok !== true) return;
    const body = (await res.json().catch(() => undefined)) as { stats?: unknown } | undefined;
    const line = counters(body?.stats);
    if (line !== undefined) rt.setFact(fact, line);
  });
}

/**
 * Starts one meshed worker; with `served`, creates its Service first (so no peer resolves the name
 * before it exists) when `service`, and, unless `wait` is false, waits (bounded) until it listens.
 */
async function startMeshed(
  rt: JobRuntime,
  request: Omit<WorkerRequest, 'network'>,
  served: Served | undefined,
  service: boolean,
  wait = true,
): Promise<Started> {
  const network = rt.meshPod(served?.bind ?? []);
  const port =
    served === undefined
      ? undefined
      : Number(
          (served.portVariable === undefined ? undefined : templateValue(request.template, served.portVariable)) ??
            PORTS[served.workerType],
        );
  if (served !== undefined && service && port !== undefined)
    await rt.addService(`${rt.job.metadata.name}-${served.workerType}`, network.podIp, PORTS[served.workerType]);
  const handle = await rt.startWorker({ ...request, network });
  let ready = Promise.resolve();
  if (served !== undefined && port !== undefined && Number.isInteger(port)) {
    const route = served.route;
    ready = handle.waitForPort(network.podIp, port, 60_000).then((up) => {
      if (!up && handle.phase === 'Running')
        rt.log(`${handle.state.pod} does not listen on ${network.podIp}:${port} after 60 s`, 'warn');
      if (route !== undefined) pollCounters(rt, handle, network.podIp, port, route);
    });
    if (wait) await ready;
  }
  return { handle, podIp: network.podIp, ready };
}

function kafka(spec: { kafkaSupport?: boolean }): Record<string, string> {
  return spec.kafkaSupport === true ? { KAFKA_ENABLED: 'true' } : {};
}

function modelReference(job: { spec: unknown }): { kind: 'Model'; name: string; path: string[] }[] {
  const model = (job.spec as JobSpec).model;
  return model === undefined ? [] : [{ kind: 'Model', name: model.name, path: ['spec', 'model', 'name'] }];
}

export const featureExtraction: JobKindModule = {
  kind: 'FeatureExtractionService',
  ownerKind: 'featureextractionservice',
  restServices: true,
  references: modelReference,
  async start(rt) {
    const spec = rt.job.spec as unknown as DeploymentSpec;
    const { name, namespace } = rt.job.metadata;
    rt.setStage('feature extraction starting');
    const workers: WorkerHandle[] = [];
    const replicas = Math.max(1, spec.replicas ?? 1);
    for (let i = 0; i < replicas; i++) {
      const { handle } = await startMeshed(
        rt,
        {
          job: { name, namespace, kind: 'featureextractionservice' },
          workerType: 'fe',
          role: replicas === 1 ? 'feature extraction' : `feature extraction ${i + 1}`,
          template: spec.template,
          env: {
            WORKER_NAME: randomSuffix(),
            NAMESPACE: namespace,
            SERVICE_NAME: name,
            LC_SERVER: rt.lcServer,
            ...kafka(spec),
          },
          mounts: [modelMount(rt, spec.model?.name ?? '')],
          restartPolicy: 'Always',
        },
        FEATURE_EXTRACTION,
        // The Service goes to the first replica (edgemesh would balance over all of them).
        i === 0,
      );
      workers.push(handle);
    }
    rt.setStage('serving');
    followService(rt, workers);
    return {};
  },
};

/**
 * A Kubernetes-Job kind of one worker (VideoAnalyticsJob, ReidJob): its Service first, the worker,
 * succeeded when it exits 0.
 */
function oneWorkerJob(kind: string, served: Served, role: string, withModel: boolean): JobKindModule {
  const ownerKind = kind.toLowerCase();
  return {
    kind,
    ownerKind,
    restServices: true,
    references: withModel ? modelReference : () => [],
    async start(rt) {
      const spec = rt.job.spec as unknown as JobSpec;
      const { name, namespace } = rt.job.metadata;
      const modelName = spec.model?.name ?? '';
      rt.setStage(`${role} starting`);
      const { handle } = await startMeshed(
        rt,
        {
          job: { name, namespace, kind: ownerKind },
          workerType: served.workerType,
          role,
          template: spec.template,
          env: {
            WORKER_NAME: randomSuffix(),
            JOB_NAME: name,
            NAMESPACE: namespace,
            ...(withModel ? { MODEL_NAME: modelName } : {}),
            LC_SERVER: rt.lcServer,
            ...kafka(spec),
          },
          ...(withModel ? { mounts: [modelMount(rt, modelName)] } : {}),
        },
        served,
        // ReidJob: the `<name>-reid:5000` Service spec §1.6 lists, which detection's forward_to_reid reaches.
        true,
      );
      rt.setStage('running');
      followJob(rt, [handle]);
      return {};
    },
  };
}

export const videoAnalytics = oneWorkerJob('VideoAnalyticsJob', DETECTION, 'detection', true);
export const reidJob = oneWorkerJob('ReidJob', REID, 'reid', false);

/** objectsearch's ReID workers: Service `<name>-reidworker:9378`; our ReID's counters when it is one. */
const REID_WORKER: Served = {
  workerType: 'reidworker',
  route: 'reid',
  bind: ['REID_MODEL_BIND_URL'],
  portVariable: 'REID_MODEL_BIND_PORT',
};
/** objectsearch's user worker: Service `<name>-userworker:9379`, whatever it runs (no counters). */
const USER_WORKER: Served = { workerType: 'userworker', bind: [] };

/**
 * ObjectSearchService (Sedna's objectsearch controller): the ReID workers (a Deployment; the
 * controller injects no variable), Service `<name>-reidworker:9378`; the user worker (a
 * Deployment of one, `NAMESPACE`, `SERVICE_NAME`, `WORKER_NAME=userworker-xxxxx`), Service
 * `<name>-userworker:9379`; then one pod per tracking worker with `USERWORKER_URL` and
 * `EDGEMESH_URL` (`<name>-<type>.<namespace>:<port>`, those Services). Sedna creates them at once;
 * locally the tracking workers, the clients, start once the ReID and user workers listen (bounded).
 * None gets `LC_SERVER`: the controller injects none.
 *
 * ObjectTrackingService: its controller is in no Sedna release we have (the later multiedgetracking
 * controller drives another CRD); its CRD is ObjectSearch's without the user worker, and Sedna's
 * proposal (the Object Tracking Service chapter) describes the same two worker types, so it is
 * modelled as objectsearch without the user worker (and no `USERWORKER_URL`).
 *
 * The runner polls the counters of ReID workers (`/reid/status`) and tracking workers
 * (`/video_analytics/status` on `DET_MODEL_BIND_PORT`, 4000) when they are the SDK's.
 */
function objectServiceKind(kind: 'ObjectSearchService' | 'ObjectTrackingService'): JobKindModule {
  const ownerKind = kind.toLowerCase();
  return {
    kind,
    ownerKind,
    restServices: true,
    references: () => [],
    async start(rt) {
      const spec = rt.job.spec as unknown as ObjectSearchSpec;
      const { name, namespace } = rt.job.metadata;
      const job = { name, namespace, kind: ownerKind };
      const host = (workerType: string): string => `${name}-${workerType}.${namespace}`.toLowerCase();
      const servers: Started[] = [];
      rt.setStage('reid workers starting');
      const replicas = Math.max(1, spec.reidWorkers.replicas ?? 1);
      for (let i = 0; i < replicas; i++)
        servers.push(
          await startMeshed(
            rt,
            {
              job,
              workerType: 'reidworker',
              role: replicas === 1 ? 'reid' : `reid ${i + 1}`,
              template: spec.reidWorkers.template,
              env: {},
              restartPolicy: 'Always',
            },
            REID_WORKER,
            // The Service goes to the first replica (edgemesh would balance over all of them).
            i === 0,
            false,
          ),
        );
      const trackingEnv: Record<string, string> = { EDGEMESH_URL: `${host('reidworker')}:${PORTS.reidworker}` };
      if (kind === 'ObjectSearchService' && spec.userWorker !== undefined) {
        servers.push(
          await startMeshed(
            rt,
            {
              job,
              workerType: 'userworker',
              role: 'user',
              template: spec.userWorker.template,
              env: { NAMESPACE: namespace, SERVICE_NAME: name, WORKER_NAME: `userworker-${randomSuffix()}` },
              restartPolicy: 'Always',
            },
            USER_WORKER,
            true,
            false,
          ),
        );
        trackingEnv.USERWORKER_URL = `${host('userworker')}:${PORTS.userworker}`;
      }
      await Promise.all(servers.map((s) => s.ready));
      rt.setStage('tracking workers starting');
      const workers = servers.map((s) => s.handle);
      for (const [i, tracking] of spec.trackingWorkers.entries()) {
        const { handle, podIp } = await startMeshed(
          rt,
          {
            job,
            workerType: 'trackingworker',
            role: `tracking ${i + 1}`,
            template: tracking.template,
            env: {
              NAMESPACE: namespace,
              SERVICE_NAME: name,
              WORKER_NAME: `trackingworker-${randomSuffix()}`,
              ...trackingEnv,
            },
          },
          undefined,
          false,
        );
        const port = Number(templateValue(tracking.template, 'DET_MODEL_BIND_PORT') ?? PORTS.videoanalytics);
        // Quietly: a tracking worker need not serve anything.
        void handle.waitForPort(podIp, port, 60_000).then((up) => {
          if (up) pollCounters(rt, handle, podIp, port, 'video_analytics');
        });
        workers.push(handle);
      }
      rt.setStage('serving');
      followService(rt, workers);
      return {};
    },
  };
}

export const objectSearch = objectServiceKind('ObjectSearchService');
export const objectTracking = objectServiceKind('ObjectTrackingService');
