// A representative training step of the vqlm models, small enough for tests:
// embedding gather, patch-embedding conv2d, layer norm, softmax attention,
// GELU (erf) and tanh-GELU, ReLU, slice/concat, transpose, square/sqrt/rsqrt,
// mean/sum reductions, and Adam's update ops.
import { tf } from '../tf.js';
import { createRng } from '../rng.js';

export const VOCAB = 13;
export const D = 8;
export const T = 5;
export const B = 2;

/** Initial weights as plain arrays, so that each backend starts from the same values. */
export function initialWeights(seed: number): Record<string, { shape: number[]; data: Float32Array }> {
  const rng = createRng(seed);
  const make = (shape: number[], scale: number) => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = rng.normal() * scale;
    return { shape, data };
  };
  return {
    embedding: make([VOCAB, D], 0.5),
    patch: make([2, 2, 3, D], 0.3),
    wq: make([D, D], 0.4),
    wo: make([2 * D, 1], 0.4),
    gamma: { shape: [D], data: new Float32Array(D).fill(1) },
    beta: { shape: [D], data: new Float32Array(D) },
  };
}

export const tokenIds = [[1, 3, 5, 7], [2, 3, 12, 0]];
export const pixels = Array.from({ length: B * 4 * 4 * 3 }, (_, i) => Math.sin(i * 0.37));

/** The loss of the toy model. `vars` holds tf.Variables named as in {@link initialWeights}. */
export function lossOf(vars: Record<string, tf.Tensor>): tf.Scalar {
  return tf.tidy(() => {
    const ids = tf.tensor2d(tokenIds, [B, T - 1], 'int32');
    const words = tf.gather(vars.embedding, ids); // [B, T-1, D]
    const image = tf.tensor4d(pixels, [B, 4, 4, 3]);
    const patches = tf.conv2d(image, vars.patch as tf.Tensor4D, 2, 'valid'); // [B, 2, 2, D]
    const patchToken = tf.mean(tf.reshape(patches, [B, 4, D]), 1, true); // [B, 1, D]
    const x = tf.concat([patchToken, words], 1); // [B, T, D]
    const mean = tf.mean(x, -1, true);
    const variance = tf.mean(tf.square(tf.sub(x, mean)), -1, true);
    const xn = tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), vars.gamma), vars.beta);
    const q = tf.reshape(tf.matMul(tf.reshape(xn, [B * T, D]), vars.wq), [B, T, D]);
    const attention = tf.softmax(tf.div(tf.matMul(q, q, false, true), Math.sqrt(D)));
    const y = tf.matMul(attention, q);
    const gelu = tf.mul(tf.mul(y, 0.5), tf.add(1, tf.erf(tf.div(y, Math.SQRT2))));
    const geluTanh = tf.mul(tf.mul(y, 0.5), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(y, tf.mul(0.044715, tf.pow(y, 3)))))));
    const h = tf.relu(tf.concat([gelu, geluTanh], -1)); // [B, T, 2D]
    const first = tf.slice(h, [0, 0, 0], [B, 1, 2 * D]);
    const pooled = tf.add(tf.reshape(first, [B, 2 * D]), tf.mean(tf.transpose(h, [0, 2, 1]), -1));
    const score = tf.reshape(tf.matMul(pooled, vars.wo), [B]);
    const target = tf.tensor1d([1, -1]);
    return tf.add<tf.Scalar>(tf.mean(tf.square(tf.sub(score, target))), tf.mul(0.01, tf.sqrt(tf.add(tf.sum(tf.square(vars.wq)), 1e-6))));
  });
}

/** Loss, gradients and the loss after `adamSteps` Adam steps, on the current backend. */
export async function runTrainingStep(adamSteps: number): Promise<{ loss: number; grads: Record<string, Float32Array>; lossesAfter: number[] }> {
  const weights = initialWeights(5);
  const vars: Record<string, tf.Variable> = {};
  for (const [name, w] of Object.entries(weights)) {
    const initial = tf.tensor(w.data, w.shape);
    vars[name] = tf.variable(initial, true, `${name}_${tf.getBackend()}_${Math.random()}`);
    initial.dispose();
  }
  const { value, grads } = tf.variableGrads(() => lossOf(vars), Object.values(vars));
  const loss = (await value.data())[0];
  const out: Record<string, Float32Array> = {};
  for (const [name, v] of Object.entries(vars)) out[name] = (await grads[v.name].data()) as Float32Array;
  value.dispose();
  tf.dispose(Object.values(grads));
  const optimizer = tf.train.adam(0.05);
  const lossesAfter: number[] = [];
  for (let i = 0; i < adamSteps; i++) {
    const l = optimizer.minimize(() => lossOf(vars), true, Object.values(vars))!;
    lossesAfter.push((await l.data())[0]);
    l.dispose();
  }
  optimizer.dispose();
  tf.dispose(Object.values(vars));
  return { loss, grads: out, lossesAfter };
}
