/**
 * Separable bilinear (triangle-filter) resampling of interleaved RGB uint8
 * images. Pixel centres are at half-integer positions (no corner alignment).
 * When shrinking, the triangle is widened by the scale factor, so each output
 * pixel averages all input pixels under it (as PIL's `BILINEAR`, which
 * SigLIP's preprocessing uses); when enlarging it is plain bilinear
 * interpolation. Like PIL, weights are 14-bit fixed point and the
 * intermediate (horizontally resized) image is rounded to uint8.
 */

const PRECISION = 14;
const ONE = 1 << PRECISION;
const HALF = 1 << (PRECISION - 1);

interface Taps {
  /** First input pixel of each output pixel. */
  start: Int32Array;
  /** Number of input pixels of each output pixel. */
  count: Int32Array;
  /** Fixed-point weights, `stride` per output pixel. */
  weights: Int32Array;
  stride: number;
}

const tapCache = new Map<string, Taps>();

function taps(inSize: number, outSize: number): Taps {
  const key = `${inSize}>${outSize}`;
  const cached = tapCache.get(key);
  if (cached) return cached;
  const scale = inSize / outSize;
  const support = Math.max(scale, 1); // triangle support 1, widened when shrinking
  const stride = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * stride);
  const real = new Float64Array(stride);
  for (let o = 0; o < outSize; o++) {
    const centre = (o + 0.5) * scale;
    const lo = Math.max(0, Math.floor(centre - support + 0.5));
    const hi = Math.max(lo + 1, Math.min(inSize, Math.floor(centre + support + 0.5)));
    let total = 0;
    for (let i = lo; i < hi; i++) {
      const w = Math.max(0, 1 - Math.abs((i + 0.5 - centre) / support));
      real[i - lo] = w;
      total += w;
    }
    if (total === 0) {
      real[0] = 1; // guard; cannot happen for positive sizes
      total = 1;
    }
    for (let i = 0; i < hi - lo; i++) weights[o * stride + i] = Math.round((real[i] / total) * ONE);
    start[o] = lo;
    count[o] = hi - lo;
  }
  const result = { start, count, weights, stride };
  if (tapCache.size > 64) tapCache.clear();
  tapCache.set(key, result);
  return result;
}

function clampByte(acc: number): number {
  const v = (acc + HALF) >> PRECISION;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * Resizes one RGB image `[inH, inW, 3]` (at `srcOffset` in `src`) to
 * `[outH, outW, 3]`, written at `dstOffset` in `dst`.
 */
export function resizeBilinear(
  src: Uint8Array,
  srcOffset: number,
  inH: number,
  inW: number,
  dst: Uint8Array,
  dstOffset: number,
  outH: number,
  outW: number,
): void {
  const h = taps(inW, outW);
  const v = taps(inH, outH);
  const hStart = h.start;
  const hCount = h.count;
  const hWeights = h.weights;
  const hStride = h.stride;
  // horizontal pass on the rows the vertical pass will read
  const rowLo = v.start[0];
  const rowHi = v.start[outH - 1] + v.count[outH - 1];
  const rowLen = outW * 3;
  const mid = new Uint8Array((rowHi - rowLo) * rowLen);
  for (let y = rowLo; y < rowHi; y++) {
    const rowBase = srcOffset + y * inW * 3;
    let q = (y - rowLo) * rowLen;
    for (let x = 0; x < outW; x++) {
      const n = hCount[x];
      let w = x * hStride;
      let p = rowBase + hStart[x] * 3;
      let r = 0;
      let g = 0;
      let b = 0;
      for (let t = 0; t < n; t++, p += 3, w++) {
        const k = hWeights[w];
        r += src[p] * k;
        g += src[p + 1] * k;
        b += src[p + 2] * k;
      }
      mid[q++] = clampByte(r);
      mid[q++] = clampByte(g);
      mid[q++] = clampByte(b);
    }
  }
  const acc = new Int32Array(rowLen);
  for (let y = 0; y < outH; y++) {
    const s = v.start[y] - rowLo;
    const n = v.count[y];
    acc.fill(0);
    for (let t = 0; t < n; t++) {
      const k = v.weights[y * v.stride + t];
      const base = (s + t) * rowLen;
      for (let i = 0; i < rowLen; i++) acc[i] += mid[base + i] * k;
    }
    const out = dstOffset + y * rowLen;
    for (let i = 0; i < rowLen; i++) dst[out + i] = clampByte(acc[i]);
  }
}
