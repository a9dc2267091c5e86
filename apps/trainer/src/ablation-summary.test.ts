import { compareCorrelations, pairedTTest, plcc, srcc, wilcoxonSignedRank } from '@vqlm/metrics';
import { describe, expect, it } from 'vitest';
import { formatAblationMarkdown, summarizeAblation, type AblationRun } from './ablation-summary.js';
import { TrainerError } from './errors.js';

const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
const targets: Record<string, number> = { a: 1, b: 2, c: 3, d: 4, e: 5, f: 6 };
// Seed-averaged predictions; all values are dyadic, so the averages below are exact.
const baselineMean = [1.25, 2.75, 2.5, 4.5, 4.75, 6.5]; // |error| 0.25 0.75 0.5 0.5 0.25 0.5
const pairMean = [1.125, 2.125, 3.25, 3.875, 5.0625, 5.75]; // monotone: SRCC = 1
const mixMean = [1.5, 1.25, 3.5, 4.25, 4.5, 6.25];
/** Per-seed offsets that sum to zero over seeds 1, 2, 3. */
const offsets: Record<number, number> = { 1: 0.5, 2: -0.5, 3: 0 };

function run(
  variant: string,
  seed: number,
  mean: readonly number[],
  metrics: Record<string, number | null>,
): AblationRun {
  return {
    variant,
    seed,
    metrics,
    predictions: ids.map((id, i) => ({
      id,
      score: mean[i] + (offsets[seed] ?? 0) * (i % 2 ? 1 : -1),
    })),
    targets,
  };
}

const runs: AblationRun[] = [
  run('single', 1, baselineMean, { srcc: 0.8, plcc: 0.7, 'flip@4': 0.2, rmse: 0.5 }),
  run('single', 2, baselineMean, { srcc: 0.82, plcc: 0.75, 'flip@4': null, rmse: 0.5 }),
  run('single', 3, baselineMean, { srcc: 0.84, plcc: 0.8, 'flip@4': 0.3, rmse: 0.5 }),
  run('pair', 3, pairMean, { srcc: 0.86, plcc: 0.8, 'flip@4': 0.3, rmse: 0.5 }),
  run('pair', 1, pairMean, { srcc: 0.83, plcc: 0.7, 'flip@4': 0.1, rmse: 0.5 }),
  run('pair', 2, pairMean, { srcc: 0.86, plcc: 0.75, 'flip@4': 0.2, rmse: 0.5 }),
  run('mix', 1, mixMean, { srcc: 0.9, plcc: 0.91, 'flip@10': 0, custom: 1 }),
  run('mix', 2, mixMean, { srcc: 0.7, plcc: 0.72, 'flip@10': 0.1, custom: 2 }),
  run('mix', 3, mixMean, { srcc: 0.8, plcc: 0.83, 'flip@10': 0.2, custom: 3 }),
  run('context-only', 1, mixMean, { srcc: 0.5, plcc: 0.5 }),
];
const targetList = ids.map((id) => targets[id]);
const absErrors = (mean: readonly number[]): number[] =>
  mean.map((p, i) => Math.abs(p - targetList[i]));

describe('summarizeAblation', () => {
  const summary = summarizeAblation(runs, { baseline: 'single' });
  const variant = (name: string) => summary.variants.find((v) => v.variant === name)!;
  const comparison = (name: string) => summary.comparisons.find((c) => c.variant === name)!;

  it('orders metrics and variants', () => {
    expect(summary.metrics).toEqual(['srcc', 'plcc', 'rmse', 'flip@4', 'flip@10', 'custom']);
    expect(summary.variants.map((v) => v.variant)).toEqual([
      'single',
      'pair',
      'mix',
      'context-only',
    ]);
    expect(summary.comparisons.map((c) => c.variant)).toEqual(['pair', 'mix', 'context-only']);
    expect(variant('pair').seeds).toEqual([1, 2, 3]);
    expect(summary.items).toBe(6);
  });

  it('gives means and sample standard deviations over seeds', () => {
    const s = variant('single').metrics;
    expect(s.srcc.mean).toBeCloseTo(0.82, 14);
    expect(s.srcc.std).toBeCloseTo(0.02, 14);
    expect(s.srcc.n).toBe(3);
    expect(s.plcc.std).toBeCloseTo(0.05, 14);
    expect(s.rmse).toEqual({ mean: 0.5, std: 0, n: 3 });
    // A null metric is left out: mean of 0.2 and 0.3, std = 0.1/√2.
    expect(s['flip@4'].mean).toBeCloseTo(0.25, 14);
    expect(s['flip@4'].std).toBeCloseTo(Math.SQRT1_2 / 10, 14);
    expect(s['flip@4'].n).toBe(2);
    // Not reported by this variant at all.
    expect(s.custom).toEqual({ mean: null, std: null, n: 0 });
    // std of 0.83, 0.86, 0.86 = √(0.0003)
    expect(variant('pair').metrics.srcc.std).toBeCloseTo(Math.sqrt(0.0003), 12);
    expect(variant('mix').metrics.custom).toEqual({ mean: 2, std: 1, n: 3 });
    expect(variant('context-only').metrics.srcc).toEqual({ mean: 0.5, std: null, n: 1 });
  });

  it('runs paired t-tests by seed, as @vqlm/metrics and the df = 2 closed form', () => {
    const t = comparison('pair').metrics.srcc;
    // Seeds 1, 2, 3 paired although the runs came in another order.
    const direct = pairedTTest([0.83, 0.86, 0.86], [0.8, 0.82, 0.84]);
    expect(t.statistic).toBe(direct.statistic);
    expect(t.pValue).toBe(direct.pValue);
    expect(t.df).toBe(2);
    expect(t.n).toBe(3);
    // d = 0.03, 0.04, 0.02: t = 0.03 / (0.01/√3) = √27; for 2 df, p = 1 − t/√(t² + 2) = 1 − √(27/29).
    expect(t.statistic).toBeCloseTo(Math.sqrt(27), 10);
    expect(t.pValue).toBeCloseTo(1 - Math.sqrt(27 / 29), 10);
    expect(t.meanDifference).toBeCloseTo(0.03, 14);
    // flip@4 pairs only seeds 1 and 3 (seed 2 is null): d = −0.1, 0 → t = −1, df 1, p = 0.5 (Cauchy).
    const flip = comparison('pair').metrics['flip@4'];
    expect(flip.n).toBe(2);
    expect(flip.statistic).toBeCloseTo(-1, 12);
    expect(flip.pValue).toBeCloseTo(0.5, 12);
  });

  it('reports a null p-value with the reason instead of throwing', () => {
    const one = comparison('context-only').metrics.srcc;
    expect(one.pValue).toBeNull();
    expect(one.n).toBe(1);
    expect(one.meanDifference).toBeCloseTo(0.5 - 0.8, 14);
    expect(one.reason).toBe('needs at least 2 seeds where both runs have srcc, got 1');
    const constant = comparison('pair').metrics.rmse;
    expect(constant.pValue).toBeNull();
    expect(constant.meanDifference).toBe(0);
    expect(constant.reason).toMatch(/constant/);
    const missing = comparison('mix').metrics['flip@4'];
    expect(missing).toMatchObject({ n: 0, pValue: null, meanDifference: null });
  });

  it('compares the seed-averaged predictions with Williams’ t and Wilcoxon', () => {
    expect(variant('single').ensemble.srcc).toBe(srcc(baselineMean, targetList));
    expect(variant('single').ensemble.plcc).toBe(plcc(baselineMean, targetList));
    expect(variant('single').ensemble.mae).toBe(0.4583333333333333); // 2.75 / 6
    expect(variant('pair').ensemble.srcc).toBe(1);

    const mix = comparison('mix');
    const williams = compareCorrelations(mixMean, baselineMean, targetList, {
      correlation: 'plcc',
    });
    expect(mix.plcc).toEqual({
      variant: williams.rA,
      baseline: williams.rB,
      statistic: williams.statistic,
      pValue: williams.pValue,
    });
    const ranks = compareCorrelations(mixMean, baselineMean, targetList, { correlation: 'srcc' });
    expect(mix.srcc.statistic).toBe(ranks.statistic);
    expect(mix.srcc.pValue).toBe(ranks.pValue);

    // The pair variant ranks the items perfectly: Williams' t is undefined.
    const pair = comparison('pair');
    expect(pair.srcc.pValue).toBeNull();
    expect(pair.srcc.variant).toBe(1);
    expect(pair.srcc.reason).toMatch(/perfect correlation/);
    expect(pair.plcc.pValue).not.toBeNull();

    // |error| pair − single: −0.125, −0.625, −0.25, −0.375, −0.1875, −0.25: W+ = 0, W− = 21,
    // one tie → normal approximation, z = −10.5 / √(22.75 − 6/48).
    const wilcoxon = wilcoxonSignedRank(absErrors(pairMean), absErrors(baselineMean));
    expect(pair.absoluteError).toEqual({
      variantMae: 0.9375 / 6,
      baselineMae: 2.75 / 6,
      n: 6,
      statistic: 0,
      pValue: wilcoxon.pValue,
    });
    expect(wilcoxon.z).toBeCloseTo(-10.5 / Math.sqrt(22.625), 12);
  });

  it('carries the low-power note', () => {
    expect(summary.notes[0]).toMatch(
      /with 1 seed per variant they have 0 degrees of freedom and little power/,
    );
    const three = summarizeAblation(
      runs.filter((r) => r.variant !== 'context-only'),
      { baseline: 'single' },
    );
    expect(three.notes[0]).toMatch(
      /with 3 seeds per variant they have 2 degrees of freedom and little power/,
    );
  });

  it('handles a baseline alone', () => {
    const alone = summarizeAblation(
      runs.filter((r) => r.variant === 'single'),
      { baseline: 'single' },
    );
    expect(alone.comparisons).toEqual([]);
    expect(formatAblationMarkdown(alone)).toContain('| single | 3 | 0.820 ± 0.020 |');
  });
});

describe('summarizeAblation errors', () => {
  const expectAblationError = (f: () => unknown, message: RegExp): void => {
    let error: unknown;
    try {
      f();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TrainerError);
    expect((error as TrainerError).code).toBe('E_ABLATION');
    expect((error as TrainerError).message).toMatch(message);
  };

  it('rejects an unknown baseline, naming it and the variants', () => {
    expectAblationError(
      () => summarizeAblation(runs, { baseline: 'pixel-only' }),
      /unknown baseline "pixel-only"; the variants are single, pair, mix, context-only/,
    );
  });

  it('rejects runs with different item sets, naming the run and the item', () => {
    const short = { ...runs[4], predictions: runs[4].predictions.slice(1) };
    expectAblationError(
      () => summarizeAblation([...runs.slice(0, 4), short], { baseline: 'single' }),
      /different item sets: pair \(seed 1\) lacks item a \(5 items, single \(seed 1\) has 6\)/,
    );
    const extra = {
      ...runs[4],
      predictions: [...runs[4].predictions.slice(1), { id: 'z', score: 1 }],
    };
    expectAblationError(
      () => summarizeAblation([...runs.slice(0, 4), extra], { baseline: 'single' }),
      /different item sets: pair \(seed 1\) predicts item z, which single \(seed 1\) does not/,
    );
  });

  it('rejects other malformed runs', () => {
    expectAblationError(() => summarizeAblation([], { baseline: 'single' }), /at least one run/);
    expectAblationError(
      () => summarizeAblation([runs[0], runs[0]], { baseline: 'single' }),
      /single \(seed 1\) appears twice/,
    );
    expectAblationError(
      () =>
        summarizeAblation([runs[0], { ...runs[1], targets: { ...targets, c: 3.5 } }], {
          baseline: 'single',
        }),
      /disagree on the target of item c: single \(seed 2\) has 3.5, single \(seed 1\) has 3/,
    );
    expectAblationError(
      () =>
        summarizeAblation([{ ...runs[0], metrics: { srcc: Number.NaN } }], { baseline: 'single' }),
      /single \(seed 1\): metric srcc is NaN; use a finite number or null/,
    );
    expectAblationError(
      () =>
        summarizeAblation(
          [{ ...runs[0], predictions: [...runs[0].predictions, { id: 'a', score: 1 }] }],
          {
            baseline: 'single',
          },
        ),
      /single \(seed 1\) predicts item a twice/,
    );
    expectAblationError(
      () => summarizeAblation([{ ...runs[0], targets: { a: 1 } }], { baseline: 'single' }),
      /target of item b is undefined/,
    );
  });
});

describe('formatAblationMarkdown', () => {
  const markdown = formatAblationMarkdown(summarizeAblation(runs, { baseline: 'single' }));

  it('prints the main table with mean ± std and the paired-t p of SRCC', () => {
    const p = (1 - Math.sqrt(27 / 29)).toFixed(3);
    expect(markdown).toContain(
      '| variant | seeds | SRCC mean ± std | PLCC mean ± std | RMSE mean ± std | flip@4 mean ± std | flip@10 mean ± std | custom mean ± std | p vs baseline (SRCC, paired t) |',
    );
    expect(markdown).toContain(
      '| single | 3 | 0.820 ± 0.020 | 0.750 ± 0.050 | 0.500 ± 0.000 | 0.250 ± 0.071 | — | — | (baseline) |',
    );
    expect(markdown).toContain(
      `| pair | 3 | 0.850 ± 0.017 | 0.750 ± 0.050 | 0.500 ± 0.000 | 0.200 ± 0.100 | — | — | ${p} |`,
    );
    expect(markdown).toContain(
      '| context-only | 1 | 0.500 (n=1) | 0.500 (n=1) | — | — | — | — | n/a |',
    );
  });

  it('prints the tests on the averaged predictions, the per-metric tests, the reasons and the notes', () => {
    expect(markdown).toContain(
      '| variant | SRCC | p (SRCC) | PLCC | p (PLCC) | mean abs. error | p (abs. error) |',
    );
    expect(markdown).toMatch(
      /\| pair \| 1\.000 \| n\/a \| 0\.\d{3} \| [\d.e-]+ \| 0\.156 \| 0\.0\d\d \|/,
    );
    expect(markdown).toContain('| pair | SRCC | +0.030 | 3 | 5.20 |');
    expect(markdown).toContain('| pair | flip@4 | -0.050 | 2 | -1.00 | 0.500 |');
    expect(markdown).toContain(
      '- context-only, SRCC (paired t): needs at least 2 seeds where both runs have srcc, got 1',
    );
    expect(markdown).toMatch(/- pair, SRCC \(Williams\): .*perfect correlation/);
    expect(markdown).toContain('little power');
    // Metrics that one of the two variants lacks get neither a row nor a reason.
    expect(markdown).not.toContain('| mix | RMSE |');
    expect(markdown).not.toMatch(/mix, RMSE/);
  });

  it('escapes pipes in variant names', () => {
    const piped = runs.map((r) => (r.variant === 'mix' ? { ...r, variant: 'a|b' } : r));
    expect(formatAblationMarkdown(summarizeAblation(piped, { baseline: 'single' }))).toContain(
      '| a\\|b | 3 |',
    );
  });
});
