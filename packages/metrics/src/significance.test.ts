import { describe, expect, it } from 'vitest';
import { tiedDataset } from './__fixtures__/data.js';
import reference from './__fixtures__/scipy-reference.json' with { type: 'json' };
import { incompleteBeta, lnGamma, normalSf, studentTSf } from './distributions.js';
import { compareCorrelations, MetricError, pairedTTest, wilcoxonSignedRank } from './index.js';

const relClose = (actual: number, expected: number, tol: number) =>
  expect(Math.abs(actual - expected) / Math.max(Math.abs(expected), 1e-300)).toBeLessThan(tol);

describe('special functions', () => {
  it('ln Γ matches factorials and Γ(1/2) = √π', () => {
    relClose(lnGamma(10), Math.log(362880), 1e-14);
    relClose(lnGamma(0.5), Math.log(Math.sqrt(Math.PI)), 1e-14);
    relClose(lnGamma(171), 706.5730622457874, 1e-14);
  });

  it('normal and t tails match known values', () => {
    relClose(normalSf(1.959963984540054), 0.025, 1e-13);
    relClose(normalSf(-1), 0.8413447460685429, 1e-14);
    relClose(normalSf(8), 6.22096057427178e-16, 1e-12);
    // t with 1 df is Cauchy: P(T > 1) = 1/4
    relClose(studentTSf(1, 1), 0.25, 1e-14);
    // t with 2 df: P(T > t) = (1 − t/√(t² + 2))/2
    relClose(studentTSf(3, 2), (1 - 3 / Math.sqrt(11)) / 2, 1e-13);
    relClose(incompleteBeta(0.3, 2, 3), 0.3483, 1e-12);
  });
});

describe('compareCorrelations (Williams, Steiger) against formulas evaluated with scipy', () => {
  const { pred: a, mos } = tiedDataset(300, 2024);
  const { pred: noise } = tiedDataset(300, 77);
  const b = Array.from(a, (v, i) => v + 0.08 * (noise[i] - 0.5));
  const ref = reference.dependent300;

  it('Williams t, df = n − 3', () => {
    const result = compareCorrelations(a, b, mos);
    expect(result.method).toBe('williams');
    expect(result.df).toBe(297);
    relClose(result.statistic, ref.williams[0], 1e-9);
    relClose(result.pValue, ref.williams[1], 1e-9);
    expect(result.rA).toBeGreaterThan(result.rB);
  });

  it('Steiger Z', () => {
    const result = compareCorrelations(a, b, mos, { method: 'steiger' });
    expect(result.df).toBeNull();
    relClose(result.statistic, ref.steiger[0], 1e-9);
    relClose(result.pValue, ref.steiger[1], 1e-9);
  });

  it('on ranks (SRCC) and one-sided', () => {
    const result = compareCorrelations(a, b, mos, { correlation: 'srcc' });
    relClose(result.statistic, ref.williamsSrcc[0], 1e-9);
    relClose(result.pValue, ref.williamsSrcc[1], 1e-9);
    const greater = compareCorrelations(a, b, mos, { correlation: 'srcc', alternative: 'greater' });
    relClose(greater.pValue, ref.williamsSrcc[1] / 2, 1e-9);
    const swapped = compareCorrelations(b, a, mos);
    relClose(swapped.statistic, -ref.williams[0], 1e-12);
  });

  it('rejects perfect correlations and short input', () => {
    expect(() => compareCorrelations([1, 2, 3, 4], [1, 3, 2, 4], [2, 4, 6, 8])).toThrow(
      /r\(predA, mos\) is 1: the williams test is undefined for a perfect correlation/,
    );
    expect(() => compareCorrelations([1, 2, 3], [1, 3, 2], [2, 4, 5])).toThrow(
      expect.objectContaining({
        code: 'E_TOO_FEW_POINTS',
        message: expect.stringMatching(/at least 4 points, got 3/),
      }),
    );
    expect(() => compareCorrelations([1, 2, 3, 4], [1, 3, 2], [1, 2, 3, 4])).toThrow(
      /predB and mos must have the same length/,
    );
  });
});

describe('paired tests on per-seed results (scipy.stats.ttest_rel, wilcoxon)', () => {
  const { a, b } = reference.paired;

  it('paired t-test', () => {
    const t = pairedTTest(a, b);
    expect(t.df).toBe(9);
    relClose(t.statistic, reference.paired.ttest[0], 1e-9);
    relClose(t.pValue, reference.paired.ttest[1], 1e-9);
    relClose(
      pairedTTest(a, b, { alternative: 'greater' }).pValue,
      reference.paired.ttestGreater[1],
      1e-9,
    );
    relClose(
      pairedTTest(a, b, { alternative: 'less' }).pValue,
      1 - reference.paired.ttestGreater[1],
      1e-9,
    );
  });

  it('Wilcoxon signed-rank, exact (n ≤ 50, no ties: the default)', () => {
    const w = wilcoxonSignedRank(a, b);
    expect(w.method).toBe('exact');
    expect(w.statistic).toBe(reference.paired.wilcoxonExact[0]);
    expect(w.wPlus + w.wMinus).toBe(55);
    relClose(w.pValue, reference.paired.wilcoxonExact[1], 1e-12);
    const less = wilcoxonSignedRank(a, b, { alternative: 'less' });
    expect(less.statistic).toBe(reference.paired.wilcoxonExactLess[0]);
    relClose(less.pValue, reference.paired.wilcoxonExactLess[1], 1e-12);
  });

  it('Wilcoxon signed-rank, normal approximation', () => {
    const w = wilcoxonSignedRank(a, b, { method: 'approx' });
    expect(w.statistic).toBe(reference.paired.wilcoxonApprox[0]);
    relClose(w.pValue, reference.paired.wilcoxonApprox[1], 1e-9);
  });

  it('Wilcoxon with zero and tied differences uses the tie-corrected approximation', () => {
    const { a: ta, b: tb, wilcoxonApprox } = reference.pairedTied;
    const w = wilcoxonSignedRank(ta, tb);
    expect(w.method).toBe('approx');
    expect(w.n).toBe(ta.length - 2); // two zero differences dropped
    expect(w.statistic).toBe(wilcoxonApprox[0]);
    relClose(w.pValue, wilcoxonApprox[1], 1e-9);
    expect(() => wilcoxonSignedRank(ta, tb, { method: 'exact' })).toThrow(
      /method: 'exact' needs distinct \|a − b\|/,
    );
  });

  it('exact distribution by hand: n = 3, all positive → p = 2 · 1/8', () => {
    expect(wilcoxonSignedRank([2, 3, 4], [1, 1, 1]).pValue).toBe(0.25);
    expect(wilcoxonSignedRank([2, 3, 4], [1, 1, 1], { alternative: 'greater' }).pValue).toBe(0.125);
  });

  it('bad calls', () => {
    expect(() => pairedTTest([1, 2, 3], [0, 1, 2])).toThrow(
      expect.objectContaining({
        code: 'E_CONSTANT',
        message: expect.stringMatching(/a − b is constant/),
      }),
    );
    expect(() => pairedTTest([1], [0])).toThrow(/at least 2 points, got 1/);
    expect(() => wilcoxonSignedRank([1, 2, 3], [1, 2, 4])).toThrow(
      expect.objectContaining({
        code: 'E_TOO_FEW_POINTS',
        message: expect.stringMatching(/at least 2 non-zero differences a − b, got 1/),
      }),
    );
    expect(() => wilcoxonSignedRank([1, 2, 3], [1, 2])).toThrow(MetricError);
    expect(() => pairedTTest([1, 2, 3], [3, 1, 2], { alternative: 'both' as never })).toThrow(
      /alternative must be one of/,
    );
  });
});
