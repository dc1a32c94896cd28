/**
 * Sedna's wire constants (spec §5.0): the resource kinds workers report as `ownerKind`, the
 * report statuses and kinds. The LocalController routes a report by `ownerKind` to the manager of
 * that name and silently drops any other value.
 */
export const K8sResourceKind = {
  DEFAULT: 'default',
  REID_JOB: 'reidjob',
  VIDEO_ANALYTICS_JOB: 'videoanalyticsjob',
  FEATURE_EXTRACTION_SERVICE: 'featureextractionservice',
  JOINT_INFERENCE_SERVICE: 'jointinferenceservice',
  FEDERATED_LEARNING_JOB: 'federatedlearningjob',
  INCREMENTAL_LEARNING_JOB: 'incrementallearningjob',
  LIFELONG_LEARNING_JOB: 'lifelonglearningjob',
} as const;
export type ResourceKind = (typeof K8sResourceKind)[keyof typeof K8sResourceKind];

export const K8sResourceKindStatus = {
  COMPLETED: 'completed',
  FAILED: 'failed',
  RUNNING: 'running',
} as const;
export type ReportStatus = (typeof K8sResourceKindStatus)[keyof typeof K8sResourceKindStatus];

/** The `kind` of a report: the stage of the job the worker runs. */
export type ReportKind = 'train' | 'eval' | 'deploy' | 'inference';
