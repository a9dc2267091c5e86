import { beforeAll, describe, expect, it } from 'vitest';
import { expectArraysClose, expectNoTensorLeak, tf } from '@vqlm/runtime';
import { expectError, useCpuBackend } from './__fixtures__/tensor-test-utils.js';
import { HeadError } from './errors.js';
import { LevelHead, QUALITY_LEVELS, levelFromScore, levelScoreFromLogits } from './level-head.js';
import { weightGradientPair } from './__fixtures__/head-test-utils.js';

beforeAll(useCpuBackend);

describe('levelScoreFromLogits', () => {
  it('is the probability-weighted level (hand-computed)', () => {
    // p = [0.1, 0.2, 0.3, 0.2, 0.2] → 0.1 + 0.4 + 0.9 + 0.8 + 1.0 = 3.2; uniform → 3
    const values = tf.tidy(() => {
      const logits = tf.log(tf.tensor2d([[0.1, 0.2, 0.3, 0.2, 0.2], [1, 1, 1, 1, 1]]));
      return Array.from(levelScoreFromLogits(logits).dataSync());
    });
    expectArraysClose(values, [3.2, 3]);
    const extreme = tf.tidy(() => levelScoreFromLogits(tf.tensor1d([-500, 0, 0, 0, 500])).dataSync()[0]);
    expect(extreme).toBeCloseTo(5, 5);
  });

  it('rejects a last dim other than 5', () => {
    const bad = tf.zeros([2, 4]);
    expectError(() => levelScoreFromLogits(bad), HeadError, 'E_HEAD_SHAPE', /levelScoreFromLogits: logits must have shape \[\?, 5\], got \[2, 4\]/);
    bad.dispose();
  });
});

describe('levelFromScore', () => {
  it('splits 1–5 into five equal intervals', () => {
    const cases: [number, string][] = [
      [0, 'bad'], [1, 'bad'], [1.79, 'bad'], [1.8, 'poor'], [2.59, 'poor'], [2.6, 'fair'], [3.4, 'good'],
      [4.19, 'good'], [4.2, 'excellent'], [5, 'excellent'], [7, 'excellent'],
    ];
    for (const [score, word] of cases) expect(levelFromScore(score), String(score)).toBe(word);
    expect(QUALITY_LEVELS).toEqual(['bad', 'poor', 'fair', 'good', 'excellent']);
  });

  it('rejects a non-finite score', () => {
    expectError(() => levelFromScore(NaN), HeadError, 'E_HEAD_ARG', /levelFromScore: score must be a finite number, got NaN/);
  });
});

describe('LevelHead', () => {
  it('maps [N, F] and [B, N, F] to logits [.., 5] and scores in [1, 5]', async () => {
    const head = new LevelHead({ inputDim: 6, seed: 3 });
    await expectNoTensorLeak(() => {
      const x = tf.randomNormal([4, 6], 0, 3, 'float32', 7);
      const logits = head.logits(x);
      const scores = head.scores(x);
      const x3 = tf.reshape(x, [2, 2, 6]);
      const batched = head.scores(x3);
      expect(logits.shape).toEqual([4, 5]);
      expect(scores.shape).toEqual([4]);
      expect(batched.shape).toEqual([2, 2]);
      for (const s of scores.dataSync()) expect(s >= 1 && s <= 5).toBe(true);
      expectArraysClose(batched.dataSync(), scores.dataSync(), { atol: 1e-6 });
      tf.dispose([x, x3, logits, scores, batched]);
    });
    head.dispose();
  });

  it('has gradients equal to finite differences for both weights', () => {
    const head = new LevelHead({ inputDim: 3, seed: 1 });
    const x = tf.tensor2d([[0.5, -1, 2], [1.5, 0.3, -0.7]]);
    const coef = tf.tensor1d([1, -0.5]);
    const loss = (): tf.Scalar => tf.sum(tf.mul(head.scores(x), coef));
    for (const name of ['proj.kernel', 'proj.bias']) {
      const { analytic, numeric } = weightGradientPair(head, name, loss);
      expectArraysClose(analytic, numeric, { atol: 2e-3, rtol: 1e-2 });
    }
    tf.dispose([x, coef]);
    head.dispose();
  });

  it('rejects bad features and configs', () => {
    const head = new LevelHead({ inputDim: 3 });
    const x = tf.zeros([2, 4]);
    expectError(() => head.logits(x), HeadError, 'E_HEAD_SHAPE', /LevelHead\.logits: features must have shape \[\?, 3\] or \[\?, \?, 3\], got \[2, 4\]/);
    expectError(() => new LevelHead({ inputDim: 0 }), HeadError, 'E_HEAD_ARG', /config\.inputDim must be an integer ≥ 1, got 0/);
    expectError(() => new LevelHead({ inputDim: 2, seed: 1.5 }), HeadError, 'E_HEAD_ARG', /config\.seed must be an integer ≥ 0, got 1\.5/);
    x.dispose();
    head.dispose();
    expectError(() => head.getWeights(), HeadError, 'E_HEAD_DISPOSED', /LevelHead: used after dispose\(\)/);
  });
});
