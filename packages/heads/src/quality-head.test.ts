import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectArraysClose, expectNoTensorLeak, openSafetensors, tf, writeSafetensors } from '@vqlm/runtime';
import { expectError, useCpuBackend } from './__fixtures__/tensor-test-utils.js';
import { weightGradientPair } from './__fixtures__/head-test-utils.js';
import { HeadError } from './errors.js';
import { QualityHead } from './quality-head.js';

beforeAll(useCpuBackend);

const dir = mkdtempSync(join(tmpdir(), 'vqlm-heads-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('QualityHead', () => {
  it('matches a hand-computed forward pass (mean pooling, 2-layer MLP, mean over M)', async () => {
    const head = new QualityHead({ dim: 1, hidden: 2 });
    await expectNoTensorLeak(() => {
      const weights = {
        'fc1.kernel': tf.tensor2d([[1, -1], [0.5, 1]]),
        'fc1.bias': tf.tensor1d([0, -3]),
        'fc2.kernel': tf.tensor2d([[2], [3]]),
        'fc2.bias': tf.tensor1d([1]),
      };
      head.setWeights(weights);
      // frame 0: context mean 2, pixel 4 → hidden relu([4, −1]) = [4, 0] → 2·4 + 1 = 9
      // frame 1: context mean 1, pixel −1 → hidden relu([0.5, −5]) = [0.5, 0] → 2·0.5 + 1 = 2
      const context = tf.tensor3d([[[1], [3]], [[0], [2]]]);
      const pixel = tf.tensor3d([[[4]], [[-1]]]);
      const frames = head.frameScores(context, pixel);
      const video = head.videoScore(context, pixel);
      expect(frames.shape).toEqual([2]);
      expect(video.shape).toEqual([]);
      expectArraysClose(frames.dataSync(), [9, 2]);
      expectArraysClose(video.dataSync(), [5.5]);
      tf.dispose([...Object.values(weights), context, pixel, frames, video]);
    });
    head.dispose();
  });

  it('gives [B, M] frame and [B] video scores for a batch, equal to per-video calls', () => {
    const head = new QualityHead({ dim: 4, hidden: 8, pooling: 'max', seed: 2 });
    tf.tidy(() => {
      const context = tf.randomNormal([3, 2, 5, 4], 0, 1, 'float32', 1);
      const pixel = tf.randomNormal([3, 2, 6, 4], 0, 1, 'float32', 2);
      const frames = head.frameScores(context, pixel);
      const videos = head.videoScore(context, pixel);
      expect(frames.shape).toEqual([3, 2]);
      expect(videos.shape).toEqual([3]);
      const second = head.videoScore(tf.gather(context, 1), tf.gather(pixel, 1));
      expect(videos.dataSync()[1]).toBeCloseTo(second.dataSync()[0], 5);
      expectArraysClose(videos.dataSync(), tf.mean(frames, 1).dataSync(), { atol: 1e-6 });
    });
    head.dispose();
  });

  it('initialises reproducibly from its seed', () => {
    const read = (seed: number): number[] => {
      const head = new QualityHead({ dim: 3, seed });
      const values = Array.from(head.getWeights()['fc1.kernel'].dataSync());
      head.dispose();
      return values;
    };
    expect(read(5)).toEqual(read(5));
    expect(read(5)).not.toEqual(read(6));
  });

  it('has gradients equal to finite differences for every weight', () => {
    const head = new QualityHead({ dim: 2, hidden: 3, seed: 4 });
    const context = tf.tensor3d([[[0.5, -1], [2, 0.3]], [[1.5, 0.2], [-0.7, 1.1]]]);
    const pixel = tf.tensor3d([[[0.9, -0.4]], [[-1.2, 0.8]]]);
    const loss = (): tf.Scalar => tf.sum(tf.mul(head.frameScores(context, pixel), tf.tensor1d([1, -0.7])));
    for (const name of ['fc1.kernel', 'fc1.bias', 'fc2.kernel', 'fc2.bias']) {
      const { analytic, numeric } = weightGradientPair(head, name, loss);
      expectArraysClose(analytic, numeric, { atol: 2e-3, rtol: 1e-2 });
    }
    tf.dispose([context, pixel]);
    head.dispose();
  });

  it('leaks no tensor across forward and backward', async () => {
    const head = new QualityHead({ dim: 4, hidden: 4 });
    await expectNoTensorLeak(() => {
      const context = tf.ones([2, 3, 4]);
      const pixel = tf.ones([2, 2, 4]);
      const { value, grads } = tf.variableGrads(
        () => tf.square(head.videoScore(context, pixel)) as tf.Scalar,
        [...head.trainableVariables],
      );
      tf.dispose([context, pixel, value, ...Object.values(grads)]);
    });
    const before = tf.memory().numTensors;
    head.dispose();
    expect(tf.memory().numTensors).toBe(before - 4);
  });

  it('saves weights to safetensors and loads them into another head with the same outputs', async () => {
    const source = new QualityHead({ dim: 4, hidden: 6, seed: 11 });
    const target = new QualityHead({ dim: 4, hidden: 6, seed: 12 });
    const file = join(dir, 'quality-head.safetensors');
    await writeSafetensors(file, source.getWeights());
    const reader = await openSafetensors(file);
    expect([...reader.names].sort()).toEqual(Object.keys(source.weightShapes()).sort());
    const loaded: Record<string, tf.Tensor> = {};
    for (const name of reader.names) loaded[name] = await reader.tensor(name);
    await reader.close();
    target.setWeights(loaded);
    tf.dispose(Object.values(loaded));
    const [a, b] = tf.tidy(() => {
      const context = tf.randomNormal([3, 2, 4], 0, 1, 'float32', 3);
      const pixel = tf.randomNormal([3, 5, 4], 0, 1, 'float32', 4);
      return [Array.from(source.frameScores(context, pixel).dataSync()), Array.from(target.frameScores(context, pixel).dataSync())];
    });
    expect(b).toEqual(a);
    source.dispose();
    target.dispose();
  });

  it('lowers its loss when trained for a few hundred steps on a toy problem', () => {
    // 24 videos, M = 2 frames, Th = 3, Tl = 2, D = 4; the quality is a
    // nonlinear function of the pooled tokens the head can represent.
    const head = new QualityHead({ dim: 4, hidden: 16, seed: 7 });
    const context = tf.randomNormal([24, 2, 3, 4], 0, 1, 'float32', 21);
    const pixel = tf.randomNormal([24, 2, 2, 4], 0, 1, 'float32', 22);
    const target = tf.tidy(() => {
      const c = tf.mean(context, 2);
      const p = tf.mean(pixel, 2);
      const perFrame = tf.add(tf.gather(c, 0, 2), tf.mul(2, tf.relu(tf.gather(p, 1, 2))));
      return tf.mean(perFrame, 1);
    });
    const optimizer = tf.train.adam(0.01);
    const lossOf = (): tf.Scalar => tf.mean(tf.squaredDifference(head.videoScore(context, pixel), target));
    const first = tf.tidy(() => lossOf().dataSync()[0]);
    const before = tf.memory().numTensors;
    for (let step = 0; step < 300; step++) {
      const cost = optimizer.minimize(lossOf, false, [...head.trainableVariables]);
      cost?.dispose();
    }
    const last = tf.tidy(() => lossOf().dataSync()[0]);
    // Adam's moment slots are the only tensors created by training (2 per variable).
    expect(tf.memory().numTensors - before).toBeLessThanOrEqual(8);
    expect(last).toBeLessThan(0.1 * first);
    optimizer.dispose();
    tf.dispose([context, pixel, target]);
    head.dispose();
  });

  it('rejects bad inputs, bad weights and bad configs', () => {
    const head = new QualityHead({ dim: 4, hidden: 3 });
    const context = tf.zeros([2, 3, 4]);
    expectError(
      () => head.frameScores(context, tf.zeros([2, 2, 5])),
      HeadError,
      'E_HEAD_SHAPE',
      /QualityHead\.frameScores: pixel must have shape \[2, \?, 4\], got \[2, 2, 5\]/,
    );
    expectError(
      () => head.frameScores(tf.zeros([2, 3, 3]), context),
      HeadError,
      'E_HEAD_SHAPE',
      /context must have shape \[\?, \?, 4\] or \[\?, \?, \?, 4\], got \[2, 3, 3\]/,
    );
    expectError(() => head.frameScores(tf.zeros([0, 3, 4]), tf.zeros([0, 3, 4])), HeadError, 'E_HEAD_SHAPE', /M ≥ 1/);
    expectError(() => head.scoreFeatures(tf.zeros([2, 4])), HeadError, 'E_HEAD_SHAPE', /features must have shape \[\?, 8\] or \[\?, \?, 8\], got \[2, 4\]/);
    const kernel = head.getWeights()['fc1.kernel'];
    const good = { ...head.getWeights() };
    const before = Array.from(kernel.dataSync());
    expectError(
      () => head.setWeights({ ...good, 'fc2.kernel': tf.zeros([4, 1]), 'fc1.kernel': tf.ones([8, 3]) }),
      HeadError,
      'E_HEAD_WEIGHTS',
      /QualityHead\.setWeights: weight fc2\.kernel must have shape \[3, 1\], got \[4, 1\]/,
    );
    expect(Array.from(kernel.dataSync())).toEqual(before);
    const { 'fc2.bias': _omitted, ...missing } = good;
    expectError(() => head.setWeights(missing), HeadError, 'E_HEAD_WEIGHTS', /missing weight fc2\.bias of shape \[1\]/);
    expectError(() => head.setWeights({ ...good, extra: kernel }), HeadError, 'E_HEAD_WEIGHTS', /unknown weight extra \(expected fc1\.kernel, fc1\.bias, fc2\.kernel, fc2\.bias\)/);
    expectError(() => new QualityHead({ dim: 0 }), HeadError, 'E_HEAD_ARG', /QualityHead: config\.dim must be an integer ≥ 1, got 0/);
    expectError(() => new QualityHead({ dim: 2, pooling: 'sum' as 'mean' }), HeadError, 'E_HEAD_ARG', /config\.pooling must be one of mean, max, first, got sum/);
    context.dispose();
    head.dispose();
    expectError(() => head.videoScore(tf.zeros([1, 1, 4]), tf.zeros([1, 1, 4])), HeadError, 'E_HEAD_DISPOSED', /used after dispose/);
  });
});
