// IEEE 754 half precision (F16) and bfloat16 (BF16) <-> float32 conversions.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Converts F16 bit patterns to float32 values, writing into `out`. */
export function f16ToF32(src: Uint16Array, out: Float32Array): void {
  for (let i = 0; i < src.length; i++) {
    const h = src[i];
    const sign = (h & 0x8000) << 16;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x03ff;
    if (exp === 0) {
      // zero or subnormal: mant * 2^-24
      const v = mant * 5.960464477539063e-8;
      out[i] = sign ? -v : v;
    } else if (exp === 0x1f) {
      u32[0] = sign | 0x7f800000 | (mant << 13);
      out[i] = f32[0];
    } else {
      u32[0] = sign | ((exp + 112) << 23) | (mant << 13);
      out[i] = f32[0];
    }
  }
}

/** Converts BF16 bit patterns (the top 16 bits of a float32) to float32 values, writing into `out`. */
export function bf16ToF32(src: Uint16Array, out: Float32Array): void {
  const outBits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < src.length; i++) outBits[i] = src[i] << 16;
}

/** Rounds one float32 to the nearest F16 bit pattern (ties to even; overflow to ±Inf; NaN kept). */
export function f32ToF16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // underflows to ±0
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++; // may carry into the exponent: still correct (up to Inf)
  return sign | h;
}

/** Rounds one float32 to the nearest BF16 bit pattern (ties to even; NaN kept quiet). */
export function f32ToBf16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return ((x >>> 16) | 0x40) & 0xffff;
  const rounded = x + 0x7fff + ((x >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}
