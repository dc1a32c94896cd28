/**
 * The job kinds `sedna run` knows. A new kind is one module (job-kind.ts) added here.
 */
import type { JobKindModule } from '../job-kind.js';
import { federatedLearning } from './federated-learning.js';
import { incrementalLearning } from './incremental-learning.js';
import { jointInference } from './joint-inference.js';
import { lifelongLearning } from './lifelong-learning.js';
import { featureExtraction, objectSearch, objectTracking, reidJob, videoAnalytics } from './multi-edge-inference.js';

export const JOB_KINDS: readonly JobKindModule[] = [
  jointInference,
  incrementalLearning,
  federatedLearning,
  lifelongLearning,
  featureExtraction,
  reidJob,
  videoAnalytics,
  objectSearch,
  objectTracking,
];

export function jobKind(kind: string): JobKindModule | undefined {
  return JOB_KINDS.find((k) => k.kind === kind);
}
