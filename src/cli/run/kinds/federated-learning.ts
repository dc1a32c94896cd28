/**
 * FederatedLearningJob (Sedna's federatedlearning controller): the aggregation worker first, on
 * Sedna's fixed port 7363, then one training worker per `trainingWorkers` entry, pointed at it.
 * Pods restart OnFailure; the job succeeds when every pod has succeeded and fails when one gives
 * up. The trainers' `train` reports (round, loss, accuracy) feed the chart.
 */
import { at, followJob, type JobKindModule, type WorkerHandle } from '../job-kind.js';
import type { PodTemplate, WorkerMount } from '../workload.js';
import { randomSuffix } from '../workload.js';

/** Sedna's aggregation port. */
const AGG_PORT = 7363;

interface Spec {
  aggregationWorker: { model: { name: string }; template: PodTemplate };
  trainingWorkers: { dataset: { name: string }; template: PodTemplate }[];
  pretrainedModel?: { name: string };
  transmitter?: { s3?: { aggDataPath: string; credentialName?: string }; ws?: Record<string, unknown> };
}

function firstNumber(value: unknown): number | undefined {
  const v = Array.isArray(value) ? (value as unknown[])[0] : value;
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export const federatedLearning: JobKindModule = {
  kind: 'FederatedLearningJob',
  ownerKind: 'federatedlearningjob',
  references(job) {
    const spec = job.spec as unknown as Spec;
    return [
      { kind: 'Model', name: spec.aggregationWorker.model.name, path: ['spec', 'aggregationWorker', 'model', 'name'] },
      ...(spec.pretrainedModel === undefined
        ? []
        : [{ kind: 'Model' as const, name: spec.pretrainedModel.name, path: ['spec', 'pretrainedModel', 'name'] }]),
      ...spec.trainingWorkers.map((w, i) => ({
        kind: 'Dataset' as const,
        name: w.dataset.name,
        path: ['spec', 'trainingWorkers', i, 'dataset', 'name'],
      })),
    ];
  },
  async start(rt) {
    const spec = rt.job.spec as unknown as Spec;
    const { name, namespace } = rt.job.metadata;
    const jobRef = { name, namespace, kind: 'federatedlearningjob' };
    const model = rt.model(spec.aggregationWorker.model.name);
    const participants = String(spec.trainingWorkers.length);
    const modelMount: WorkerMount = {
      envName: 'MODEL_URL',
      urls: [
        {
          url: model.spec.url,
          access: 'write',
          download: false,
          what: `Model ${model.metadata.name}`,
          secret: rt.credentials(model),
        },
      ],
    };
    const shared: WorkerMount[] = [modelMount];
    if (spec.pretrainedModel !== undefined) {
      const pretrained = rt.model(spec.pretrainedModel.name);
      shared.push({
        envName: 'PRETRAINED_MODEL_URL',
        urls: [
          {
            url: pretrained.spec.url,
            access: 'read',
            download: true,
            what: `Model ${pretrained.metadata.name}`,
            secret: rt.credentials(pretrained),
          },
        ],
      });
    }
    const transmitter: Record<string, string> = {};
    if (spec.transmitter?.s3 !== undefined) {
      transmitter.TRANSMITTER = 's3';
      transmitter.AGG_DATA_PATH = spec.transmitter.s3.aggDataPath;
    } else if (spec.transmitter?.ws !== undefined) transmitter.TRANSMITTER = 'ws';

    // The round's admission (docs/security.md): a per-job token in a file for the aggregator and
    // every trainer, so no other process on this machine or network joins the round. Not Sedna's
    // (its GM injects none): a template that sets its own token keeps it; --no-fl-token for
    // trainers that send none (Sedna's Python ones).
    const templates = [spec.aggregationWorker.template, ...spec.trainingWorkers.map((t) => t.template)];
    const ownToken = templates.some((t) =>
      t.spec.containers.some((c) => (c.env ?? []).some((e) => e.name === 'AGG_TOKEN' || e.name === 'AGG_TOKEN_FILE')),
    );
    const tokenFile = ownToken ? undefined : await rt.jobTokenFile();
    const token: Record<string, string> = tokenFile === undefined ? {} : { AGG_TOKEN_FILE: tokenFile };
    if (tokenFile !== undefined) {
      rt.log('the round takes a per-job token (AGG_TOKEN_FILE for the aggregator and each trainer)');
    }

    const port = await rt.port(AGG_PORT, 'the aggregation worker (AGG_BIND_PORT)');
    rt.setStage('aggregator starting');
    const aggregator = await rt.startWorker({
      job: jobRef,
      workerType: 'aggregation',
      role: 'aggregator',
      template: spec.aggregationWorker.template,
      env: {
        NAMESPACE: namespace,
        WORKER_NAME: `aggworker-${randomSuffix()}`,
        JOB_NAME: name,
        AGG_BIND_PORT: String(port),
        PARTICIPANTS_COUNT: participants,
        ...transmitter,
        ...token,
      },
      mounts: shared,
      restartPolicy: 'OnFailure',
    });
    const workers: WorkerHandle[] = [aggregator];
    const ready = await aggregator.waitForPort(rt.hostIp, port, 60_000);
    if (aggregator.phase === 'Failed') {
      rt.finish('Failed', aggregator.failure ?? 'the aggregation worker failed');
      return {};
    }
    if (!ready)
      rt.log(`the aggregator does not listen on ${rt.hostIp}:${port} after 60 s; starting the trainers anyway`, 'warn');
    for (const [i, trainer] of spec.trainingWorkers.entries()) {
      const dataset = rt.dataset(trainer.dataset.name);
      workers.push(
        await rt.startWorker({
          job: jobRef,
          workerType: 'train',
          role: `trainer ${i + 1}`,
          template: trainer.template,
          env: {
            AGG_PORT: String(port),
            AGG_IP: rt.hostIp,
            WORKER_NAME: `trainworker-${randomSuffix()}`,
            JOB_NAME: name,
            PARTICIPANTS_COUNT: participants,
            NAMESPACE: namespace,
            MODEL_NAME: model.metadata.name,
            DATASET_NAME: dataset.metadata.name,
            LC_SERVER: rt.lcServer,
            ...transmitter,
            ...token,
          },
          mounts: [
            ...shared,
            {
              envName: 'TRAIN_DATASET_URL',
              urls: [
                {
                  url: dataset.spec.url,
                  access: 'read',
                  download: false,
                  what: `Dataset ${dataset.metadata.name}`,
                  secret: rt.credentials(dataset),
                },
              ],
            },
          ],
          restartPolicy: 'OnFailure',
        }),
      );
    }
    rt.setStage('training');
    rt.setFact('trainers', participants);
    followJob(rt, workers);

    // Round → the trainers' latest loss/accuracy for that round (their mean is the chart's point).
    type RoundMetrics = { loss?: number | undefined; accuracy?: number | undefined; samples?: number | undefined };
    const rounds = new Map<number, Map<string, RoundMetrics>>();
    return {
      onUpstream(message, reporter) {
        if (message.content.phase !== 'train') return;
        const round = at(message.content.output.ownerInfo, 'currentRound');
        if (typeof round !== 'number') return;
        const metrics = (at(message.content.output.models, 0, 'metrics') ?? {}) as Record<string, unknown>;
        const perRound = rounds.get(round) ?? new Map<string, RoundMetrics>();
        rounds.set(round, perRound);
        perRound.set(reporter, {
          loss: firstNumber(metrics.loss),
          accuracy: firstNumber(metrics.accuracy ?? metrics.acc), // TF.js names it acc
          samples: firstNumber(at(message.content.output.ownerInfo, 'sampleCount')),
        });
        const values = [...perRound.values()];
        const mean = (key: 'loss' | 'accuracy'): number | undefined => {
          const xs = values.map((v) => v[key]).filter((x): x is number => x !== undefined);
          return xs.length === 0 ? undefined : xs.reduce((a, b) => a + b, 0) / xs.length;
        };
        const point = {
          round,
          t: new Date().toISOString(),
          loss: mean('loss'),
          accuracy: mean('accuracy'),
          samples: values[0]?.samples,
        };
        const chart = rt.state.charts.fl;
        const existing = chart.findIndex((p) => p.round === round);
        const clean = Object.fromEntries(Object.entries(point).filter(([, v]) => v !== undefined)) as typeof point;
        if (existing >= 0) chart[existing] = clean;
        else chart.push(clean);
        rt.setStage(message.content.status === 'completed' ? 'trainers finishing' : `round ${round}`);
      },
    };
  },
};
