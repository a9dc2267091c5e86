import { beforeAll, describe, expect, it } from 'vitest';
import { expectArraysClose, expectNoTensorLeak, tf } from '@vqlm/runtime';
import { expectError, useCpuBackend } from './__fixtures__/tensor-test-utils.js';
import { HeadError } from './errors.js';
import { poolFrameTokens } from './pooling.js';

beforeAll(useCpuBackend);

// M = 2 frames, Th = 2 context tokens, Tl = 1 pixel token, D = 2
const context = [
  [[1, 2], [3, 0]],
  [[-1, 4], [5, 6]],
];
const pixel = [[[7, 8]], [[9, -2]]];

describe('poolFrameTokens', () => {
  it('pools each branch over its tokens and concatenates to [M, 2D]', async () => {
    await expectNoTensorLeak(() => {
      const c = tf.tensor3d(context);
      const p = tf.tensor3d(pixel);
      const mean = poolFrameTokens(c, p);
      const max = poolFrameTokens(c, p, 'max');
      const first = poolFrameTokens(c, p, 'first');
      expect(mean.shape).toEqual([2, 4]);
      expectArraysClose(mean.dataSync(), [2, 1, 7, 8, 2, 5, 9, -2]);
      expectArraysClose(max.dataSync(), [3, 2, 7, 8, 5, 6, 9, -2]);
      expectArraysClose(first.dataSync(), [1, 2, 7, 8, -1, 4, 9, -2]);
      tf.dispose([c, p, mean, max, first]);
    });
  });

  it('accepts a batch [B, M, T, D] → [B, M, 2D]', () => {
    const shape = tf.tidy(() => poolFrameTokens(tf.zeros([3, 2, 5, 4]), tf.zeros([3, 2, 1, 4])).shape);
    expect(shape).toEqual([3, 2, 8]);
  });

  it('rejects mismatched M, D, rank, empty token sets and unknown pooling', () => {
    const c = tf.zeros([2, 3, 4]);
    expectError(() => poolFrameTokens(c, tf.zeros([3, 1, 4])), HeadError, 'E_HEAD_SHAPE', /poolFrameTokens: pixel must have shape \[2, \?, 4\], got \[3, 1, 4\]/);
    expectError(() => poolFrameTokens(c, tf.zeros([2, 1, 5])), HeadError, 'E_HEAD_SHAPE', /pixel must have shape \[2, \?, 4\], got \[2, 1, 5\]/);
    expectError(() => poolFrameTokens(tf.zeros([3, 4]), c), HeadError, 'E_HEAD_SHAPE', /context must have shape \[\?, \?, \?\] or \[\?, \?, \?, \?\], got \[3, 4\]/);
    expectError(() => poolFrameTokens(c, tf.zeros([2, 0, 4])), HeadError, 'E_HEAD_SHAPE', /at least one token/);
    expectError(() => poolFrameTokens(c, c, 'median' as 'mean'), HeadError, 'E_HEAD_ARG', /pooling must be one of mean, max, first, got median/);
    c.dispose();
  });
});
