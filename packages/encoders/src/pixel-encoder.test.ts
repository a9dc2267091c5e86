import { createRng, tf } from '@vqlm/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { maxAbsDiff, noLeak, useTestBackend } from './__fixtures__/backend.js';
import { EncoderError } from './errors.js';
import { PixelEncoder } from './pixel-encoder.js';
import { vitConfig } from './vit.js';

beforeAll(useTestBackend);

function randomPatches(m: number, k: number, seed: number): { data: Uint8Array; dims: number[] } {
  const rng = createRng(seed);
  const data = new Uint8Array(m * k * 32 * 32 * 3);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(256);
  return { data, dims: [m, k, 32, 32, 3] };
}

describe('PixelEncoder', () => {
  it('maps [M, K, S, S, 3] to [M, Tl, D], averaging over the K patches', async () => {
    const encoder = new PixelEncoder({ vit: vitConfig('micro'), outputDim: 16, seed: 2 });
    expect(encoder.numTokens).toBe(17);
    await noLeak(async () => {
      const patches = randomPatches(2, 3, 1);
      const out = encoder.forward(patches);
      expect(out.shape).toEqual([2, 17, 16]);
      // Each output row is layer-normalised: mean 0, variance 1 (gamma 1, beta 0 at init).
      const { mean, variance } = tf.moments(out, -1);
      expect(Math.max(...(await mean.data()).map(Math.abs))).toBeLessThan(1e-4);
      expect(Math.max(...(await variance.data()).map((v) => Math.abs(v - 1)))).toBeLessThan(1e-3);
      // K copies of one patch give the same tokens as that patch alone (mean over K).
      const one = { data: patches.data.subarray(0, 32 * 32 * 3), dims: [1, 1, 32, 32, 3] };
      const copies = new Uint8Array(4 * 32 * 32 * 3);
      for (let k = 0; k < 4; k++) copies.set(one.data, k * one.data.length);
      const a = encoder.forward(one);
      const b = encoder.forward({ data: copies, dims: [1, 4, 32, 32, 3] });
      expect(maxAbsDiff(await a.data(), await b.data())).toBeLessThan(1e-5);
      // Frame m depends on its own patches only.
      const changed = { data: patches.data.slice(), dims: patches.dims };
      changed.data.fill(0, 3 * 32 * 32 * 3);
      const c = encoder.forward(changed);
      const [c0, o0] = [tf.slice(c, [0, 0, 0], [1, -1, -1]), tf.slice(out, [0, 0, 0], [1, -1, -1])];
      expect(maxAbsDiff(await c0.data(), await o0.data())).toBe(0);
      tf.dispose([out, mean, variance, a, b, c, c0, o0]);
    });
    encoder.dispose();
  });

  it('trains every parameter and leaks nothing across forward and backward', async () => {
    const encoder = new PixelEncoder({ vit: vitConfig('micro'), outputDim: 8 });
    const patches = tf.tensor(randomPatches(2, 2, 3).data, [2, 2, 32, 32, 3], 'int32');
    await noLeak(() => {
      const vars = encoder.trainableVariables();
      const { value, grads } = tf.variableGrads(() => tf.sum<tf.Scalar>(tf.square(tf.sub(encoder.forward(patches), 0.5))), vars);
      expect(Object.keys(grads)).toHaveLength(vars.length);
      tf.dispose([value, ...Object.values(grads)]);
    });
    patches.dispose();
    encoder.dispose();
  });

  it('rejects bad patch batches with E_SHAPE naming both shapes', () => {
    const encoder = new PixelEncoder({ vit: vitConfig('micro'), outputDim: 8 });
    const bad = { data: new Uint8Array(2 * 3 * 30 * 32 * 3), dims: [2, 3, 30, 32, 3] };
    expect(() => encoder.forward(bad)).toThrow(EncoderError);
    expect(() => encoder.forward(bad)).toThrow(/^patches: expected shape \[M, K, 32, 32, 3\], got \[2, 3, 30, 32, 3\]$/);
    expect(() => encoder.forward({ data: new Uint8Array(5), dims: [1, 1, 32, 32, 3] })).toThrow(/^patches: data holds 5 bytes/);
    expect(() => new PixelEncoder({ vit: vitConfig('micro'), outputDim: 0 })).toThrow(/^outputDim: expected an integer ≥ 1, got 0$/);
    encoder.dispose();
    expect(() => encoder.forward(bad)).toThrow(/after dispose/);
  });
});
