/**
 * LifelongLearningJob: Sedna's GlobalManager state machine (lifelonglearningjob.go) and the
 * LocalController's lifelong-learning manager, in one loop, with the knowledge base the control
 * plane starts (Sedna's KB Deployment: `sedna kb`, a worker of the job here).
 *
 *   train/waiting   as incremental learning (staged-learning.ts): the train trigger on the
 *                   Dataset's new samples starts the train worker (OUTPUT_URL
 *                   `<outputDir>/train/<round>`, KB_SERVER, HAS_COMPLETED_INITIAL_TRAINING);
 *   eval/waiting    on its `train completed` report: the eval worker gets the trained models
 *                   (MODEL_URLS, the index), OUTPUT_URL `<outputDir>/eval/<round>` and the eval samples;
 *   deploy/waiting  on its `eval completed` report: the LC copies the evaluated index to
 *                   `<outputDir>/deploy/index.pkl` and the GM (re)starts the inference worker on it
 *                   (MODEL_URLS); the stage completes once it runs. No evaluated model: nothing to
 *                   deploy, the stage completes.
 * The job runs until stopped; it fails when the knowledge base or the inference worker gives up.
 */
import path from 'node:path';
import { notSupported } from '../../../common/errors.js';
import { schemeOf } from '../../../datasources/file-ops.js';
import type { ForwardedMessage } from '../../../testing/lc-emulator.js';
import { builtFile } from '../built-file.js';
import type { JobKindModule, JobRuntime, WorkerHandle } from '../job-kind.js';
import type { DatasetSpec, SednaResource } from '../resources.js';
import type { TriggerSpec } from '../triggers.js';
import type { PodTemplate, WorkerMount } from '../workload.js';
import { randomSuffix } from '../workload.js';
import { StagedLearningController, copyModel, metricLists, type ReportedModel } from './staged-learning.js';

/** Sedna's KB Service port (gm config knowledgeBaseServer.server). */
const KB_PORT = 9020;

interface Spec {
  dataset: { name: string; trainProb: number };
  outputDir: string;
  trainSpec: { template: PodTemplate; trigger: TriggerSpec };
  evalSpec: { template: PodTemplate };
  deploySpec: { template: PodTemplate };
}

function outputMount(nodePath: string): WorkerMount {
  return {
    envName: 'OUTPUT_URL',
    urls: [{ url: nodePath, access: 'write', download: false, what: 'the stage output' }],
  };
}

class LifelongLearningController extends StagedLearningController {
  private inference: WorkerHandle | undefined;
  private trainOutput: ReportedModel[] = [];
  private evalOutput: ReportedModel[] = [];
  private trainedOnce = false;

  constructor(
    rt: JobRuntime,
    private readonly spec: Spec,
    dataset: SednaResource<DatasetSpec>,
    private readonly kbServer: string,
  ) {
    super(rt, {
      kind: 'lifelonglearningjob',
      dataset,
      trainProb: spec.dataset.trainProb,
      trigger: spec.trainSpec.trigger,
      outputDir: spec.outputDir,
      lcNode: dataset.spec.nodeName ?? spec.trainSpec.template.spec.nodeName ?? '',
    });
  }

  async start(): Promise<void> {
    await this.prepare();
    this.rt.setFact('knowledge base', this.kbServer);
    await this.loop();
  }

  private stageOutput(stage: 'train' | 'eval'): string {
    return path.posix.join(this.spec.outputDir, stage, String(this.rounds));
  }

  protected startTrain(_round: number, dataNodePath: string): Promise<WorkerHandle> {
    return this.rt.startWorker({
      job: this.jobRef,
      workerType: 'train',
      template: this.spec.trainSpec.template,
      env: {
        ...this.baseEnv('train-worker'),
        KB_SERVER: this.kbServer,
        HAS_COMPLETED_INITIAL_TRAINING: String(this.trainedOnce),
      },
      mounts: [
        outputMount(this.stageOutput('train')),
        {
          envName: 'TRAIN_DATASET_URL',
          urls: [{ url: dataNodePath, access: 'read', download: true, what: 'the round samples' }],
        },
        this.originalDatasetMount(),
      ],
      restartPolicy: 'OnFailure',
    });
  }

  protected async startEval(): Promise<void> {
    if (this.trainOutput.length === 0) {
      this.fail('the train stage reported no model');
      return;
    }
    const dataNodePath = await this.writeEvalSamples();
    this.setCondition('eval', 'ready');
    this.stageWorker = await this.rt.startWorker({
      job: this.jobRef,
      workerType: 'eval',
      template: this.spec.evalSpec.template,
      env: { ...this.baseEnv('eval-worker'), KB_SERVER: this.kbServer },
      mounts: [
        {
          envName: 'MODEL_URLS',
          urls: this.trainOutput.map((m) => ({
            url: m.url,
            access: 'read' as const,
            download: true,
            what: `model ${m.url}`,
          })),
        },
        outputMount(this.stageOutput('eval')),
        {
          envName: 'TEST_DATASET_URL',
          urls: [{ url: dataNodePath, access: 'read', download: true, what: 'the eval samples' }],
        },
        this.originalDatasetMount(),
      ],
      restartPolicy: 'OnFailure',
    });
    this.setCondition('eval', 'running');
    this.watchStageWorker(this.stageWorker, 'eval');
  }

  /** `<outputDir>/deploy/index.pkl`, the inference worker's MODEL_URLS. */
  private get deployNodePath(): string {
    return `${this.spec.outputDir.replace(/\/+$/, '')}/deploy/index.pkl`;
  }

  protected async deploy(): Promise<void> {
    const evaluated = this.evalOutput[0];
    if (evaluated === undefined) {
      this.rt.log('the eval stage reported no model: nothing to deploy', 'info', 'lc');
      if (this.cycle !== undefined) this.cycle.outcome = 'nothing to deploy';
      this.completeDeploy();
      return;
    }
    const node = this.spec.deploySpec.template.spec.nodeName ?? this.lcNode;
    const source = this.rt.nodes.local(this.lcNode, evaluated.url);
    // The LC's copy; the deploy folder on the inference worker's node too when it has its own.
    for (const at of new Set([this.lcNode, node]))
      await copyModel(source, this.rt.nodes.local(at, this.deployNodePath));
    this.setCondition('deploy', 'ready');
    this.rt.log(`deploy: ${this.deployNodePath} ← ${evaluated.url}; (re)starting the inference worker`, 'info', 'lc');
    const old = this.inference;
    this.inference = undefined;
    await old?.stop();
    await this.startInference();
    this.completeDeploy();
  }

  private async startInference(): Promise<void> {
    const worker = await this.rt.startWorker({
      job: this.jobRef,
      workerType: 'inference',
      template: this.spec.deploySpec.template,
      // Sedna's GM gives the inference worker no KB_SERVER; with the run's token it needs the KB's
      // origin, the only one its downloads of the index's KB files send the token to (FileOps).
      env: { ...this.baseEnv('inferworker'), ...(this.rt.serviceToken ? { KB_SERVER: this.kbServer } : {}) },
      mounts: [
        {
          envName: 'MODEL_URLS',
          urls: [{ url: this.deployNodePath, access: 'write', download: false, what: 'the deployed index' }],
        },
      ],
    });
    this.inference = worker;
    void worker.done.then((phase) => {
      if (phase === 'Failed' && worker === this.inference)
        this.rt.finish('Failed', worker.failure ?? 'the inference worker failed');
    });
  }

  private completeDeploy(): void {
    if (this.cycle !== undefined) {
      this.cycle.deployedAt = new Date().toISOString();
      this.cycle.deployed = this.evalOutput.length > 0;
      this.cycle.outcome ??= 'deployed';
    }
    this.setCondition('deploy', 'completed');
    this.setCondition('train', 'waiting');
  }

  protected trained(models: ReportedModel[]): void {
    this.trainOutput = models;
    this.trainedOnce = true;
  }

  protected evaluated(models: ReportedModel[]): void {
    this.evalOutput = models;
    if (this.cycle !== undefined) this.cycle.newMetrics = metricLists(models[0]?.metrics);
  }

  onUpstream(message: ForwardedMessage, worker: string): void {
    this.onStageReport(message, worker);
  }
}

/**
 * The knowledge base as a worker of the job (Sedna's KB Deployment, `sedna kb`): its folder and
 * SQLite database on the train worker's node, on Sedna's port 9020 if free.
 */
async function startKnowledgeBase(
  rt: JobRuntime,
  node: string | undefined,
): Promise<{ url: string; worker: WorkerHandle }> {
  const { name, namespace } = rt.job.metadata;
  const port = await rt.port(KB_PORT, 'the knowledge base (KB_SERVER)');
  const dir = rt.nodes.local(node ?? '', path.posix.join('/var/lib/sedna/kb', namespace, name));
  const url = `http://127.0.0.1:${port}`;
  const worker = await rt.startWorker({
    job: { name, namespace, kind: 'lifelonglearningjob' },
    workerType: 'kb',
    role: 'knowledge base',
    template: {
      spec: {
        ...(node === undefined ? {} : { nodeName: node }),
        containers: [
          {
            name: 'kb',
            command: ['node', builtFile('../main.js'), 'kb', '--port', String(port)],
            env: [
              { name: 'KnowledgeBaseServer', value: url },
              { name: 'KnowledgeBasePath', value: dir },
              { name: 'KB_URL', value: `sqlite:///${path.join(dir, 'kb.sqlite3')}` },
            ],
          },
        ],
      },
    },
    env: { WORKER_NAME: `kb-${randomSuffix()}` },
    restartPolicy: 'Always',
  });
  const up = await worker.waitForPort('127.0.0.1', port, 60_000);
  if (!up && worker.phase === 'Running') rt.log(`the knowledge base does not listen on ${url} after 60 s`, 'warn');
  return { url, worker };
}

export const lifelongLearning: JobKindModule = {
  kind: 'LifelongLearningJob',
  ownerKind: 'lifelonglearningjob',
  restServices: true,
  references(job) {
    const spec = job.spec as unknown as Spec;
    return [{ kind: 'Dataset', name: spec.dataset.name, path: ['spec', 'dataset', 'name'] }];
  },
  async start(rt) {
    const spec = rt.job.spec as unknown as Spec;
    const dataset = rt.dataset(spec.dataset.name);
    if (schemeOf(dataset.spec.url) !== 'file')
      throw notSupported(
        `Dataset ${dataset.metadata.name} at ${dataset.spec.url} for a LifelongLearningJob under sedna run`,
        'the LocalController part reads the dataset file on the node: give a node path (mapped with --node-path)',
      );
    rt.setStage('knowledge base starting');
    const kb = await startKnowledgeBase(rt, spec.trainSpec.template.spec.nodeName);
    if (kb.worker.phase === 'Failed') {
      rt.finish('Failed', kb.worker.failure ?? 'the knowledge base failed');
      return {};
    }
    void kb.worker.done.then((phase) => {
      if (phase === 'Failed') rt.finish('Failed', kb.worker.failure ?? 'the knowledge base failed');
    });
    const controller = new LifelongLearningController(rt, spec, dataset, kb.url);
    await controller.start();
    return {
      onUpstream: (message, worker) => {
        controller.onUpstream(message, worker);
      },
    };
  },
};
