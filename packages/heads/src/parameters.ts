import { tf } from '@vqlm/runtime';
import type { Rng } from '@vqlm/runtime';
import { shapeText } from './check.js';
import { HeadError } from './errors.js';

/**
 * A named set of trainable variables with the weight-map logic shared by the
 * heads (internal).
 */
export class ParameterSet {
  private readonly variables = new Map<string, tf.Variable>();
  private disposed = false;

  constructor(private readonly owner: string) {}

  /** Adds a variable initialised from `values` (row-major, float32). */
  add(name: string, shape: number[], values: Float32Array): tf.Variable {
    const variable = tf.tidy(() => tf.variable(tf.tensor(values, shape, 'float32'), true));
    this.variables.set(name, variable);
    return variable;
  }

  get(name: string): tf.Variable {
    this.assertLive();
    const v = this.variables.get(name);
    if (v === undefined) throw new HeadError('E_HEAD_ARG', `${this.owner}: no weight named ${name}`);
    return v;
  }

  list(): tf.Variable[] {
    this.assertLive();
    return [...this.variables.values()];
  }

  shapes(): Record<string, number[]> {
    this.assertLive();
    const out: Record<string, number[]> = {};
    for (const [name, v] of this.variables) out[name] = [...v.shape];
    return out;
  }

  weights(): Record<string, tf.Tensor> {
    this.assertLive();
    return Object.fromEntries(this.variables);
  }

  assign(weights: Readonly<Record<string, tf.Tensor>>): void {
    this.assertLive();
    const where = `${this.owner}.setWeights`;
    for (const name of Object.keys(weights)) {
      if (!this.variables.has(name)) {
        throw new HeadError(
          'E_HEAD_WEIGHTS',
          `${where}: unknown weight ${name} (expected ${[...this.variables.keys()].join(', ')})`,
        );
      }
    }
    for (const [name, v] of this.variables) {
      const given = weights[name];
      if (given === undefined) throw new HeadError('E_HEAD_WEIGHTS', `${where}: missing weight ${name} of shape ${shapeText(v.shape)}`);
      const same = given.shape.length === v.shape.length && given.shape.every((d, i) => d === v.shape[i]);
      if (!same) {
        throw new HeadError(
          'E_HEAD_WEIGHTS',
          `${where}: weight ${name} must have shape ${shapeText(v.shape)}, got ${shapeText(given.shape)}`,
        );
      }
      if (given.dtype !== 'float32') {
        throw new HeadError('E_HEAD_WEIGHTS', `${where}: weight ${name} must have dtype float32, got ${given.dtype}`);
      }
    }
    for (const [name, v] of this.variables) v.assign(weights[name]);
  }

  assertLive(): void {
    if (this.disposed) throw new HeadError('E_HEAD_DISPOSED', `${this.owner}: used after dispose()`);
  }

  dispose(): void {
    if (this.disposed) return;
    for (const v of this.variables.values()) v.dispose();
    this.variables.clear();
    this.disposed = true;
  }
}

/** `count` normal deviates with standard deviation `std` (He / LeCun init). */
export function normalValues(rng: Rng, count: number, std: number): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = rng.normal() * std;
  return out;
}
