import { describe, expect, it } from 'vitest';
import { tiedDataset } from './__fixtures__/data.js';
import { bootstrapCI, MetricError, plcc, srcc } from './index.js';

describe('bootstrapCI', () => {
  const { pred, mos } = tiedDataset(200, 8);

  it('brackets the full-data estimate and is reproducible for a seed', () => {
    const ci = bootstrapCI('srcc', pred, mos, { n: 300, seed: 7 });
    expect(ci.estimate).toBe(srcc(pred, mos));
    expect(ci.lower).toBeLessThan(ci.estimate);
    expect(ci.upper).toBeGreaterThan(ci.estimate);
    expect(ci.upper).toBeLessThanOrEqual(1);
    expect(ci.resamples).toBe(300);
    expect(ci.skipped).toBe(0);
    expect(bootstrapCI('srcc', pred, mos, { n: 300, seed: 7 })).toEqual(ci);
    expect(bootstrapCI('srcc', pred, mos, { n: 300, seed: 8 })).not.toEqual(ci);
  });

  it('narrows with a larger alpha and with more data', () => {
    const wide = bootstrapCI('plcc', pred, mos, { n: 300, alpha: 0.01 });
    const narrow = bootstrapCI('plcc', pred, mos, { n: 300, alpha: 0.2 });
    expect(narrow.upper - narrow.lower).toBeLessThan(wide.upper - wide.lower);
    const big = tiedDataset(2000, 8);
    const bigCi = bootstrapCI('plcc', big.pred, big.mos, { n: 300, alpha: 0.01 });
    expect(bigCi.upper - bigCi.lower).toBeLessThan(wide.upper - wide.lower);
  });

  it('a 95% interval of the mean covers its normal-theory interval roughly', () => {
    const x = Array.from(mos);
    const mean = (p: Float64Array) => p.reduce((s, v) => s + v, 0) / p.length;
    const ci = bootstrapCI((p) => mean(p), x, x, { n: 2000, seed: 1 });
    const m = mean(Float64Array.from(x));
    const sd = Math.sqrt(x.reduce((s, v) => s + (v - m) ** 2, 0) / (x.length - 1));
    const halfWidth = (1.96 * sd) / Math.sqrt(x.length);
    expect(ci.lower).toBeCloseTo(m - halfWidth, 1);
    expect(ci.upper).toBeCloseTo(m + halfWidth, 1);
  });

  it('takes a custom metric (e.g. PLCC after a logistic fit)', () => {
    const ci = bootstrapCI((p, m) => plcc(p, m, { fit: 'logistic4' }), pred, mos, { n: 30 });
    expect(ci.estimate).toBe(plcc(pred, mos, { fit: 'logistic4' }));
    expect(ci.lower).toBeLessThan(ci.upper);
  });

  it('skips resamples where the metric is undefined, and fails when most are', () => {
    // pred takes 2 values: about 1 resample in 8 has a constant pred.
    const ci = bootstrapCI('plcc', [1, 1, 2, 2], [1, 2, 3, 4], { n: 400, seed: 3 });
    expect(ci.resamples + ci.skipped).toBe(400);
    expect(ci.skipped).toBeGreaterThan(0);
    expect(ci.lower).toBeLessThanOrEqual(ci.upper);
    // A metric undefined for most resamples (here: unless point 0 is drawn first).
    const fragile = (p: Float64Array) => {
      if (p[0] !== 1) throw new MetricError('E_CONSTANT', 'pred is constant here');
      return 0;
    };
    const call = () => bootstrapCI(fragile, [1, 2, 3, 4, 5], [1, 2, 3, 4, 5], { n: 200 });
    expect(call).toThrow(MetricError);
    expect(call).toThrow(/bootstrapCI: \d+ of 200 resamples failed; first: pred is constant here/);
    expect(call).toThrow(expect.objectContaining({ code: 'E_CONSTANT' }));
  });

  it('rejects bad options', () => {
    expect(() => bootstrapCI('srcc', pred, mos, { alpha: 1.5 })).toThrow(
      /alpha must be in \(0, 1\), got 1.5/,
    );
    expect(() => bootstrapCI('srcc', pred, mos, { n: 1 })).toThrow(
      /n \(resamples\) must be an integer ≥ 2, got 1/,
    );
    expect(() => bootstrapCI('srcc', pred, mos, { seed: 0.5 })).toThrow(/seed must be an integer/);
    expect(() => bootstrapCI('mae' as never, pred, mos)).toThrow(
      expect.objectContaining({
        code: 'E_INVALID_ARGUMENT',
        message: expect.stringMatching(/metric must be one of/),
      }),
    );
    expect(() => bootstrapCI('srcc', [1, 2], [1, 2])).toThrow(
      expect.objectContaining({ code: 'E_TOO_FEW_POINTS' }),
    );
  });
});
