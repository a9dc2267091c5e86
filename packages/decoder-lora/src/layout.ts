/** Additive attention bias of a hidden key (large and finite, so a row with nothing visible stays finite). */
export const MASKED_BIAS = -1e9;

/**
 * Extends one row's prefix-LM layout to `total` positions in place. The first `prefixVisible.length`
 * positions are the prefix (hidden ones keep the position of the visible one before them, so hiding a
 * prefix token does not shift the text); every later position is visible and one past the last.
 * @param positions RoPE position of each position so far (appended to)
 * @param visible whether each position so far can be attended to (appended to)
 */
export function extendPrefixLmLayout(positions: number[], visible: boolean[], prefixVisible: readonly boolean[], total: number): void {
  for (let i = positions.length; i < total; i += 1) {
    const shown = i < prefixVisible.length ? prefixVisible[i] : true;
    // Position i is the number of visible positions before it.
    positions.push(i === 0 ? 0 : visible[i - 1] ? positions[i - 1] + 1 : positions[i - 1]);
    visible.push(shown);
  }
}

/**
 * One row of the prefix-LM attention bias: for queries `start … start + count − 1` over keys
 * `0 … S − 1` (S = `visible.length`), 0 where key j may be attended to (it is visible, and it is in
 * the prefix or j ≤ i, and |i − j| < `window` for a sliding-window layer), else {@link MASKED_BIAS}.
 * @returns `[count, S]`, written into `out` at `offset` when given
 */
export function prefixLmBias(visible: readonly boolean[], prefixLength: number, start: number, count: number, window: number | null, out?: Float32Array, offset = 0): Float32Array {
  const S = visible.length;
  const data = out ?? new Float32Array(count * S);
  for (let l = 0; l < count; l += 1) {
    const i = start + l;
    const row = offset + l * S;
    for (let j = 0; j < S; j += 1) {
      const allowed = visible[j] && (j < prefixLength || j <= i) && (window === null || Math.abs(i - j) < window);
      data[row + j] = allowed ? 0 : MASKED_BIAS;
    }
  }
  return data;
}
