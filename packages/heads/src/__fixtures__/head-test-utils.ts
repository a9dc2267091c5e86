// Finite-difference gradient check over a head's own variables (tests only).
import { tf } from '@vqlm/runtime';
import type { TrainableHead } from '../head.js';

/**
 * Analytic gradient of `loss` w.r.t. the weight `name` (tf.variableGrads) next
 * to the central difference obtained by nudging each entry of that weight by
 * ±h in place (restored afterwards).
 */
export function weightGradientPair(
  head: TrainableHead,
  name: string,
  loss: () => tf.Scalar,
  h = 1e-3,
): { analytic: Float32Array; numeric: Float64Array } {
  const variable = head.getWeights()[name] as tf.Variable;
  const { value, grads } = tf.variableGrads(loss, [variable]);
  const analytic = grads[variable.name].dataSync() as Float32Array;
  tf.dispose([value, grads[variable.name]]);
  const base = Array.from(variable.dataSync());
  const evalWith = (values: number[]): number =>
    tf.tidy(() => {
      variable.assign(tf.tensor(values, variable.shape, 'float32'));
      return loss().dataSync()[0];
    });
  const numeric = new Float64Array(base.length);
  for (let i = 0; i < base.length; i++) {
    const plus = [...base];
    const minus = [...base];
    plus[i] += h;
    minus[i] -= h;
    numeric[i] = (evalWith(plus) - evalWith(minus)) / (2 * h);
  }
  tf.tidy(() => variable.assign(tf.tensor(base, variable.shape, 'float32')));
  return { analytic, numeric };
}
