import type { tf } from '@vqlm/runtime';
import { EncoderError, checkInteger } from './errors.js';
import { dense } from './layers.js';
import { ParamStore } from './params.js';

/** Options of a {@link Projector}. */
export interface ProjectorOptions {
  /** Variables (default) or frozen tensors. */
  readonly trainable?: boolean;
  /** Initialiser seed (weights truncated normal, std 0.02; bias 0). */
  readonly seed?: number;
}

/**
 * Linear projector from encoder width to the model width D:
 * `[..., inDim]` → `[..., outDim]`. Parameters `weight [inDim, outDim]`, `bias [outDim]`.
 */
export class Projector {
  readonly inDim: number;
  readonly outDim: number;
  readonly params: ParamStore;

  constructor(inDim: number, outDim: number, options: ProjectorOptions = {}) {
    checkInteger('inDim', inDim);
    checkInteger('outDim', outDim);
    this.inDim = inDim;
    this.outDim = outDim;
    this.params = new ParamStore(options.trainable ?? true, options.seed ?? 0);
    this.params.create('weight', [inDim, outDim], { kind: 'normal', std: 0.02 });
    this.params.create('bias', [outDim], { kind: 'zeros' });
  }

  /**
   * @param x shape `[..., inDim]`
   * @returns shape `[..., outDim]`
   */
  apply(x: tf.Tensor): tf.Tensor {
    if (x.rank < 1 || x.shape[x.rank - 1] !== this.inDim) {
      throw new EncoderError('E_SHAPE', `x: expected shape [..., ${this.inDim}], got [${x.shape.join(', ')}]`);
    }
    return dense(x, this.params.get('weight'), this.params.get('bias'));
  }

  trainableVariables(): tf.Variable[] {
    return this.params.variables();
  }

  dispose(): void {
    this.params.dispose();
  }
}
