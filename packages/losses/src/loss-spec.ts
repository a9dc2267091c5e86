import type { tf } from '@vqlm/runtime';

/**
 * A loss as data: the trainer picks one by `name` from a config file and calls
 * `compute` with a record of named tensors.
 */
export interface LossSpec {
  /** Name used in configs, e.g. `rankingHinge`. */
  readonly name: string;
  /** Where the formula comes from, e.g. `CP-LLM Eq. 1`. */
  readonly reference: string;
  /** Names of the tensors `compute` requires. */
  readonly inputs: readonly string[];
  /** Names of tensors `compute` also accepts. */
  readonly optionalInputs: readonly string[];
  /**
   * Computes the loss. Throws `LossError` `E_LOSS_ARG` when a required input
   * is missing or an input name is unknown.
   */
  compute(inputs: Readonly<Record<string, tf.Tensor>>): tf.Scalar;
}
