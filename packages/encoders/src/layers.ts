import { matMul, tf } from '@vqlm/runtime';

// The wasm-aware product moved to @vqlm/runtime (the decoder uses it too); kept importable from here.
export { matMul, splitOnWasm } from '@vqlm/runtime';
import type { ParamStore } from './params.js';

/** GELU flavour: `exact` (erf; HF ViT) or `tanh` (the tanh approximation; SigLIP's `gelu_pytorch_tanh`). */
export type GeluKind = 'exact' | 'tanh';

/** Layer norm over the last axis: `(x − mean) / sqrt(var + eps) · gamma + beta`. */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
  return tf.tidy(() => {
    const axis = x.rank - 1;
    const mean = tf.mean(x, axis, true);
    const centered = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centered), axis, true);
    return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, eps))), gamma), beta);
  });
}

/** GELU activation, exact (`0.5·x·(1 + erf(x/√2))`) or tanh-approximated. */
export function gelu(x: tf.Tensor, kind: GeluKind): tf.Tensor {
  return tf.tidy(() => {
    if (kind === 'exact') {
      return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
    }
    const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
  });
}

/** Affine map over the last axis: `x [..., In] · weight [In, Out] + bias [Out]` → `[..., Out]`. */
export function dense(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor | null): tf.Tensor {
  return tf.tidy(() => {
    const inDim = x.shape[x.rank - 1];
    const outDim = weight.shape[weight.rank - 1];
    const flat = tf.reshape(x, [-1, inDim]);
    const y = bias ? tf.add(matMul(flat, weight), bias) : matMul(flat, weight);
    return tf.reshape(y, [...x.shape.slice(0, -1), outDim]);
  });
}

/** Sizes of one pre-norm transformer block. */
export interface BlockConfig {
  readonly hiddenSize: number;
  readonly numHeads: number;
  readonly mlpDim: number;
  readonly layerNormEps: number;
  readonly gelu: GeluKind;
}

/** Internal parameter names of block `prefix` (e.g. `blocks.3`), with shapes. */
export function blockParamShapes(prefix: string, c: BlockConfig): [string, number[]][] {
  const h = c.hiddenSize;
  return [
    [`${prefix}.ln1.gamma`, [h]],
    [`${prefix}.ln1.beta`, [h]],
    [`${prefix}.attn.q.weight`, [h, h]],
    [`${prefix}.attn.q.bias`, [h]],
    [`${prefix}.attn.k.weight`, [h, h]],
    [`${prefix}.attn.k.bias`, [h]],
    [`${prefix}.attn.v.weight`, [h, h]],
    [`${prefix}.attn.v.bias`, [h]],
    [`${prefix}.attn.out.weight`, [h, h]],
    [`${prefix}.attn.out.bias`, [h]],
    [`${prefix}.ln2.gamma`, [h]],
    [`${prefix}.ln2.beta`, [h]],
    [`${prefix}.mlp.fc1.weight`, [h, c.mlpDim]],
    [`${prefix}.mlp.fc1.bias`, [c.mlpDim]],
    [`${prefix}.mlp.fc2.weight`, [c.mlpDim, h]],
    [`${prefix}.mlp.fc2.bias`, [h]],
  ];
}

/** Creates the parameters of one block: weights ~ N(0, 0.02²) truncated, biases 0, LN gamma 1. */
export function createBlockParams(store: ParamStore, prefix: string, c: BlockConfig): void {
  for (const [name, shape] of blockParamShapes(prefix, c)) {
    const init = name.endsWith('.gamma')
      ? ({ kind: 'ones' } as const)
      : name.endsWith('.weight')
        ? ({ kind: 'normal', std: 0.02 } as const)
        : ({ kind: 'zeros' } as const);
    store.create(name, shape, init);
  }
}

/** Multi-head self-attention over `x [B, T, H]` → `[B, T, H]`. */
export function selfAttention(x: tf.Tensor, p: ParamStore, prefix: string, c: BlockConfig): tf.Tensor {
  return tf.tidy(() => {
    const [b, t, h] = x.shape;
    const d = h / c.numHeads;
    const heads = (name: string, perm: number[], scale?: number): tf.Tensor => {
      let y = dense(x, p.get(`${prefix}.${name}.weight`), p.get(`${prefix}.${name}.bias`));
      if (scale !== undefined) y = tf.mul(y, scale);
      return tf.transpose(tf.reshape(y, [b, t, c.numHeads, d]), perm);
    };
    const q = heads('q', [0, 2, 1, 3], 1 / Math.sqrt(d)); // [B, heads, T, d]
    const kT = heads('k', [0, 2, 3, 1]); // [B, heads, d, T]
    const v = heads('v', [0, 2, 1, 3]); // [B, heads, T, d]
    const probs = tf.softmax(matMul(q, kT));
    const context = tf.reshape(tf.transpose(matMul(probs, v), [0, 2, 1, 3]), [b, t, h]);
    return dense(context, p.get(`${prefix}.out.weight`), p.get(`${prefix}.out.bias`));
  });
}

/** One pre-norm block: `x + attn(LN1(x))`, then `+ MLP(LN2(·))` with GELU; `[B, T, H]` → `[B, T, H]`. */
export function transformerBlock(x: tf.Tensor, p: ParamStore, prefix: string, c: BlockConfig): tf.Tensor {
  return tf.tidy(() => {
    const a = layerNorm(x, p.get(`${prefix}.ln1.gamma`), p.get(`${prefix}.ln1.beta`), c.layerNormEps);
    const x1 = tf.add(x, selfAttention(a, p, `${prefix}.attn`, c));
    const m = layerNorm(x1, p.get(`${prefix}.ln2.gamma`), p.get(`${prefix}.ln2.beta`), c.layerNormEps);
    const hidden = gelu(dense(m, p.get(`${prefix}.mlp.fc1.weight`), p.get(`${prefix}.mlp.fc1.bias`)), c.gelu);
    return tf.add(x1, dense(hidden, p.get(`${prefix}.mlp.fc2.weight`), p.get(`${prefix}.mlp.fc2.bias`)));
  });
}

/**
 * Bilinear resampling matrix `[newH·newW, oldH·oldW]` for a grid of vectors
 * (half-pixel centres, edge-clamped: PyTorch's `align_corners=False`).
 */
export function bilinearGridMatrix(oldH: number, oldW: number, newH: number, newW: number): Float32Array {
  const axis = (oldN: number, newN: number): Float32Array => {
    const m = new Float32Array(newN * oldN);
    for (let i = 0; i < newN; i++) {
      const src = Math.min(Math.max((i + 0.5) * (oldN / newN) - 0.5, 0), oldN - 1);
      const i0 = Math.floor(src);
      const i1 = Math.min(i0 + 1, oldN - 1);
      const w = src - i0;
      m[i * oldN + i0] += 1 - w;
      m[i * oldN + i1] += w;
    }
    return m;
  };
  const ry = axis(oldH, newH);
  const rx = axis(oldW, newW);
  const out = new Float32Array(newH * newW * oldH * oldW);
  const cols = oldH * oldW;
  for (let y = 0; y < newH; y++)
    for (let x = 0; x < newW; x++)
      for (let yy = 0; yy < oldH; yy++) {
        const wy = ry[y * oldH + yy];
        if (wy === 0) continue;
        for (let xx = 0; xx < oldW; xx++) out[(y * newW + x) * cols + yy * oldW + xx] = wy * rx[x * oldW + xx];
      }
  return out;
}
