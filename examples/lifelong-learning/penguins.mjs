// Shared by the lifelong-learning workers: what the penguin data looks like, how it is read, and
// the model every task gets.
//
// The data (test/fixtures/data/penguins.csv, see the README) is Palmer Station's penguins: one row
// per bird, the label `Sex`, and two task attributes, `Species` and `Island`. Each species and
// island is a task: how heavy or long-beaked a male is depends on the species, so a model per task
// tells the sexes apart better than one model for all birds.
import { CSVDataParse } from 'sedna-sdk';
import { ClassicalEstimator } from 'sedna-sdk/backend/classical';

export const LABEL = 'Sex';
/** The task attributes: a task is one species on one island. */
export const ATTRIBUTES = ['Species', 'Island'];
export const TASK_DEFINITION = { method: 'TaskDefinitionByDataAttr', param: { attribute: ATTRIBUTES } };

/** A fresh, untrained model: a CART decision tree (one per task, and the global one). */
export const createEstimator = () => ClassicalEstimator.create({ algorithm: 'decision-tree', maxDepth: 4 });

/**
 * A penguin CSV (header, the label column `Sex`) as the table the job reads: named columns, numeric
 * measurements, string attributes.
 */
export async function readPenguins(file, dataType = 'train') {
  return new CSVDataParse(dataType, { label: LABEL }).parse(file);
}
