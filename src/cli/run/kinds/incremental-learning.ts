/**
 * IncrementalLearningJob: Sedna's GlobalManager state machine (incrementallearningjob.go) and the
 * LocalController's triggers (managers/incrementallearning), in one loop.
 *
 * The inference worker starts at once and serves throughout. Then, cycle after cycle:
 *   train/waiting   the LC reads the Dataset every check period; new samples are split by
 *                   trainProb; when the train trigger holds (num_of_samples = train samples, and
 *                   the timer window), the round's samples are written and the train worker starts
 *                   (BASE_MODEL_URL: the initial model, later the last round's model);
 *   eval/waiting    on the train worker's `train completed` report: the eval worker compares the new
 *                   model with the deployed one (MODEL_URLS new;deployed) on the eval samples;
 *   deploy/waiting  on its `eval completed` report: `<metric>_delta` = new - deployed, and the deploy
 *                   trigger decides. Deploy copies the new model over the deploy Model's file and,
 *                   with hotUpdateEnabled, next to the hot-update file, which it rewrites; the
 *                   inference worker's `deploy` report completes the stage (without hot update the
 *                   inference worker restarts instead);
 *   then train/waiting again. A failed stage goes back to train/waiting, as in Sedna.
 * The job runs until stopped; it fails only when the inference worker gives up.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { notSupported } from '../../../common/errors.js';
import { schemeOf } from '../../../datasources/file-ops.js';
import type { ForwardedMessage } from '../../../testing/lc-emulator.js';
import { hemParameters, type JobKindModule, type JobRuntime, type WorkerHandle } from '../job-kind.js';
import type { DatasetSpec, ModelSpec, SednaResource } from '../resources.js';
import { conditionHolds, describeTrigger, type TriggerSpec } from '../triggers.js';
import type { PodTemplate } from '../workload.js';
import { StagedLearningController, copyModel, metricLists, type ReportedModel } from './staged-learning.js';

interface Spec {
  dataset: { name: string; trainProb: number };
  initialModel: { name: string };
  outputDir: string;
  trainSpec: { template: PodTemplate; trigger: TriggerSpec };
  evalSpec: { template: PodTemplate; initialEvalModel?: { name: string } };
  deploySpec: {
    model: { name: string; hotUpdateEnabled?: boolean; pollPeriodSeconds?: number };
    trigger: TriggerSpec;
    hardExampleMining: { name: string; parameters?: { key: string; value: string }[] };
    template: PodTemplate;
  };
}

/** Go's time.Now().String(), the LC's `model_update_time`. */
function goTimeNow(): string {
  const iso = new Date().toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}000000 +0000 UTC`;
}

class IncrementalLearningController extends StagedLearningController {
  private inference: WorkerHandle | undefined;
  /** The last train stage's reported models (results[0] new model, results[1] to continue from). */
  private trainOutput: ReportedModel[] = [];
  private evalInput: { trained: ReportedModel; deployed: ReportedModel } | undefined;

  constructor(
    rt: JobRuntime,
    private readonly spec: Spec,
    dataset: SednaResource<DatasetSpec>,
    private readonly deployModel: SednaResource<ModelSpec>,
    private readonly initialModel: SednaResource<ModelSpec>,
  ) {
    super(rt, {
      kind: 'incrementallearningjob',
      dataset,
      trainProb: spec.dataset.trainProb,
      trigger: spec.trainSpec.trigger,
      outputDir: spec.outputDir,
      lcNode: dataset.spec.nodeName ?? spec.trainSpec.template.spec.nodeName ?? '',
    });
  }

  async start(): Promise<void> {
    await this.prepare();
    await this.startInference();
    this.rt.setFact('deploy trigger', describeTrigger(this.spec.deploySpec.trigger));
    await this.loop();
  }

  private async startInference(): Promise<void> {
    const hem = this.spec.deploySpec.hardExampleMining;
    const hot = this.spec.deploySpec.model.hotUpdateEnabled === true;
    this.inference = await this.rt.startWorker({
      job: this.jobRef,
      workerType: 'inference',
      template: this.spec.deploySpec.template,
      env: {
        ...this.baseEnv('inferworker'),
        HEM_NAME: hem.name,
        HEM_PARAMETERS: hemParameters(hem.parameters),
      },
      mounts: [
        {
          envName: 'MODEL_URL',
          urls: [this.modelUrl(this.deployModel)],
        },
      ],
      ...(hot ? { hotUpdate: { pollPeriodSeconds: this.spec.deploySpec.model.pollPeriodSeconds ?? 60 } } : {}),
    });
    const worker = this.inference;
    void worker.done.then((phase) => {
      if (phase === 'Failed' && worker === this.inference)
        this.rt.finish('Failed', worker.failure ?? 'the inference worker failed');
    });
  }

  private modelUrl(model: SednaResource<ModelSpec>) {
    return {
      url: model.spec.url,
      access: 'read' as const,
      download: true,
      what: `Model ${model.metadata.name}`,
      secret: this.rt.credentials(model),
    };
  }

  protected async startTrain(round: number, dataNodePath: string): Promise<WorkerHandle> {
    const base =
      round <= 1
        ? this.initialModel.spec.url
        : ((this.trainOutput[1] ?? this.trainOutput[0])?.url ?? this.initialModel.spec.url);
    const outputNodePath = path.posix.join(this.spec.outputDir, 'train', String(round));
    return this.rt.startWorker({
      job: this.jobRef,
      workerType: 'train',
      template: this.spec.trainSpec.template,
      env: this.baseEnv('train-worker'),
      mounts: [
        { envName: 'BASE_MODEL_URL', urls: [{ ...this.modelUrl(this.initialModel), url: base }] },
        {
          envName: 'MODEL_URL',
          urls: [{ url: outputNodePath, access: 'write', download: false, what: 'the round output' }],
        },
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
    const trained = this.trainOutput[0];
    if (trained === undefined) {
      this.fail('the train stage reported no model');
      return;
    }
    const deployed: ReportedModel = { format: this.deployModel.spec.format, url: this.deployModel.spec.url };
    this.evalInput = { trained, deployed };
    const dataNodePath = await this.writeEvalSamples();
    this.setCondition('eval', 'ready');
    this.stageWorker = await this.rt.startWorker({
      job: this.jobRef,
      workerType: 'eval',
      template: this.spec.evalSpec.template,
      env: this.baseEnv('eval-worker'),
      mounts: [
        {
          envName: 'MODEL_URLS',
          urls: [trained, deployed].map((m) => ({
            url: m.url,
            access: 'read' as const,
            download: true,
            what: `model ${m.url}`,
          })),
        },
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

  protected async deploy(): Promise<void> {
    const input = this.evalInput;
    const [newer, older] = [this.cycle?.newMetrics, this.cycle?.oldMetrics];
    if (input === undefined || newer === undefined || older === undefined) {
      this.fail('the eval stage reported no metrics for both models');
      return;
    }
    const deltas: Record<string, number[]> = {};
    const stats: Record<string, unknown> = {};
    for (const [metric, values] of Object.entries(newer)) {
      stats[metric] = values;
      deltas[`${metric}_delta`] = values.map((v, i) => v - (older[metric]?.[i] ?? Number.NaN));
      stats[`${metric}_delta`] = deltas[`${metric}_delta`];
    }
    const trigger = this.spec.deploySpec.trigger;
    const needed = trigger.condition === undefined ? true : conditionHolds(trigger.condition, stats);
    if (this.cycle !== undefined) {
      this.cycle.deltas = deltas;
      this.cycle.trigger = describeTrigger(trigger);
      this.cycle.deployed = needed;
    }
    if (!needed) {
      this.rt.log(
        `deploy trigger (${describeTrigger(trigger)}) does not hold: ${JSON.stringify(deltas)}; the deployed model stays`,
        'info',
        'lc',
      );
      if (this.cycle !== undefined) this.cycle.outcome = 'kept the deployed model';
      this.setCondition('deploy', 'completed');
      this.setCondition('train', 'waiting');
      return;
    }
    const node = this.spec.deploySpec.template.spec.nodeName ?? this.lcNode;
    const trainedLocal = this.rt.nodes.local(this.lcNode, input.trained.url);
    const deployLocal = this.rt.nodes.local(node, this.deployModel.spec.url);
    this.setCondition('deploy', 'ready');
    if (this.spec.deploySpec.model.hotUpdateEnabled === true) {
      const hotDir = this.rt.nodes.local(
        node,
        path.posix.join('/var/lib/sedna/model-hot-update', this.jobRef.namespace, this.jobRef.kind, this.jobRef.name),
      );
      const hotModel = path.join(hotDir, path.basename(trainedLocal));
      await copyModel(trainedLocal, hotModel);
      await copyModel(trainedLocal, deployLocal);
      // model_path is the path the inference worker opens: the container's /model-hot-update/<file>
      // in a pod, its local folder here.
      const config = { model_config: { model_path: hotModel, model_update_time: goTimeNow() } };
      const configFile = path.join(hotDir, 'model_config.json');
      await fs.writeFile(`${configFile}.tmp`, JSON.stringify(config, null, 1));
      await fs.rename(`${configFile}.tmp`, configFile);
      this.rt.log(
        `deploy: ${this.deployModel.metadata.name} ← ${input.trained.url}; hot update file written, the inference worker loads it at its next poll`,
        'info',
        'lc',
      );
      this.setCondition('deploy', 'running');
      return;
    }
    await copyModel(trainedLocal, deployLocal);
    this.rt.log(
      `deploy: ${this.deployModel.metadata.name} ← ${input.trained.url}; restarting the inference worker`,
      'info',
      'lc',
    );
    const old = this.inference;
    this.inference = undefined;
    await old?.stop();
    await this.startInference();
    this.completeDeploy();
  }

  private completeDeploy(): void {
    if (this.cycle !== undefined) {
      this.cycle.deployedAt = new Date().toISOString();
      this.cycle.outcome ??= 'deployed';
    }
    this.setCondition('deploy', 'completed');
    this.setCondition('train', 'waiting');
  }

  protected trained(models: ReportedModel[]): void {
    this.trainOutput = models;
  }

  protected evaluated([newer, older]: ReportedModel[]): void {
    if (this.cycle === undefined) return;
    this.cycle.newMetrics = metricLists(newer?.metrics);
    this.cycle.oldMetrics = metricLists(older?.metrics);
  }

  onUpstream(message: ForwardedMessage, worker: string): void {
    if (this.onStageReport(message, worker)) return;
    const { phase, status } = message.content;
    if (phase === 'deploy' && this.stage === 'deploy' && this.condition === 'running') {
      if (status === 'completed') this.completeDeploy();
      else if (status === 'failed')
        this.fail('the inference worker could not load the new model ("deploy failed"); it keeps the old one');
    }
  }
}

export const incrementalLearning: JobKindModule = {
  kind: 'IncrementalLearningJob',
  ownerKind: 'incrementallearningjob',
  references(job) {
    const spec = job.spec as unknown as Spec;
    return [
      { kind: 'Dataset', name: spec.dataset.name, path: ['spec', 'dataset', 'name'] },
      { kind: 'Model', name: spec.initialModel.name, path: ['spec', 'initialModel', 'name'] },
      { kind: 'Model', name: spec.deploySpec.model.name, path: ['spec', 'deploySpec', 'model', 'name'] },
    ];
  },
  async start(rt) {
    const spec = rt.job.spec as unknown as Spec;
    const dataset = rt.dataset(spec.dataset.name);
    if (schemeOf(dataset.spec.url) !== 'file')
      throw notSupported(
        `Dataset ${dataset.metadata.name} at ${dataset.spec.url} for an IncrementalLearningJob under sedna run`,
        'the LocalController part reads the dataset file on the node: give a node path (mapped with --node-path)',
      );
    const controller = new IncrementalLearningController(
      rt,
      spec,
      rt.dataset(spec.dataset.name),
      rt.model(spec.deploySpec.model.name),
      rt.model(spec.initialModel.name),
    );
    await controller.start();
    return {
      onUpstream: (message, worker) => {
        controller.onUpstream(message, worker);
      },
    };
  },
};
