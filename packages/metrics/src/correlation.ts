import { MetricError } from './metric-error.js';
import { averageRanks, countRankInversions, sortWithOrder } from './sort.js';
import { checkNotConstant, checkPair, type NumericArray } from './validate.js';

/**
 * Pearson correlation of two checked, non-constant vectors (two-pass:
 * means first, then centred sums, for accuracy on large n).
 * @internal
 */
export function pearson(x: Float64Array, y: Float64Array): number {
  const n = x.length;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < n; i++) {
    sx += x[i];
    sy += y[i];
  }
  const mx = sx / n;
  const my = sy / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx;
    const dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) {
    throw new MetricError('E_CONSTANT', `a vector has zero variance: correlation is undefined`);
  }
  const product = sxx * syy;
  const r =
    Number.isFinite(product) && product > 0
      ? sxy / Math.sqrt(product)
      : sxy / Math.sqrt(sxx) / Math.sqrt(syy);
  return Math.max(-1, Math.min(1, r));
}

/**
 * Spearman rank correlation (SRCC): the Pearson correlation of the average
 * ranks (ties share the mean of their ranks), as `scipy.stats.spearmanr`.
 * O(n log n) time (radix sort), O(n) memory.
 *
 * @param pred predicted scores, shape [n], finite, n ≥ 3
 * @param mos ground-truth mean opinion scores, shape [n]
 * @returns SRCC in [-1, 1]
 * @throws MetricError `E_LENGTH_MISMATCH`, `E_TOO_FEW_POINTS`, `E_NOT_FINITE`, `E_CONSTANT`
 */
export function srcc(pred: NumericArray, mos: NumericArray): number {
  const [x, y] = checkPair(pred, mos, 'pred', 'mos');
  checkNotConstant(x, 'pred', 'SRCC');
  checkNotConstant(y, 'mos', 'SRCC');
  return pearson(averageRanks(x), averageRanks(y));
}

/** Sum of t(t-1)/2 over runs of equal values in a sorted array. */
function tiedPairs(sorted: Float64Array | Int32Array): number {
  let pairs = 0;
  const n = sorted.length;
  let i = 0;
  while (i < n) {
    let j = i + 1;
    while (j < n && sorted[j] === sorted[i]) j++;
    const t = j - i;
    pairs += (t * (t - 1)) / 2;
    i = j;
  }
  return pairs;
}

/**
 * Kendall rank correlation, tau-b (ties corrected), as
 * `scipy.stats.kendalltau(variant='b')`:
 * `tau_b = (C - D) / sqrt((n0 - n1) (n0 - n2))` with `n0 = n(n-1)/2`, `n1`
 * and `n2` the pairs tied in pred and in mos. Knight's O(n log n) algorithm:
 * sort by (pred, mos), then count discordant pairs as the inversions of mos
 * in a merge sort.
 *
 * @param pred predicted scores, shape [n], finite, n ≥ 3
 * @param mos ground-truth scores, shape [n]
 * @returns KRCC in [-1, 1]
 * @throws MetricError `E_LENGTH_MISMATCH`, `E_TOO_FEW_POINTS`, `E_NOT_FINITE`, `E_CONSTANT`
 */
export function krcc(pred: NumericArray, mos: NumericArray): number {
  const [x, y] = checkPair(pred, mos, 'pred', 'mos');
  checkNotConstant(x, 'pred', 'KRCC');
  checkNotConstant(y, 'mos', 'KRCC');
  const n = x.length;

  // Dense ranks 0..rank of mos (equal values share an integer), and its tied pairs.
  const byMos = sortWithOrder(y);
  const mosTies = tiedPairs(byMos.sorted);
  const mosRank = new Int32Array(n);
  let rank = 0;
  for (let k = 0; k < n; k++) {
    if (k > 0 && byMos.sorted[k] !== byMos.sorted[k - 1]) rank++;
    mosRank[byMos.order[k]] = rank;
  }

  // Lexicographic order by (pred, mos): a stable sort by pred of the mos order.
  const byBoth = sortWithOrder(x, byMos.order);
  const predSorted = byBoth.sorted;
  const mosInOrder = new Int32Array(n);
  for (let k = 0; k < n; k++) mosInOrder[k] = mosRank[byBoth.order[k]];

  const predTies = tiedPairs(predSorted);
  let jointTies = 0;
  let i = 0;
  while (i < n) {
    let j = i + 1;
    while (j < n && predSorted[j] === predSorted[i] && mosInOrder[j] === mosInOrder[i]) j++;
    const t = j - i;
    jointTies += (t * (t - 1)) / 2;
    i = j;
  }

  const discordant = countRankInversions(mosInOrder, rank + 1);
  const total = (n * (n - 1)) / 2;
  const concordantMinusDiscordant = total - predTies - mosTies + jointTies - 2 * discordant;
  const tau = concordantMinusDiscordant / Math.sqrt((total - predTies) * (total - mosTies));
  return Math.max(-1, Math.min(1, tau));
}
