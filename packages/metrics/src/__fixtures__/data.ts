// Deterministic test data, generated with exactly the arithmetic of
// bench/scipy-reference.py (32-bit LCG; only + - * / and floor), so the
// values are bit-identical to those SciPy saw.

/** state ← (1664525 · state + 1013904223) mod 2^32; returns state / 2^32. */
export function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(1664525, state) + 1013904223) >>> 0;
    return state / 4294967296;
  };
}

/** pred in steps of 0.001, mos in steps of 0.02 on [1, 5]: many ties. */
export function tiedDataset(n: number, seed: number): { pred: Float64Array; mos: Float64Array } {
  const next = lcg(seed);
  const pred = new Float64Array(n);
  const mos = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const q = next();
    const e1 = next() + next() + next() - 1.5;
    const e2 = next() + next() - 1;
    const raw = 1 + (4 * (q * q)) / (q * q + (1 - q) * (1 - q)) + 0.25 * e1;
    mos[i] = Math.floor(raw * 50 + 0.5) / 50;
    pred[i] = Math.floor((q + 0.15 * e2) * 1000 + 0.5) / 1000;
  }
  return { pred, mos };
}

/** Integer scores 0..4 for both: very heavy ties. */
export function coarseDataset(n: number, seed: number): { pred: Float64Array; mos: Float64Array } {
  const next = lcg(seed);
  const pred = new Float64Array(n);
  const mos = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const q = next();
    mos[i] = Math.floor(q * 5);
    pred[i] = Math.floor((q + 0.5 * (next() - 0.5)) * 5);
  }
  return { pred, mos };
}
