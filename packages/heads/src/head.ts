import type { tf } from '@vqlm/runtime';

/**
 * What every trainable head offers the trainer and the model bundle. Weight
 * names are local to the head (e.g. `fc1.kernel`); a bundle prefixes them
 * (e.g. `quality_head.fc1.kernel`) when it writes one safetensors file.
 * Kernels are stored as [in, out] (tfjs/Keras layout, not PyTorch's [out, in]).
 */
export interface TrainableHead {
  /** The parameters, to pass to an optimizer. */
  readonly trainableVariables: readonly tf.Variable[];
  /** Name → shape of every weight, for validating a bundle before loading it. */
  weightShapes(): Record<string, number[]>;
  /**
   * Name → tensor of every weight. The tensors are the head's own variables
   * (no copies): read or save them, do not dispose them.
   */
  getWeights(): Record<string, tf.Tensor>;
  /**
   * Copies values into the weights. Every name must be given, none unknown,
   * and each shape must match; otherwise throws `HeadError` `E_HEAD_WEIGHTS`
   * and changes nothing. The caller keeps ownership of the tensors passed in.
   */
  setWeights(weights: Readonly<Record<string, tf.Tensor>>): void;
  /** Frees the variables; the head cannot be used afterwards. */
  dispose(): void;
}
