/** What a datasource hands to a model: samples with optional labels (`BaseDataSource` satisfies it). */
export interface Dataset<X = unknown, Y = unknown> {
  readonly x: readonly X[];
  readonly y?: readonly Y[] | undefined;
}
