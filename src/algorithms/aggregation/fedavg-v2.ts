/**
 * `FedAvgV2`: Sedna's aggregation for its v2 federated-learning API (`FederatedLearningV2`),
 * where Sedna only held `parameters = {"type": "fedavg"}` and Plato averaged. Here it averages:
 * it is FedAvg (the same streaming float64 sum) and keeps Sedna's `parameters` for code that
 * reads them. With client selection (`SimpleClientChoose`), the round's aggregate is the mean of
 * the chosen clients' updates, which is all the server hands it.
 */
import { FedAvg } from './fedavg.js';

export class FedAvgV2 extends FedAvg {
  static override readonly algorithmName: string = 'FedAvgV2';
  override readonly name: string = FedAvgV2.algorithmName;
  /** Sedna's (and Plato's) description of the algorithm. */
  readonly parameters: Readonly<{ type: 'fedavg' }> = Object.freeze({ type: 'fedavg' });
}
