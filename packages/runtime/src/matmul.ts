import { tf } from './tf.js';

/**
 * `a [m, k] · b [k, n]` with a gradient built from explicit transposes and
 * plain products. tfjs-wasm runs only the untransposed, unbatched product on
 * its fast (XNNPACK) path; its `transposeA`/`transposeB` and batched paths,
 * which tfjs's own matMul gradient uses, are about 10× slower.
 */
const plainMatMulGrad = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [a, b, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const g = dy as tf.Tensor;
      return [tf.matMul(g, tf.transpose(saved[1])), tf.matMul(tf.transpose(saved[0]), g)];
    },
  };
});

/**
 * Whether `count` products of `size` = m·k·n multiply-adds each run faster as separate 2-D
 * products on wasm. Measured (tfjs-wasm 4.22, SIMD, one thread): 16 × 1024·64·1024 is 14× faster
 * split and 8 × 240·12·240 4×, but 2048 × 16·12·16 is 85× slower split and 256 × 64·16·64 4×.
 */
export function splitOnWasm(count: number, size: number): boolean {
  return size >= 1 << 20 || (count <= 16 && size >= 1 << 17);
}

function plainMatMul(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return plainMatMulGrad(a, b);
}

/**
 * Matrix product `[..., m, k] · [..., k, n]` → `[..., m, n]` (equal batch
 * dims). On wasm, a batch of large products is split into 2-D products (see
 * {@link plainMatMul}), since the batched kernel is up to 10× slower there;
 * a batch of many small products (attention over short token sequences, as in
 * a pixel tower over small patches) stays batched, since splitting it costs
 * one kernel call per product plus an unstack that grows with the batch.
 * Elsewhere tfjs's batched kernel is used.
 */
export function matMul(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  if (a.rank === 2) return plainMatMul(a, b);
  return tf.tidy(() => {
    if (tf.getBackend() !== 'wasm') return tf.matMul(a, b);
    const [m, k] = a.shape.slice(-2);
    const n = b.shape[b.rank - 1];
    const batch = a.shape.slice(0, -2);
    const count = batch.reduce((x, y) => x * y, 1);
    if (!splitOnWasm(count, m * k * n)) return tf.matMul(a, b);
    // One product: a reshape, not an unstack (tfjs's Unpack gradient fails on a single output).
    if (count === 1) return tf.reshape(plainMatMul(tf.reshape(a, [m, k]), tf.reshape(b, [k, n])), [...batch, m, n]);
    const as = tf.unstack(tf.reshape(a, [-1, m, k]));
    const bs = tf.unstack(tf.reshape(b, [-1, k, n]));
    return tf.reshape(tf.stack(as.map((x, i) => plainMatMul(x, bs[i]))), [...batch, m, n]);
  });
}
