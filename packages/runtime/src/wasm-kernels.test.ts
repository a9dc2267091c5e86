import { beforeAll, describe, expect, it } from 'vitest';
import { runTrainingStep } from './__fixtures__/training-step.js';
import { initBackend } from './backend.js';
import { expectNoTensorLeak } from './leak.js';
import { tf } from './tf.js';
import { WASM_ADDED_KERNELS } from './wasm-kernels.js';

type Result = Awaited<ReturnType<typeof runTrainingStep>>;
let onWasm: Result;
let onCpu: Result;

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    expect(Math.abs(actual[i] - expected[i]), `index ${i}: ${actual[i]} vs ${expected[i]}`).toBeLessThanOrEqual(tolerance * (1 + Math.abs(expected[i])));
  }
}

const cpuDataIds = () => (tf.engine().registry as Record<string, tf.KernelBackend | undefined>).cpu?.numDataIds();

describe('training on wasm with the kernels vqlm registers', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: () => {} });
  });

  it('runs a full training step (gather, conv2d, layer norm, attention, GELU, Adam) without touching cpu', async () => {
    expect(WASM_ADDED_KERNELS).toEqual(expect.arrayContaining(['UnsortedSegmentSum', 'Conv2DBackpropFilter']));
    expect(cpuDataIds()).toBeUndefined(); // the cpu backend has never been initialised in this worker
    onWasm = await expectNoTensorLeak(() => runTrainingStep(3));
    expect(tf.getBackend()).toBe('wasm');
    expect(cpuDataIds()).toBeUndefined();
    expect(Number.isFinite(onWasm.loss)).toBe(true);
    expect(onWasm.lossesAfter[2]).toBeLessThan(onWasm.loss);
  });

  it('a kernel that wasm lacks and vqlm does not add fails loudly instead of running on cpu', () => {
    const x = tf.ones([1, 3, 3, 1]);
    expect(() => tf.grad((a: tf.Tensor) => tf.sum(tf.depthwiseConv2d(a as tf.Tensor4D, tf.ones([2, 2, 1, 1]), 1, 'same')))(x))
      .toThrow(/Kernel 'DepthwiseConv2dNativeBackpropInput' not registered for backend 'wasm'/);
    x.dispose();
    expect(cpuDataIds()).toBeUndefined();
  });

  it('UnsortedSegmentSum: sums rows into segments, drops out-of-range ids, frees its memory', async () => {
    const wasm = tf.engine().registry.wasm;
    const before = wasm.numDataIds();
    await expectNoTensorLeak(async () => {
      const x = tf.tensor3d([[[1, 2], [3, 4]], [[5, 6], [7, 8]], [[9, 10], [11, 12]], [[1, 1], [1, 1]]]);
      const ids = tf.tensor1d([2, 0, 2, 5], 'int32');
      const out = tf.unsortedSegmentSum(x, ids, 3);
      expect(out.shape).toEqual([3, 2, 2]);
      expect(Array.from(await out.data())).toEqual([5, 6, 7, 8, 0, 0, 0, 0, 10, 12, 14, 16]);
      tf.dispose([x, ids, out]);
    });
    expect(wasm.numDataIds()).toBe(before);
  });

  it('Conv2DBackpropFilter matches a direct sum for strided, padded convolutions and frees its memory', async () => {
    const wasm = tf.engine().registry.wasm;
    const before = wasm.numDataIds();
    // Direct definition: dW[fh,fw,ci,co] = Σ x[b, oh·s+fh−top, ow·s+fw−left, ci] · dy[b,oh,ow,co]; with dy = 1 (sum loss).
    const [bs, h, w, ci, co, f] = [2, 5, 5, 2, 3, 3];
    const xData = Float32Array.from({ length: bs * h * w * ci }, (_, i) => Math.cos(i));
    for (const [stride, pad] of [[1, 'same'], [2, 'valid'], [2, 'same']] as const) {
      const grad = await expectNoTensorLeak(async () => {
        const x = tf.tensor4d(xData, [bs, h, w, ci]);
        const filter = tf.ones<tf.Rank.R4>([f, f, ci, co]);
        const g = tf.grad((k: tf.Tensor) => tf.sum(tf.conv2d(x, k as tf.Tensor4D, stride, pad)))(filter);
        const data = await g.data();
        tf.dispose([x, filter, g]);
        return data;
      });
      const outH = pad === 'same' ? Math.ceil(h / stride) : Math.ceil((h - f + 1) / stride);
      const padTotal = pad === 'same' ? Math.max((outH - 1) * stride + f - h, 0) : 0;
      const top = Math.floor(padTotal / 2);
      const expected = new Float32Array(f * f * ci * co);
      for (let fh = 0; fh < f; fh++) for (let fw = 0; fw < f; fw++) for (let c = 0; c < ci; c++) {
        let sum = 0;
        for (let b = 0; b < bs; b++) for (let oh = 0; oh < outH; oh++) for (let ow = 0; ow < outH; ow++) {
          const ih = oh * stride + fh - top;
          const iw = ow * stride + fw - top;
          if (ih >= 0 && ih < h && iw >= 0 && iw < w) sum += xData[((b * h + ih) * w + iw) * ci + c];
        }
        for (let o = 0; o < co; o++) expected[((fh * f + fw) * ci + c) * co + o] = sum;
      }
      expectClose(grad, expected, 1e-5);
    }
    expect(wasm.numDataIds()).toBe(before);
  });
});

describe('the same training step on cpu', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'cpu', log: () => {} });
  });

  it('gives the same loss, gradients and Adam trajectory as wasm', async () => {
    onCpu = await expectNoTensorLeak(() => runTrainingStep(3));
    expect(tf.getBackend()).toBe('cpu');
    expectClose([onWasm.loss], [onCpu.loss], 1e-5);
    for (const name of Object.keys(onCpu.grads)) expectClose(onWasm.grads[name], onCpu.grads[name], 1e-4);
    expectClose(onWasm.lossesAfter, onCpu.lossesAfter, 1e-4);
  });
});
