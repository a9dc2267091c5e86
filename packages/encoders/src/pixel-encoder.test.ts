import { createRng, tf } from '@vqlm/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { maxAbsDiff, noLeak, useTestBackend } from './__fixtures__/backend.js';
import { EncoderError } from './errors.js';
import { HIGHPASS_GAIN, PixelEncoder, highPassResidual } from './pixel-encoder.js';
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

  it('highpass input: gain times the pixel minus its 3×3 mean, border means over the pixels inside', async () => {
    await noLeak(async () => {
      // 3×3 single-channel image 1..9: the centre's neighbourhood is all nine pixels (mean 5), the
      // corner's is four (mean of 1, 2, 4, 5 = 3), the top edge's six (mean of 1..6 = 3.5).
      const image = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]);
      const residual = highPassResidual(image, 2);
      const out = await residual.data();
      expect(out[4]).toBeCloseTo(2 * (5 - 5), 6);
      expect(out[0]).toBeCloseTo(2 * (1 - 3), 6);
      expect(out[1]).toBeCloseTo(2 * (2 - 3.5), 6);
      expect(out[8]).toBeCloseTo(2 * (9 - 7), 6);
      const constant = tf.fill<tf.Rank.R4>([2, 4, 5, 3], 0.7);
      const flat = highPassResidual(constant);
      expect(Math.max(...(await flat.data()).map(Math.abs))).toBeLessThan(1e-6);
      tf.dispose([image, residual, constant, flat]);
    });
    expect(() => highPassResidual(tf.zeros([3, 3, 1]) as unknown as tf.Tensor4D)).toThrow(/^pixels: expected shape \[N, H, W, C\], got \[3, 3, 1\]$/);
  });

  it('highpass encoder ignores brightness and colour offsets, the rgb encoder does not', async () => {
    const rgb = new PixelEncoder({ vit: vitConfig('micro'), outputDim: 8, seed: 4 });
    const highpass = new PixelEncoder({ vit: vitConfig('micro'), outputDim: 8, seed: 4, input: 'highpass' });
    expect([rgb.input, highpass.input]).toEqual(['rgb', 'highpass']);
    const patches = randomPatches(1, 2, 5);
    for (let i = 0; i < patches.data.length; i++) patches.data[i] = 40 + (patches.data[i] % 128);
    const shifted = { data: patches.data.map((v, i) => v + (i % 3 === 0 ? 60 : 25)), dims: patches.dims };
    await noLeak(async () => {
      const input = highpass.vitInput(patches);
      const expected = tf.tidy(() => highPassResidual(tf.sub(tf.div(tf.tensor4d(Float32Array.from(patches.data), [2, 32, 32, 3]), 127.5), 1), HIGHPASS_GAIN));
      expect(maxAbsDiff(await input.data(), await expected.data())).toBeLessThan(1e-5);
      const [a, b, c, d] = [highpass.forward(patches), highpass.forward(shifted), rgb.forward(patches), rgb.forward(shifted)];
      expect(maxAbsDiff(await a.data(), await b.data())).toBeLessThan(1e-4);
      expect(maxAbsDiff(await c.data(), await d.data())).toBeGreaterThan(1e-2);
      tf.dispose([input, expected, a, b, c, d]);
    });
    expect(() => new PixelEncoder({ vit: vitConfig('micro'), outputDim: 8, input: 'sobel' as 'rgb' })).toThrow(/^input: expected one of rgb, highpass, got sobel$/);
    rgb.dispose();
    highpass.dispose();
  });
});
