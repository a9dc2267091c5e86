import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf, writeSafetensors } from '@vqlm/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxAbsDiff, noLeak, useTestBackend } from './__fixtures__/backend.js';
import { EncoderError } from './errors.js';
import { ViT, vitConfig, type VitConfig } from './vit.js';
import { hfVitNameMap, loadVitWeights, saveVitWeights } from './vit-weights.js';

const dir = mkdtempSync(join(tmpdir(), 'vqlm-vit-weights-'));
beforeAll(useTestBackend);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Random tensors under HF names and shapes, written by the test itself. */
function randomHfCheckpoint(names: { hfName: string; hfShape: readonly number[] }[], seed: number): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  names.forEach(({ hfName, hfShape }, i) => {
    const isNorm = /norm|layer_norm/.test(hfName) && hfName.endsWith('.weight');
    out[hfName] = tf.tidy(() => {
      const t = tf.randomNormal([...hfShape], 0, isNorm ? 0.1 : 0.3, 'float32', seed + i);
      return isNorm ? tf.add(t, 1) : t;
    });
  });
  return out;
}

/** Independent forward of the HF modules from HF-layout weights (conv patch embedding, x·Wᵀ + b linears). */
function hfForward(w: Record<string, tf.Tensor>, cfg: VitConfig, siglip: boolean, x: tf.Tensor4D): tf.Tensor {
  return tf.tidy(() => {
    const pre = siglip ? 'vision_model.' : 'vit.';
    const linear = (t: tf.Tensor, name: string): tf.Tensor => {
      const [b, n] = t.shape as [number, number];
      const flat = tf.reshape(t, [-1, t.shape[t.rank - 1]]);
      const y = tf.add(tf.matMul(flat, w[`${name}.weight`], false, true), w[`${name}.bias`]);
      return tf.reshape(y, [b, n, -1]);
    };
    const norm = (t: tf.Tensor, name: string): tf.Tensor => {
      const { mean, variance } = tf.moments(t, -1, true);
      return tf.add(tf.mul(tf.div(tf.sub(t, mean), tf.sqrt(tf.add(variance, cfg.layerNormEps))), w[`${name}.weight`]), w[`${name}.bias`]);
    };
    const act = (t: tf.Tensor): tf.Tensor =>
      siglip
        ? tf.mul(tf.mul(t, 0.5), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(t, tf.mul(0.044715, tf.pow(t, 3)))))))
        : tf.mul(tf.mul(t, 0.5), tf.add(1, tf.erf(tf.div(t, Math.SQRT2))));
    const conv = siglip ? 'embeddings.patch_embedding' : 'embeddings.patch_embeddings.projection';
    const filter = tf.transpose(w[`${pre}${conv}.weight`], [2, 3, 1, 0]) as tf.Tensor4D;
    const b: number = x.shape[0];
    let h = tf.reshape(tf.add(tf.conv2d(x, filter, cfg.patchSize, 'valid'), w[`${pre}${conv}.bias`]), [b, -1, cfg.hiddenSize]);
    if (siglip) {
      h = tf.add(h, w[`${pre}embeddings.position_embedding.weight`]);
    } else {
      h = tf.concat([tf.tile(w[`${pre}embeddings.cls_token`], [b, 1, 1]), h], 1);
      h = tf.add(h, w[`${pre}embeddings.position_embeddings`]);
    }
    const heads = cfg.numHeads;
    const d = cfg.hiddenSize / heads;
    const n: number = h.shape[h.rank - 2];
    const split = (t: tf.Tensor): tf.Tensor => tf.transpose(tf.reshape(t, [b, n, heads, d]), [0, 2, 1, 3]);
    for (let i = 0; i < cfg.numLayers; i++) {
      const l = siglip ? `${pre}encoder.layers.${i}.` : `${pre}encoder.layer.${i}.`;
      const a = norm(h, siglip ? `${l}layer_norm1` : `${l}layernorm_before`);
      const names = siglip
        ? [`${l}self_attn.q_proj`, `${l}self_attn.k_proj`, `${l}self_attn.v_proj`, `${l}self_attn.out_proj`]
        : [`${l}attention.attention.query`, `${l}attention.attention.key`, `${l}attention.attention.value`, `${l}attention.output.dense`];
      const q = split(linear(a, names[0]));
      const k = split(linear(a, names[1]));
      const v = split(linear(a, names[2]));
      const probs = tf.softmax(tf.div(tf.matMul(q, k, false, true), Math.sqrt(d)));
      const ctx = tf.reshape(tf.transpose(tf.matMul(probs, v), [0, 2, 1, 3]), [b, n, cfg.hiddenSize]);
      h = tf.add(h, linear(ctx, names[3]));
      const m = norm(h, siglip ? `${l}layer_norm2` : `${l}layernorm_after`);
      const fc1 = siglip ? `${l}mlp.fc1` : `${l}intermediate.dense`;
      const fc2 = siglip ? `${l}mlp.fc2` : `${l}output.dense`;
      h = tf.add(h, linear(act(linear(m, fc1)), fc2));
    }
    return norm(h, siglip ? `${pre}post_layernorm` : `${pre}layernorm`);
  });
}

describe('HF weights', () => {
  for (const siglip of [false, true]) {
    const family = siglip ? 'SigLIP' : 'ViT';
    it(`loads a ${family} checkpoint written in HF naming and reproduces its outputs`, async () => {
      const cfg = vitConfig('micro', siglip ? { classToken: false, gelu: 'tanh' } : {});
      const map = hfVitNameMap(cfg, siglip ? 'siglip' : 'vit');
      const weights = randomHfCheckpoint(map, 100);
      const path = join(dir, `${family}.safetensors`);
      await writeSafetensors(path, { ...weights, 'classifier.weight': tf.zeros([3, 32]) });
      const vit = new ViT(cfg, { trainable: false });
      const x = tf.randomNormal<tf.Rank.R4>([2, 32, 32, 3], 0, 1, 'float32', 7);
      await noLeak(async () => {
        const used = await loadVitWeights(vit, path);
        expect(used).toEqual({ format: siglip ? 'siglip' : 'vit', prefix: siglip ? 'vision_model.' : 'vit.' });
        const ours = vit.forward(x);
        const reference = hfForward(weights, cfg, siglip, x);
        expect(ours.shape).toEqual(reference.shape);
        expect(maxAbsDiff(await ours.data(), await reference.data())).toBeLessThan(1e-4);
        tf.dispose([ours, reference]);
      });
      // Round trip: save in HF naming, load into a fresh model, same outputs.
      const again = join(dir, `${family}-again.safetensors`);
      await saveVitWeights(vit, again);
      const copy = new ViT(cfg, { seed: 9 });
      await loadVitWeights(copy, again);
      const a = vit.forward(x);
      const b = copy.forward(x);
      expect(maxAbsDiff(await a.data(), await b.data())).toBe(0);
      tf.dispose([a, b, x, ...Object.values(weights)]);
      vit.dispose();
      copy.dispose();
    });
  }

  it('names a missing tensor', async () => {
    const cfg = vitConfig('micro');
    const map = hfVitNameMap(cfg, 'vit').filter((e) => !e.hfName.endsWith('layer.1.attention.attention.key.bias'));
    const weights = randomHfCheckpoint(map, 1);
    const path = join(dir, 'missing.safetensors');
    await writeSafetensors(path, weights);
    tf.dispose(Object.values(weights));
    const vit = new ViT(cfg);
    const err = await loadVitWeights(vit, path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EncoderError);
    expect((err as EncoderError).code).toBe('E_WEIGHTS');
    expect((err as Error).message).toMatch(/^checkpoint: missing tensor vit\.encoder\.layer\.1\.attention\.attention\.key\.bias$/);
    vit.dispose();
  });

  it('names a misshapen tensor with both shapes', async () => {
    const cfg = vitConfig('micro', { classToken: false });
    const map = hfVitNameMap(cfg, 'siglip', '').map((e) =>
      e.hfName === 'encoder.layers.0.mlp.fc1.weight' ? { ...e, hfShape: [64, 16] } : e,
    );
    const weights = randomHfCheckpoint(map, 1);
    const path = join(dir, 'misshapen.safetensors');
    await writeSafetensors(path, weights);
    tf.dispose(Object.values(weights));
    const vit = new ViT(cfg);
    await expect(loadVitWeights(vit, path)).rejects.toThrow(
      /^encoder\.layers\.0\.mlp\.fc1\.weight: expected shape \[64, 32\], got \[64, 16\]$/,
    );
    const withCls = new ViT(vitConfig('micro'));
    await expect(loadVitWeights(withCls, path)).rejects.toThrow(/^format: SigLIP checkpoints need config\.classToken = false$/);
    withCls.dispose();
    vit.dispose();
  });

  it('refuses a checkpoint without a patch embedding', async () => {
    const path = join(dir, 'other.safetensors');
    await writeSafetensors(path, { 'model.embed_tokens.weight': { shape: [2, 2], data: new Float32Array(4) } });
    const vit = new ViT(vitConfig('micro'));
    await expect(loadVitWeights(vit, path)).rejects.toThrow(/checkpoint: no ViT .* or SigLIP .* patch embedding found/);
    vit.dispose();
  });
});
