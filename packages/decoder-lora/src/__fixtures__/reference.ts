import type { GemmaConfig } from '../gemma-config.js';

/**
 * A straightforward float64 re-statement of HF Gemma / Gemma 2 forward for one batch row,
 * written with loops and no tfjs, used to check the tfjs decoder's numerics.
 * weights: HF name → row-major data. prefix: [P][D]; tokens: [T]; visible: [P].
 * Returns logits [T][V] of the output positions.
 */
export function referenceForward(
  config: GemmaConfig,
  weights: Map<string, Float32Array>,
  prefix: number[][],
  tokens: number[],
  visible: boolean[],
): number[][] {
  const D = config.hiddenSize;
  const P = prefix.length;
  const hd = config.headDim;
  const H = config.numAttentionHeads;
  const Hkv = config.numKeyValueHeads;
  const embed = weights.get('model.embed_tokens.weight')!;
  const seq: number[][] = [...prefix.map((r) => [...r])];
  for (const id of tokens) seq.push(Array.from(embed.subarray(id * D, (id + 1) * D), (v) => v * Math.fround(Math.sqrt(D))));
  const L = seq.length;
  const vis = [...visible, ...tokens.map(() => true)];
  const pos: number[] = [];
  let count = 0;
  for (let i = 0; i < L; i += 1) {
    pos.push(count);
    if (vis[i]) count += 1;
  }
  const norm = (x: number[], w: Float32Array): number[] => {
    const ms = x.reduce((a, v) => a + v * v, 0) / x.length;
    const r = 1 / Math.sqrt(ms + config.rmsNormEps);
    return x.map((v, i) => v * r * (1 + w[i]));
  };
  const lin = (x: number[], name: string, out: number): number[] => {
    const w = weights.get(name)!;
    const inF = x.length;
    const y = new Array<number>(out).fill(0);
    for (let o = 0; o < out; o += 1) for (let i = 0; i < inF; i += 1) y[o] += x[i] * w[o * inF + i];
    return y;
  };
  const rope = (v: number[], p: number): number[] => {
    const half = hd / 2;
    const out = v.slice();
    for (let i = 0; i < half; i += 1) {
      const angle = p / config.ropeTheta ** ((2 * i) / hd);
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      out[i] = v[i] * c - v[i + half] * s;
      out[i + half] = v[i + half] * c + v[i] * s;
    }
    return out;
  };
  const gelu = (x: number): number => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
  const cap = (x: number, c: number | null): number => (c === null ? x : Math.tanh(x / c) * c);
  let h = seq;
  for (let layer = 0; layer < config.numHiddenLayers; layer += 1) {
    const pre = `model.layers.${layer}`;
    const g2 = config.modelType === 'gemma2';
    const sliding = g2 && config.slidingWindow !== null && layer % 2 === 0;
    const xn = h.map((x) => norm(x, weights.get(`${pre}.input_layernorm.weight`)!));
    const q = xn.map((x, i) => {
      const v = lin(x, `${pre}.self_attn.q_proj.weight`, H * hd);
      const out: number[] = [];
      for (let head = 0; head < H; head += 1) out.push(...rope(v.slice(head * hd, (head + 1) * hd), pos[i]));
      return out;
    });
    const k = xn.map((x, i) => {
      const v = lin(x, `${pre}.self_attn.k_proj.weight`, Hkv * hd);
      const out: number[] = [];
      for (let head = 0; head < Hkv; head += 1) out.push(...rope(v.slice(head * hd, (head + 1) * hd), pos[i]));
      return out;
    });
    const v = xn.map((x) => lin(x, `${pre}.self_attn.v_proj.weight`, Hkv * hd));
    const attn = h.map((_, i) => {
      const out = new Array<number>(H * hd).fill(0);
      for (let head = 0; head < H; head += 1) {
        const kv = Math.floor(head / (H / Hkv));
        const scores: number[] = [];
        for (let j = 0; j < L; j += 1) {
          const allowed = vis[j] && (j < P || j <= i) && (!sliding || Math.abs(i - j) < config.slidingWindow!);
          let s = 0;
          for (let d = 0; d < hd; d += 1) s += q[i][head * hd + d] * k[j][kv * hd + d];
          s = cap(s / Math.sqrt(config.queryPreAttnScalar), config.attnLogitSoftcapping);
          scores.push(allowed ? s : -Infinity);
        }
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const z = e.reduce((a, b) => a + b, 0);
        for (let j = 0; j < L; j += 1) for (let d = 0; d < hd; d += 1) out[head * hd + d] += (e[j] / z) * v[j][kv * hd + d];
      }
      let o = lin(out, `${pre}.self_attn.o_proj.weight`, D);
      if (g2) o = norm(o, weights.get(`${pre}.post_attention_layernorm.weight`)!);
      return o;
    });
    const h2 = h.map((x, i) => x.map((val, d) => val + attn[i][d]));
    h = h2.map((x) => {
      const xn2 = norm(x, weights.get(g2 ? `${pre}.pre_feedforward_layernorm.weight` : `${pre}.post_attention_layernorm.weight`)!);
      const gate = lin(xn2, `${pre}.mlp.gate_proj.weight`, config.intermediateSize).map(gelu);
      const up = lin(xn2, `${pre}.mlp.up_proj.weight`, config.intermediateSize);
      let m = lin(gate.map((g, i) => g * up[i]), `${pre}.mlp.down_proj.weight`, D);
      if (g2) m = norm(m, weights.get(`${pre}.post_feedforward_layernorm.weight`)!);
      return x.map((val, d) => val + m[d]);
    });
  }
  const finalW = weights.get('model.norm.weight')!;
  return h.slice(P).map((x) => lin(norm(x, finalW), 'model.embed_tokens.weight', config.vocabSize).map((l) => cap(l, config.finalLogitSoftcapping)));
}
