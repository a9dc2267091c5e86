import { tf } from '@vqlm/runtime';
import { EncoderError } from './errors.js';

/** How a parameter is initialised. */
export type ParamInit =
  | { readonly kind: 'zeros' }
  | { readonly kind: 'ones' }
  | { readonly kind: 'normal'; readonly std: number };

/**
 * Named parameters of one module. When `trainable`, each is a `tf.Variable`
 * (updated in place by an optimizer); when frozen, a plain kept tensor.
 * Names are the module's internal names (see the README's name map).
 */
export class ParamStore {
  readonly trainable: boolean;
  private readonly tensors = new Map<string, tf.Tensor>();
  private seed: number;
  private disposed = false;

  constructor(trainable: boolean, seed: number) {
    this.trainable = trainable;
    this.seed = seed;
  }

  /** Creates a parameter with a seeded initialiser (truncated normal for `normal`). */
  create(name: string, shape: number[], init: ParamInit): tf.Tensor {
    if (this.tensors.has(name)) throw new EncoderError('E_ARG', `parameter ${name} already exists`);
    const seed = this.seed++;
    const value = tf.tidy(() => {
      switch (init.kind) {
        case 'zeros':
          return tf.zeros(shape);
        case 'ones':
          return tf.ones(shape);
        case 'normal':
          return tf.truncatedNormal(shape, 0, init.std, 'float32', seed);
      }
    });
    return this.adopt(name, value);
  }

  private adopt(name: string, value: tf.Tensor): tf.Tensor {
    let stored: tf.Tensor;
    if (this.trainable) {
      stored = tf.variable(value, true);
      value.dispose();
    } else {
      stored = tf.keep(value);
    }
    this.tensors.set(name, stored);
    return stored;
  }

  /** The parameter `name`; throws `E_ARG` when there is none. */
  get(name: string): tf.Tensor {
    this.assertLive();
    const t = this.tensors.get(name);
    if (!t) throw new EncoderError('E_ARG', `no parameter named ${name}`);
    return t;
  }

  /** Parameter names in creation order. */
  names(): string[] {
    return [...this.tensors.keys()];
  }

  /** Shape of parameter `name`. */
  shape(name: string): number[] {
    return this.get(name).shape.slice();
  }

  /**
   * Replaces the values of `name` (same shape required; `E_WEIGHTS` names the
   * parameter and both shapes otherwise). The tensor is copied, not taken.
   */
  set(name: string, value: tf.Tensor): void {
    const current = this.get(name);
    if (!tf.util.arraysEqual(current.shape, value.shape)) {
      throw new EncoderError(
        'E_WEIGHTS',
        `${name}: expected shape [${current.shape.join(', ')}], got [${value.shape.join(', ')}]`,
      );
    }
    if (current instanceof tf.Variable) {
      current.assign(value);
    } else {
      current.dispose();
      this.tensors.set(name, tf.keep(tf.clone(value)));
    }
  }

  /** The trainable variables (empty when frozen), in creation order. */
  variables(): tf.Variable[] {
    this.assertLive();
    if (!this.trainable) return [];
    return [...this.tensors.values()] as tf.Variable[];
  }

  /** All parameter values as named tensors (not copies; do not dispose). */
  entries(): [string, tf.Tensor][] {
    this.assertLive();
    return [...this.tensors.entries()];
  }

  /** Number of scalar parameters. */
  count(): number {
    let n = 0;
    for (const t of this.tensors.values()) n += t.size;
    return n;
  }

  /** Frees every parameter. Further use throws `E_DISPOSED`. */
  dispose(): void {
    if (this.disposed) return;
    for (const t of this.tensors.values()) t.dispose();
    this.tensors.clear();
    this.disposed = true;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  private assertLive(): void {
    if (this.disposed) throw new EncoderError('E_DISPOSED', 'parameters used after dispose()');
  }
}
