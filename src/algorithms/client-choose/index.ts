/**
 * Client choice (ClassFactory kind `client_choose`). Importing this module registers
 * `SimpleClientChoose` (Sedna's name) and `WeightedClientChoose`.
 */
import { ClassFactory, ClassType } from '../../common/class-factory.js';
import type { ClientChooseParams } from './base.js';
import { SimpleClientChoose } from './simple.js';
import { WeightedClientChoose } from './weighted.js';

export type { ClientCandidate, ClientChooser, ClientChooseParams } from './base.js';
export { SimpleClientChoose } from './simple.js';
export { WeightedClientChoose } from './weighted.js';

/** Parameters of each client chooser by name (augment it for your own). */
export interface ClientChooseParamsMap {
  SimpleClientChoose: ClientChooseParams;
  WeightedClientChoose: ClientChooseParams;
}

declare module '../../common/class-factory.js' {
  interface AlgorithmParamsMap {
    client_choose: ClientChooseParamsMap;
  }
}

export const BUILTIN_CLIENT_CHOOSERS = [SimpleClientChoose, WeightedClientChoose] as const;

for (const chooser of BUILTIN_CLIENT_CHOOSERS) {
  ClassFactory.registerBuiltin(chooser, ClassType.CLIENT_CHOOSE, chooser.algorithmName);
}
