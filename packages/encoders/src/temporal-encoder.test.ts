import { tf } from '@vqlm/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { maxAbsDiff, noLeak, useTestBackend } from './__fixtures__/backend.js';
import { EncoderError } from './errors.js';
import { TemporalEncoder } from './temporal-encoder.js';

beforeAll(useTestBackend);

const small = { numFrames: 4, imageSize: 32, patchSize: 8, tubeletFrames: 2, hiddenSize: 16, numHeads: 2, mlpDim: 32, numLayers: 1, outputDim: 12 };

describe('TemporalEncoder', () => {
  it('maps clips [B, T, S, S, 3] to temporal tokens [B, T/t, D]', async () => {
    const encoder = new TemporalEncoder({ ...small, seed: 1 });
    expect(encoder.numTokens).toBe(2);
    await noLeak(async () => {
      const clips = tf.randomUniform([2, 4, 32, 32, 3], 0, 256, 'int32', 1);
      const out = encoder.forward(clips);
      expect(out.shape).toEqual([2, 2, 12]);
      // Frame order matters (temporal position embeddings and tubelets).
      const reversed = tf.tidy(() => encoder.forward(tf.reverse(clips, 1)));
      expect(maxAbsDiff(await out.data(), await reversed.data())).toBeGreaterThan(1e-4);
      tf.dispose([clips, out, reversed]);
    });
    encoder.dispose();
  });

  it('embeds tubelets exactly as a 3-D convolution with kernel = stride = (t, p, p)', async () => {
    const encoder = new TemporalEncoder({ ...small, seed: 2 });
    await noLeak(async () => {
      const x = tf.randomNormal([2, 4, 32, 32, 3], 0, 1, 'float32', 3);
      const ours = encoder.embedTubelets(x);
      const reference = tf.tidy(() => {
        const filter = tf.reshape<tf.Rank.R5>(encoder.params.get('tubelet.weight'), [2, 8, 8, 3, 16]);
        const conv = tf.add(tf.conv3d(x as tf.Tensor5D, filter, [2, 8, 8], 'valid'), encoder.params.get('tubelet.bias'));
        return tf.reshape(conv, [2, 2, 16, 16]);
      });
      expect(ours.shape).toEqual([2, 2, 16, 16]);
      expect(maxAbsDiff(await ours.data(), await reference.data())).toBeLessThan(1e-5);
      tf.dispose([x, ours, reference]);
    });
    encoder.dispose();
  });

  it('leaks nothing across forward and backward and reaches every variable', async () => {
    const encoder = new TemporalEncoder(small);
    const clips = tf.randomUniform([1, 4, 32, 32, 3], 0, 256, 'int32', 4);
    await noLeak(() => {
      const vars = encoder.trainableVariables();
      const { value, grads } = tf.variableGrads(() => tf.sum<tf.Scalar>(tf.square(encoder.forward(clips))), vars);
      expect(Object.keys(grads)).toHaveLength(vars.length);
      tf.dispose([value, ...Object.values(grads)]);
    });
    clips.dispose();
    encoder.dispose();
  });

  it('rejects bad clips and configs', () => {
    const encoder = new TemporalEncoder(small);
    const bad = tf.zeros([1, 3, 32, 32, 3]);
    expect(() => encoder.forward(bad)).toThrow(EncoderError);
    expect(() => encoder.forward(bad)).toThrow(/^clips: expected shape \[B, 4, 32, 32, 3\], got \[1, 3, 32, 32, 3\]$/);
    bad.dispose();
    expect(() => new TemporalEncoder({ ...small, numFrames: 5 })).toThrow(/^config.numFrames: 5 is not a multiple of tubeletFrames 2$/);
    expect(() => new TemporalEncoder({ ...small, imageSize: 30 })).toThrow(/^config.imageSize: 30 is not a multiple of patchSize 8$/);
    encoder.dispose();
  });
});
