/**
 * JointInferenceService (Sedna's jointinference controller): the cloud worker first (the big model
 * behind `BIG_MODEL_BIND_PORT`, Sedna's fixed 5000), then, once it listens, the edge worker pointed
 * at it. Both are Deployments in Sedna (restart Always); the service runs until stopped, and fails
 * when a worker gives up. Edge reports (`ownerInfo` counters every LC_PERIOD) feed the chart.
 */
import { at, followService, hemParameters, type JobKindModule } from '../job-kind.js';
import type { PodTemplate } from '../workload.js';
import { randomSuffix } from '../workload.js';

/** Sedna's BigModelPort. */
const BIG_MODEL_PORT = 5000;

interface Spec {
  edgeWorker: {
    model: { name: string };
    hardExampleMining?: { name: string; parameters?: { key: string; value: string }[] };
    template: PodTemplate;
  };
  cloudWorker: { model: { name: string }; template: PodTemplate };
}

export const jointInference: JobKindModule = {
  kind: 'JointInferenceService',
  ownerKind: 'jointinferenceservice',
  restServices: true,
  references(job) {
    const spec = job.spec as unknown as Spec;
    return [
      { kind: 'Model', name: spec.cloudWorker.model.name, path: ['spec', 'cloudWorker', 'model', 'name'] },
      { kind: 'Model', name: spec.edgeWorker.model.name, path: ['spec', 'edgeWorker', 'model', 'name'] },
    ];
  },
  async start(rt) {
    const spec = rt.job.spec as unknown as Spec;
    const { name, namespace } = rt.job.metadata;
    const jobRef = { name, namespace, kind: 'jointinferenceservice' };
    const modelMount = (modelName: string) => {
      const model = rt.model(modelName);
      return {
        envName: 'MODEL_URL',
        urls: [
          {
            url: model.spec.url,
            access: 'read' as const,
            download: true,
            what: `Model ${modelName}`,
            secret: rt.credentials(model),
          },
        ],
      };
    };
    const port = await rt.port(BIG_MODEL_PORT, 'the cloud worker (BIG_MODEL_BIND_PORT)');
    rt.setStage('cloud worker starting');
    const cloud = await rt.startWorker({
      job: jobRef,
      workerType: 'cloud',
      template: spec.cloudWorker.template,
      env: {
        BIG_MODEL_BIND_PORT: String(port),
        NAMESPACE: namespace,
        SERVICE_NAME: name,
        WORKER_NAME: `cloudworker-${randomSuffix()}`,
      },
      mounts: [modelMount(spec.cloudWorker.model.name)],
    });
    // Sedna creates both at once and lets the edge retry; locally the edge starts once the cloud
    // answers, so its first samples are not all answered at the edge.
    const ready = await cloud.waitForPort(rt.hostIp, port, 60_000);
    if (!ready && cloud.phase !== 'Failed')
      rt.log(`the cloud worker does not listen on ${rt.hostIp}:${port} after 60 s; starting the edge anyway`, 'warn');
    if (cloud.phase === 'Failed') {
      rt.finish('Failed', cloud.failure ?? `${cloud.state.pod} failed`);
      return {};
    }
    const hem = spec.edgeWorker.hardExampleMining;
    const edge = await rt.startWorker({
      job: jobRef,
      workerType: 'edge',
      template: spec.edgeWorker.template,
      env: {
        BIG_MODEL_IP: rt.hostIp,
        BIG_MODEL_PORT: String(port),
        HEM_NAME: hem?.name ?? '',
        HEM_PARAMETERS: hemParameters(hem?.parameters),
        LC_SERVER: rt.lcServer,
        NAMESPACE: namespace,
        SERVICE_NAME: name,
        WORKER_NAME: `edgeworker-${randomSuffix()}`,
      },
      mounts: [modelMount(spec.edgeWorker.model.name)],
    });
    rt.setStage('serving');
    rt.setFact('cloud', `${rt.hostIp}:${port}/sedna/predict`);
    followService(rt, [cloud, edge]);
    return {
      onUpstream(message) {
        const info = message.content.output.ownerInfo;
        const inference = at(info, 'inferenceNumber');
        const hard = at(info, 'hardExampleNumber');
        if (typeof inference !== 'number' || typeof hard !== 'number') return;
        const reported = at(info, 'uploadCloudRatio');
        const ratio = typeof reported === 'number' ? reported : inference > 0 ? hard / inference : 0;
        rt.state.charts.ji.push({
          t: new Date().toISOString(),
          worker: 'edge',
          inferenceNumber: inference,
          hardExampleNumber: hard,
          ratio,
        });
        rt.setFact('inferences', `${inference} (${hard} hard, ${(ratio * 100).toFixed(1)} % to the cloud)`);
      },
    };
  },
};
