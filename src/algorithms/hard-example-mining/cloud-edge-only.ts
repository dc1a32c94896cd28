/**
 * `CloudOnly` and `EdgeOnly` (Sedna HEAD): every sample is hard (all go to the cloud), or none is
 * (the edge answers everything). Useful as baselines and for routing by configuration alone.
 */
import type { HardExampleFilter } from './base.js';

export class CloudOnlyFilter implements HardExampleFilter {
  static readonly algorithmName = 'CloudOnly';
  static readonly paramNames = [] as const;
  readonly name = CloudOnlyFilter.algorithmName;

  isHard(_input?: unknown): boolean {
    return true;
  }
}

export class EdgeOnlyFilter implements HardExampleFilter {
  static readonly algorithmName = 'EdgeOnly';
  static readonly paramNames = [] as const;
  readonly name = EdgeOnlyFilter.algorithmName;

  isHard(_input?: unknown): boolean {
    return false;
  }
}
