import { tf } from '@vqlm/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { maxAbsDiff, noLeak, useTestBackend } from './__fixtures__/backend.js';
import { EncoderError } from './errors.js';
import { bilinearGridMatrix, transformerBlock, createBlockParams, type BlockConfig } from './layers.js';
import { ParamStore } from './params.js';
import { ViT, vitConfig } from './vit.js';

beforeAll(useTestBackend);

describe('ViT', () => {
  it('maps [B, H, W, 3] to [B, T, hidden] with and without a class token', async () => {
    await noLeak(() => {
      const withCls = new ViT(vitConfig('micro'), { seed: 1 });
      const noCls = new ViT(vitConfig('micro', { classToken: false }), { seed: 1 });
      const x = tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 3);
      const a = withCls.forward(x);
      const b = noCls.forward(x);
      expect(a.shape).toEqual([2, 17, 32]);
      expect(b.shape).toEqual([2, 16, 32]);
      expect(withCls.numTokens()).toBe(17);
      tf.dispose([x, a, b]);
      withCls.dispose();
      noCls.dispose();
    });
  });

  it('interpolates position embeddings for another input size', async () => {
    await noLeak(async () => {
      const vit = new ViT(vitConfig('micro'), { seed: 2 });
      const x = tf.randomNormal([1, 48, 40, 3], 0, 1, 'float32', 4);
      const y = vit.forward(x);
      expect(y.shape).toEqual([1, 1 + 6 * 5, 32]);
      // The resampled grid equals tfjs's half-pixel bilinear resize of the trained grid.
      const pos = vit.positionEmbeddings(6, 5);
      const reference = tf.tidy(() => {
        const grid = tf.reshape(tf.slice(vit.params.get('pos'), [1, 0], [16, -1]), [1, 4, 4, 32]);
        return tf.reshape(tf.image.resizeBilinear(grid as tf.Tensor4D, [6, 5], false, true), [30, 32]);
      });
      const got = tf.slice(pos, [1, 0], [30, -1]);
      expect(maxAbsDiff(await got.data(), await reference.data())).toBeLessThan(1e-6);
      tf.dispose([x, y, pos, reference, got]);
      vit.dispose();
    });
  });

  it('bilinear grid matrix rows sum to 1 and the identity size is the identity', () => {
    const m = bilinearGridMatrix(3, 3, 5, 4);
    for (let r = 0; r < 20; r++) {
      let s = 0;
      for (let c = 0; c < 9; c++) s += m[r * 9 + c];
      expect(s).toBeCloseTo(1, 6);
    }
    const id = bilinearGridMatrix(3, 2, 3, 2);
    for (let r = 0; r < 6; r++) for (let c = 0; c < 6; c++) expect(id[r * 6 + c]).toBe(r === c ? 1 : 0);
  });

  it('holds variables when trainable and plain tensors when frozen', () => {
    const trainable = new ViT(vitConfig('micro'));
    const frozen = new ViT(vitConfig('micro'), { trainable: false });
    expect(trainable.trainableVariables().length).toBe(trainable.params.names().length);
    expect(trainable.params.get('pos')).toBeInstanceOf(tf.Variable);
    expect(frozen.trainableVariables()).toEqual([]);
    expect(frozen.params.get('pos')).not.toBeInstanceOf(tf.Variable);
    // micro: patch 192·32+32, cls 32, pos 17·32, 2 blocks of 4·(32·32+32) + 2·32·64+64+32 + 4·32, norm 64
    const block = 4 * (32 * 32 + 32) + 32 * 64 + 64 + 64 * 32 + 32 + 4 * 32;
    expect(trainable.params.count()).toBe(192 * 32 + 32 + 32 + 17 * 32 + 2 * block + 64);
    trainable.dispose();
    frozen.dispose();
  });

  it('leaks no tensor across a forward and backward pass', async () => {
    const vit = new ViT(vitConfig('micro'), { seed: 5 });
    const x = tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 6);
    await noLeak(() => {
      const { value, grads } = tf.variableGrads(() => tf.sum<tf.Scalar>(tf.square(vit.forward(x))), vit.trainableVariables());
      expect(Object.keys(grads).length).toBe(vit.trainableVariables().length);
      for (const g of Object.values(grads)) expect(g.shape.length).toBeGreaterThan(0);
      tf.dispose([value, ...Object.values(grads)]);
    });
    x.dispose();
    vit.dispose();
  });

  it('rejects bad inputs with E_SHAPE naming the argument and both shapes', () => {
    const vit = new ViT(vitConfig('micro'));
    const bad = [tf.zeros([32, 32, 3]), tf.zeros([1, 32, 32, 4]), tf.zeros([1, 30, 32, 3])];
    expect(() => vit.forward(bad[0])).toThrow(EncoderError);
    expect(() => vit.forward(bad[0])).toThrow(/^pixels: expected shape \[B, H, W, 3\], got \[32, 32, 3\]$/);
    expect(() => vit.forward(bad[1])).toThrow(/pixels: expected shape \[B, H, W, 3\], got \[1, 32, 32, 4\]/);
    expect(() => vit.forward(bad[2])).toThrow(/pixels: .*multiples of 8, got \[1, 30, 32, 3\]/);
    tf.dispose(bad);
    vit.dispose();
    expect(() => vit.forward(tf.zeros([1, 32, 32, 3]))).toThrow(/after dispose/);
  });

  it('rejects bad configs with E_ARG', () => {
    expect(() => vitConfig('micro', { numHeads: 3 })).toThrow(/config.numHeads: 3 does not divide hiddenSize 32/);
    expect(() => vitConfig('micro', { imageSize: 30 })).toThrow(/config.imageSize: 30 is not a multiple of patchSize 8/);
    expect(() => vitConfig('nope' as never)).toThrow(/unknown ViT preset "nope"/);
    try {
      vitConfig('micro', { numLayers: 0 });
    } catch (e) {
      expect(e).toBeInstanceOf(EncoderError);
      expect((e as EncoderError).code).toBe('E_ARG');
    }
  });
});

describe('transformer block gradient', () => {
  it('matches central finite differences', async () => {
    const cfg: BlockConfig = { hiddenSize: 8, numHeads: 2, mlpDim: 12, layerNormEps: 1e-6, gelu: 'exact' };
    const store = new ParamStore(true, 11);
    createBlockParams(store, 'b', cfg);
    // Larger weights than the init so that every path matters.
    for (const [name, t] of store.entries()) {
      const v = tf.randomNormal(t.shape, 0, name.includes('gamma') ? 0.3 : 0.5, 'float32', name.length);
      store.set(name, name.includes('gamma') ? tf.add(v, 1) : v);
      v.dispose();
    }
    const x = tf.randomNormal([2, 3, 8], 0, 1, 'float32', 12);
    const r = tf.randomNormal([2, 3, 8], 0, 1, 'float32', 13);
    const loss = (): tf.Scalar => tf.sum(tf.mul(transformerBlock(x, store, 'b', cfg), r));
    const { grads, value } = tf.variableGrads(loss, store.variables());
    value.dispose();
    const eps = 1e-2;
    let checked = 0;
    for (const [name, variable] of store.entries()) {
      const values = (await variable.data()).slice();
      const analytic = await grads[(variable as tf.Variable).name].data();
      for (const i of [0, Math.floor(values.length / 2), values.length - 1]) {
        const probe = async (delta: number): Promise<number> => {
          const copy = values.slice();
          copy[i] += delta;
          const t = tf.tensor(copy, variable.shape);
          store.set(name, t);
          t.dispose();
          const l = loss();
          const out = (await l.data())[0];
          l.dispose();
          return out;
        };
        const numeric = ((await probe(eps)) - (await probe(-eps))) / (2 * eps);
        const restore = tf.tensor(values, variable.shape);
        store.set(name, restore);
        restore.dispose();
        expect(Math.abs(numeric - analytic[i]), `${name}[${i}]`).toBeLessThan(3e-3 + 2e-2 * Math.abs(numeric));
        checked++;
      }
    }
    expect(checked).toBe(16 * 3);
    tf.dispose([x, r, ...Object.values(grads)]);
    store.dispose();
  });
});
