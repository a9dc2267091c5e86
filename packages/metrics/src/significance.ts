import { pearson } from './correlation.js';
import { normalSf, studentTSf } from './distributions.js';
import { MetricError } from './metric-error.js';
import { averageRanks } from './sort.js';
import { checkChoice, checkNotConstant, checkPair, type NumericArray } from './validate.js';

/** Direction of the alternative hypothesis (as in scipy.stats). */
export type Alternative = 'two-sided' | 'greater' | 'less';
const ALTERNATIVES: readonly Alternative[] = ['two-sided', 'greater', 'less'];

function pFromSf(sf: (v: number) => number, statistic: number, alternative: Alternative): number {
  if (alternative === 'greater') return sf(statistic);
  if (alternative === 'less') return sf(-statistic);
  return Math.min(1, 2 * sf(Math.abs(statistic)));
}

/** Options of {@link compareCorrelations}. */
export interface CompareCorrelationsOptions {
  /** `'williams'` (default): Williams' t, df = n − 3. `'steiger'`: Steiger's Z on Fisher z's. */
  readonly method?: 'williams' | 'steiger';
  /** Correlation compared: `'plcc'` (Pearson, default) or `'srcc'` (Pearson on ranks). */
  readonly correlation?: 'plcc' | 'srcc';
  /** `'greater'`: A correlates more with mos than B. Default `'two-sided'`. */
  readonly alternative?: Alternative;
}

/** Result of {@link compareCorrelations}. */
export interface CorrelationComparison {
  readonly method: 'williams' | 'steiger';
  /** r(predA, mos). */
  readonly rA: number;
  /** r(predB, mos). */
  readonly rB: number;
  /** r(predA, predB): the dependence between the two correlations. */
  readonly rAB: number;
  /** Williams' t or Steiger's Z. */
  readonly statistic: number;
  /** n − 3 for Williams' t; `null` for Steiger's Z (normal). */
  readonly df: number | null;
  readonly pValue: number;
}

/**
 * Tests whether two models' correlations with the same MOS differ, taking
 * into account that both are measured on the same videos (dependent
 * correlations sharing one variable). With r_A = r(A, mos), r_B = r(B, mos),
 * r_AB = r(A, B), r̄ = (r_A + r_B)/2 and
 * |R| = 1 − r_A² − r_B² − r_AB² + 2 r_A r_B r_AB:
 *
 * - Williams (1959), as recommended by Steiger (1980, eq. 7):
 *   `t = (r_A − r_B) √((n − 1)(1 + r_AB) / (2 |R| (n − 1)/(n − 3) + r̄² (1 − r_AB)³))`,
 *   Student t with n − 3 df.
 * - Steiger (1980, eq. 14, pooled r̄): `Z = (z_A − z_B) √(n − 3) / √(2 − 2 c)`,
 *   z = atanh(r), `c = (r_AB (1 − 2r̄²) − r̄² (1 − 2r̄² − r_AB²)/2) / (1 − r̄²)²`, standard normal.
 *
 * With `correlation: 'srcc'` the same formulas are applied to average ranks
 * (the usual practice in VQA papers; an approximation for Spearman's rho).
 *
 * @param predA model A's scores, shape [n], n ≥ 4
 * @param predB model B's scores, shape [n]
 * @param mos ground truth, shape [n]
 * @throws MetricError `E_LENGTH_MISMATCH`, `E_TOO_FEW_POINTS`, `E_NOT_FINITE`, `E_CONSTANT`,
 *   `E_INVALID_ARGUMENT` (also when a correlation is ±1, where the tests are undefined)
 */
export function compareCorrelations(
  predA: NumericArray,
  predB: NumericArray,
  mos: NumericArray,
  options: CompareCorrelationsOptions = {},
): CorrelationComparison {
  const method = checkChoice(
    options.method ?? 'williams',
    ['williams', 'steiger'] as const,
    'method',
  );
  const correlation = checkChoice(
    options.correlation ?? 'plcc',
    ['plcc', 'srcc'] as const,
    'correlation',
  );
  const alternative = checkChoice(options.alternative ?? 'two-sided', ALTERNATIVES, 'alternative');
  let [a, y] = checkPair(predA, mos, 'predA', 'mos', 4);
  let [b] = checkPair(predB, mos, 'predB', 'mos', 4);
  checkNotConstant(a, 'predA', 'the correlation');
  checkNotConstant(b, 'predB', 'the correlation');
  checkNotConstant(y, 'mos', 'the correlation');
  if (correlation === 'srcc') {
    a = averageRanks(a);
    b = averageRanks(b);
    y = averageRanks(y);
  }
  const n = a.length;
  const rA = pearson(a, y);
  const rB = pearson(b, y);
  const rAB = pearson(a, b);
  for (const [name, r] of [
    ['r(predA, mos)', rA],
    ['r(predB, mos)', rB],
    ['r(predA, predB)', rAB],
  ] as const) {
    if (Math.abs(r) >= 1) {
      throw new MetricError(
        'E_INVALID_ARGUMENT',
        `${name} is ${r}: the ${method} test is undefined for a perfect correlation`,
      );
    }
  }
  const rMean = (rA + rB) / 2;
  if (method === 'williams') {
    const detR = 1 - rA * rA - rB * rB - rAB * rAB + 2 * rA * rB * rAB;
    const denominator = (2 * detR * (n - 1)) / (n - 3) + rMean * rMean * (1 - rAB) ** 3;
    const statistic = (rA - rB) * Math.sqrt(((n - 1) * (1 + rAB)) / denominator);
    const df = n - 3;
    return {
      method,
      rA,
      rB,
      rAB,
      statistic,
      df,
      pValue: pFromSf((t) => studentTSf(t, df), statistic, alternative),
    };
  }
  const r2 = rMean * rMean;
  const covariance =
    (rAB * (1 - 2 * r2) - 0.5 * r2 * (1 - 2 * r2 - rAB * rAB)) / ((1 - r2) * (1 - r2));
  const statistic =
    ((Math.atanh(rA) - Math.atanh(rB)) * Math.sqrt(n - 3)) / Math.sqrt(2 - 2 * covariance);
  return {
    method,
    rA,
    rB,
    rAB,
    statistic,
    df: null,
    pValue: pFromSf(normalSf, statistic, alternative),
  };
}

/** Result of {@link pairedTTest}. */
export interface PairedTTestResult {
  /** t = mean(d) / (sd(d)/√n), d = a − b. */
  readonly statistic: number;
  readonly df: number;
  readonly pValue: number;
  readonly meanDifference: number;
}

/**
 * Paired Student t-test on per-seed (or per-split) results of two methods,
 * as `scipy.stats.ttest_rel`: d = a − b, t = mean(d) / (sd(d)/√n) with the
 * n − 1 sample standard deviation, p from the t distribution with n − 1 df.
 *
 * @param a results of method A, shape [n], n ≥ 2
 * @param b results of method B on the same seeds, shape [n]
 * @throws MetricError `E_LENGTH_MISMATCH`, `E_TOO_FEW_POINTS`, `E_NOT_FINITE`,
 *   `E_CONSTANT` (all differences equal: t undefined)
 */
export function pairedTTest(
  a: NumericArray,
  b: NumericArray,
  options: { alternative?: Alternative } = {},
): PairedTTestResult {
  const alternative = checkChoice(options.alternative ?? 'two-sided', ALTERNATIVES, 'alternative');
  const [x, y] = checkPair(a, b, 'a', 'b', 2);
  const n = x.length;
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) d[i] = x[i] - y[i];
  checkNotConstant(d, 'a − b', 'the t statistic');
  let mean = 0;
  for (let i = 0; i < n; i++) mean += d[i];
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (d[i] - mean) * (d[i] - mean);
  const sd = Math.sqrt(ss / (n - 1));
  const statistic = mean / (sd / Math.sqrt(n));
  const df = n - 1;
  return {
    statistic,
    df,
    pValue: pFromSf((t) => studentTSf(t, df), statistic, alternative),
    meanDifference: mean,
  };
}

/** Options of {@link wilcoxonSignedRank}. */
export interface WilcoxonOptions {
  readonly alternative?: Alternative;
  /**
   * `'exact'`: exact null distribution (no ties among |d| allowed);
   * `'approx'`: normal approximation with tie correction, no continuity
   * correction; `'auto'` (default): exact when at most 50 non-zero
   * differences and no ties, else approx.
   */
  readonly method?: 'auto' | 'exact' | 'approx';
}

/** Result of {@link wilcoxonSignedRank}. */
export interface WilcoxonResult {
  /** min(W+, W−) for two-sided, W+ otherwise (as scipy.stats.wilcoxon). */
  readonly statistic: number;
  /** Sum of ranks of positive differences a − b. */
  readonly wPlus: number;
  /** Sum of ranks of negative differences. */
  readonly wMinus: number;
  /** Non-zero differences used (zeros are dropped: Wilcoxon's method). */
  readonly n: number;
  readonly method: 'exact' | 'approx';
  /** The z score of W+ (normal approximation), `null` for the exact method. */
  readonly z: number | null;
  readonly pValue: number;
}

/** P(W+ = s) under H0 for m untied ranks, s = 0..m(m+1)/2. */
function signedRankDistribution(m: number): Float64Array {
  const max = (m * (m + 1)) / 2;
  let p = new Float64Array(max + 1);
  p[0] = 1;
  let top = 0;
  for (let k = 1; k <= m; k++) {
    const next = new Float64Array(max + 1);
    for (let s = 0; s <= top; s++) {
      const half = p[s] / 2;
      next[s] += half;
      next[s + k] += half;
    }
    top += k;
    p = next;
  }
  return p;
}

/**
 * Wilcoxon signed-rank test on paired results (e.g. per-seed SRCC of two
 * methods), as `scipy.stats.wilcoxon` with `zero_method='wilcox'` and no
 * continuity correction: zero differences are dropped, |d| ranked with
 * average ranks, W+ = Σ ranks of positive d. Exact p from the null
 * distribution of W+ (computed by dynamic programming over the 2^m sign
 * patterns) or the normal approximation with variance
 * m(m+1)(2m+1)/24 − Σ(t³ − t)/48 over tie groups.
 *
 * @param a results of method A, shape [n]
 * @param b results of method B, shape [n]
 * @throws MetricError `E_LENGTH_MISMATCH`, `E_TOO_FEW_POINTS` (fewer than 2 non-zero
 *   differences), `E_NOT_FINITE`, `E_INVALID_ARGUMENT` (exact asked with ties or m > 1000)
 */
export function wilcoxonSignedRank(
  a: NumericArray,
  b: NumericArray,
  options: WilcoxonOptions = {},
): WilcoxonResult {
  const alternative = checkChoice(options.alternative ?? 'two-sided', ALTERNATIVES, 'alternative');
  const requested = checkChoice(
    options.method ?? 'auto',
    ['auto', 'exact', 'approx'] as const,
    'method',
  );
  const [x, y] = checkPair(a, b, 'a', 'b', 2);
  const nonZero: number[] = [];
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) nonZero.push(x[i] - y[i]);
  const m = nonZero.length;
  if (m < 2) {
    throw new MetricError(
      'E_TOO_FEW_POINTS',
      `wilcoxonSignedRank needs at least 2 non-zero differences a − b, got ${m}`,
    );
  }
  const abs = Float64Array.from(nonZero, Math.abs);
  const ranks = averageRanks(abs);
  let wPlus = 0;
  let wMinus = 0;
  for (let i = 0; i < m; i++) {
    if (nonZero[i] > 0) wPlus += ranks[i];
    else wMinus += ranks[i];
  }
  // Tie groups among |d| (from the sorted absolute values).
  const sorted = Float64Array.from(abs).sort();
  let tieTerm = 0;
  for (let i = 0; i < m;) {
    let j = i + 1;
    while (j < m && sorted[j] === sorted[i]) j++;
    const t = j - i;
    tieTerm += t * t * t - t;
    i = j;
  }
  const hasTies = tieTerm > 0;
  if (requested === 'exact' && hasTies) {
    throw new MetricError(
      'E_INVALID_ARGUMENT',
      `method: 'exact' needs distinct |a − b|, but ${m} differences have ties; use 'approx'`,
    );
  }
  if (requested === 'exact' && m > 1000) {
    throw new MetricError(
      'E_INVALID_ARGUMENT',
      `method: 'exact' supports at most 1000 non-zero differences, got ${m}; use 'approx'`,
    );
  }
  const method = requested === 'auto' ? (m <= 50 && !hasTies ? 'exact' : 'approx') : requested;
  const statistic = alternative === 'two-sided' ? Math.min(wPlus, wMinus) : wPlus;

  if (method === 'exact') {
    const p = signedRankDistribution(m);
    const cdf = (w: number): number => {
      let s = 0;
      for (let k = 0; k <= Math.floor(w); k++) s += p[k];
      return s;
    };
    const sf = (w: number): number => 1 - cdf(w - 1); // P(W+ ≥ w)
    let pValue: number;
    if (alternative === 'greater') pValue = sf(wPlus);
    else if (alternative === 'less') pValue = cdf(wPlus);
    else pValue = Math.min(1, 2 * Math.min(cdf(wPlus), sf(wPlus)));
    return { statistic, wPlus, wMinus, n: m, method, z: null, pValue };
  }
  const mean = (m * (m + 1)) / 4;
  const variance = (m * (m + 1) * (2 * m + 1)) / 24 - tieTerm / 48;
  if (!(variance > 0)) {
    throw new MetricError(
      'E_CONSTANT',
      'all |a − b| are tied: the normal approximation of the signed-rank test is undefined',
    );
  }
  const z = (wPlus - mean) / Math.sqrt(variance);
  return { statistic, wPlus, wMinus, n: m, method, z, pValue: pFromSf(normalSf, z, alternative) };
}
