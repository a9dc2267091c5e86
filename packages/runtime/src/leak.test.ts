import { beforeAll, describe, expect, it } from 'vitest';
import { RuntimeError, TensorLeakError } from './errors.js';
import { expectNoTensorLeak } from './leak.js';
import { tf } from './tf.js';

beforeAll(async () => {
  await import('@tensorflow/tfjs-backend-cpu');
  await tf.setBackend('cpu');
});

describe('expectNoTensorLeak', () => {
  it('returns the result when every tensor is freed', async () => {
    const value = await expectNoTensorLeak(() => {
      const total = tf.tidy(() => tf.sum(tf.ones([3])));
      const v = total.dataSync()[0];
      total.dispose();
      return v;
    });
    expect(value).toBe(3);
  });

  it('throws TensorLeakError naming before/after counts when a tensor survives', async () => {
    const before = tf.memory().numTensors;
    let leaked: tf.Tensor | undefined;
    const err = await expectNoTensorLeak(async () => {
      leaked = tf.ones([2]);
      await Promise.resolve();
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TensorLeakError);
    expect(err).toBeInstanceOf(RuntimeError);
    expect((err as RuntimeError).code).toBe('E_TENSOR_LEAK');
    expect((err as Error).message).toMatch(new RegExp(`1 tensor\\(s\\) left allocated \\(before: ${before}, after: ${before + 1}\\)`));
    leaked?.dispose();
  });
});
