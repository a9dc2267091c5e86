import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from './tf.js';

type TensorInfo = tf.TensorInfo;

/**
 * Kernels that training needs and `@tensorflow/tfjs-backend-wasm` 4.22 lacks,
 * found by running a full training step (embedding gather, layer norm,
 * attention, GELU, Adam) on wasm. Each one computes on the wasm backend's own
 * heap (views from `typedArrayFromHeap`, output from `makeOutput`), so data
 * never moves to another backend and nothing runs on cpu behind the caller's
 * back. Registered by {@link registerWasmKernels}, called from `initBackend`.
 */
export const wasmKernelConfigs: readonly tf.KernelConfig[] = Object.freeze([
  {
    // Gradient of gather (embeddings): out[ids[i], ...] += x[i, ...]; ids outside [0, numSegments) are dropped, as in TF.
    kernelName: 'UnsortedSegmentSum',
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const wasm = backend as BackendWasm;
      const x = inputs.x as TensorInfo;
      const segmentIds = inputs.segmentIds as TensorInfo;
      const numSegments = (attrs as { numSegments: number }).numSegments;
      const idsRank = segmentIds.shape.length;
      const inner = x.shape.slice(idsRank).reduce((a, b) => a * b, 1);
      const out = wasm.makeOutput([numSegments, ...x.shape.slice(idsRank)], x.dtype);
      // Views are taken after makeOutput: an allocation may grow (and move) the heap.
      const outValues = wasm.typedArrayFromHeap(out);
      const xValues = wasm.typedArrayFromHeap(x);
      const ids = wasm.typedArrayFromHeap(segmentIds);
      outValues.fill(0);
      for (let i = 0; i < ids.length; i++) {
        const segment = ids[i];
        if (segment < 0 || segment >= numSegments) continue;
        const src = i * inner;
        const dst = segment * inner;
        for (let j = 0; j < inner; j++) outValues[dst + j] += xValues[src + j];
      }
      return out;
    },
  },
  {
    // Gradient of conv2d w.r.t. the filter (patch embeddings). im2col on the
    // wasm heap (a copy), then one BatchMatMul on wasm: cols^T [K, N] · dy [N, Co].
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const wasm = backend as BackendWasm;
      const x = inputs.x as TensorInfo;
      const dy = inputs.dy as TensorInfo;
      const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as {
        strides: [number, number] | number; pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
        dataFormat: 'NHWC' | 'NCHW'; dimRoundingMode?: 'floor' | 'round' | 'ceil'; filterShape: [number, number, number, number];
      };
      if (dataFormat === 'NCHW') throw new Error('Conv2DBackpropFilter on wasm (vqlm): only NHWC is supported, got NCHW');
      const info = tf.backend_util.computeConv2DInfo(
        x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
      const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth, strideHeight, strideWidth } = info;
      const top = info.padInfo.top;
      const left = info.padInfo.left;
      const rows = batchSize * outHeight * outWidth;
      const depth = filterHeight * filterWidth * inChannels;
      const cols = wasm.makeOutput([rows, depth], 'float32');
      const colValues = wasm.typedArrayFromHeap(cols);
      const xValues = wasm.typedArrayFromHeap(x);
      let row = 0;
      for (let b = 0; b < batchSize; b++) {
        for (let oh = 0; oh < outHeight; oh++) {
          for (let ow = 0; ow < outWidth; ow++, row++) {
            let k = row * depth;
            for (let fh = 0; fh < filterHeight; fh++) {
              const ih = oh * strideHeight + fh - top;
              for (let fw = 0; fw < filterWidth; fw++) {
                const iw = ow * strideWidth + fw - left;
                if (ih < 0 || ih >= inHeight || iw < 0 || iw >= inWidth) {
                  colValues.fill(0, k, k + inChannels);
                } else {
                  const src = ((b * inHeight + ih) * inWidth + iw) * inChannels;
                  colValues.set(xValues.subarray(src, src + inChannels), k);
                }
                k += inChannels;
              }
            }
          }
        }
      }
      const matMul = tf.getKernel('BatchMatMul', 'wasm');
      if (!matMul) throw new Error('Conv2DBackpropFilter on wasm (vqlm): the wasm BatchMatMul kernel is missing');
      const product = matMul.kernelFunc({
        inputs: { a: { ...cols, shape: [1, rows, depth] }, b: { dataId: dy.dataId, dtype: dy.dtype, shape: [1, rows, outChannels] } },
        backend,
        attrs: { transposeA: true, transposeB: false },
      }) as TensorInfo;
      wasm.disposeData(cols.dataId);
      return { dataId: product.dataId, dtype: product.dtype, shape: [...filterShape] };
    },
  },
]);

/** Names of the kernels vqlm adds to the wasm backend. */
export const WASM_ADDED_KERNELS: readonly string[] = Object.freeze(wasmKernelConfigs.map((k) => k.kernelName));

/**
 * Registers {@link wasmKernelConfigs} for the `wasm` backend, skipping any
 * kernel tfjs already provides (a later tfjs may add them). Idempotent.
 */
export function registerWasmKernels(): void {
  for (const config of wasmKernelConfigs) {
    if (tf.getKernel(config.kernelName, config.backendName) === undefined) tf.registerKernel(config);
  }
}
