import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '@vqlm/runtime';
import { expectError, useCpuBackend } from './__fixtures__/tensor-test-utils.js';
import { LossError } from './errors.js';
import { builtinLosses, createLossRegistry, LossRegistry } from './registry.js';
import { rankingHinge } from './ranking-hinge.js';

beforeAll(useCpuBackend);

const t = (values: number[]): tf.Tensor1D => tf.tensor1d(values, 'float32');

describe('loss registry', () => {
  it('lists the built-in losses by name', () => {
    expect(createLossRegistry().names()).toEqual([
      'rankingHinge',
      'maskedMse',
      'tokenCrossEntropy',
      'plccLoss',
      'monotonicityLoss',
    ]);
    expect(builtinLosses.every((s) => Object.isFrozen(s))).toBe(true);
  });

  it('computes a loss picked by name from named inputs, same as the function', () => {
    const [viaRegistry, direct] = tf.tidy(() => {
      const x = { q1: t([3, 1]), q2: t([1, 2]), qHat1: t([0.5, 0.8]), qHat2: t([0.9, 0.3]) };
      return [
        createLossRegistry().get('rankingHinge').compute(x).dataSync()[0],
        rankingHinge(x.q1, x.q2, x.qHat1, x.qHat2).dataSync()[0],
      ];
    });
    expect(viaRegistry).toBeCloseTo(direct, 7);
    expect(viaRegistry).toBeCloseTo((2 * 0.4 + 0.5) / 2, 6);
  });

  it('passes the optional padding mask of tokenCrossEntropy', () => {
    const v = tf.tidy(() =>
      createLossRegistry()
        .get('tokenCrossEntropy')
        .compute({
          logits: tf.tensor3d([[[0, 0], [9, 0]]]),
          targets: tf.tensor2d([[0, 1]], undefined, 'int32'),
          paddingMask: tf.tensor2d([[1, 0]]),
        })
        .dataSync()[0],
    );
    expect(v).toBeCloseTo(Math.log(2), 5);
  });

  it('rejects unknown names, duplicate registration, missing and unknown inputs', () => {
    const registry = createLossRegistry();
    expectError(() => registry.get('l1'), LossError, 'E_LOSS_ARG', /unknown loss 'l1' \(known: rankingHinge, maskedMse/);
    expectError(() => registry.register(builtinLosses[0]), LossError, 'E_LOSS_ARG', /'rankingHinge' is already registered/);
    const p = t([1, 2]);
    expectError(() => registry.get('plccLoss').compute({ pred: p }), LossError, 'E_LOSS_ARG', /plccLoss: missing input 'target'/);
    expectError(
      () => registry.get('plccLoss').compute({ pred: p, target: p, mask: p }),
      LossError,
      'E_LOSS_ARG',
      /plccLoss: unknown input 'mask' \(accepts pred, target\)/,
    );
    p.dispose();
    expect(new LossRegistry().has('plccLoss')).toBe(false);
  });
});
