import { describe, expect, it } from 'vitest';
import { coarseDataset, lcg, tiedDataset } from './__fixtures__/data.js';
import reference from './__fixtures__/scipy-reference.json' with { type: 'json' };
import { krcc, MetricError, plcc, rmse, srcc, summary } from './index.js';

/** O(n²) Kendall tau-b straight from the definition. */
function kendallBruteForce(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let concordant = 0;
  let discordant = 0;
  let tiesX = 0;
  let tiesY = 0;
  const n = x.length;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const s = Math.sign(x[i] - x[j]) * Math.sign(y[i] - y[j]);
      if (x[i] === x[j]) tiesX++;
      if (y[i] === y[j]) tiesY++;
      if (s > 0) concordant++;
      else if (s < 0) discordant++;
    }
  }
  const total = (n * (n - 1)) / 2;
  return (concordant - discordant) / Math.sqrt((total - tiesX) * (total - tiesY));
}

describe('small cases checked by hand', () => {
  it('srcc uses average ranks for ties', () => {
    // ranks of mos [5,6,7,8,7] are [1,2,3.5,5,3.5]: r = 8 / sqrt(10 · 9.5)
    expect(srcc([1, 2, 3, 4, 5], [5, 6, 7, 8, 7])).toBeCloseTo(8 / Math.sqrt(95), 15);
  });

  it('krcc is tau-b: 8 concordant, 1 discordant, 1 pair tied in mos', () => {
    expect(krcc([1, 2, 3, 4, 5], [5, 6, 7, 8, 7])).toBeCloseTo(7 / Math.sqrt(90), 15);
  });

  it('plcc without a fit is Pearson', () => {
    expect(plcc([1, 2, 3], [1, 2, 4])).toBeCloseTo(3 / Math.sqrt(28 / 3), 15);
    expect(plcc([1, 2, 3], [1, 2, 4], { fit: 'none' })).toBe(plcc([1, 2, 3], [1, 2, 4]));
  });

  it('rmse without a fit compares pred to mos directly', () => {
    expect(rmse([1, 2, 3], [2, 2, 5])).toBeCloseTo(Math.sqrt(5 / 3), 15);
  });

  it('reversed order gives -1 and identical order +1', () => {
    const x = [0.3, 1.2, 2.5, 2.6, 4.1, 7];
    const reversed = x.map((v) => -v);
    expect(srcc(x, reversed)).toBe(-1);
    expect(krcc(x, reversed)).toBe(-1);
    expect(plcc(x, reversed)).toBe(-1);
    expect(srcc(x, x)).toBe(1);
    expect(krcc(x, x)).toBe(1);
  });

  it('accepts number[] and typed arrays alike', () => {
    const x = [1, 5, 2, 8, 3];
    const y = [2, 4, 1, 9, 3];
    const value = srcc(x, y);
    expect(srcc(Float64Array.from(x), Float32Array.from(y))).toBe(value);
    expect(srcc(Int32Array.from(x), y)).toBe(value);
  });

  it('handles negative values, -0 and mixed magnitudes in ranks', () => {
    const x = [-3, -0, 0, 1e-300, -1e300, 2.5, 2.5];
    const y = [1, 2, 2, 3, 0, 4, 4];
    expect(srcc(x, y)).toBeCloseTo(1, 15);
    expect(krcc(x, y)).toBeCloseTo(1, 15);
  });
});

describe('inputs', () => {
  it('are never modified (typed arrays are used in place, not copied)', () => {
    const { pred, mos } = tiedDataset(3000, 9);
    const before = [Array.from(pred), Array.from(mos)];
    srcc(pred, mos);
    krcc(pred, mos);
    summary(pred, mos, { fit: 'logistic5' });
    expect([Array.from(pred), Array.from(mos)]).toEqual(before);
  });
});

describe('invariances', () => {
  const { pred, mos } = tiedDataset(2000, 3);

  it('srcc and krcc are unchanged by strictly increasing maps of pred', () => {
    const mapped = Array.from(pred, (v) => Math.exp(3 * v) - 7);
    expect(srcc(mapped, mos)).toBe(srcc(pred, mos));
    expect(krcc(mapped, mos)).toBe(krcc(pred, mos));
  });

  it('srcc and krcc flip sign under decreasing maps', () => {
    const mapped = Array.from(pred, (v) => -v * v * v);
    expect(srcc(mapped, mos)).toBeCloseTo(-srcc(pred, mos), 14);
    expect(krcc(mapped, mos)).toBeCloseTo(-krcc(pred, mos), 14);
  });

  it('plcc is unchanged by positive affine maps and symmetric in its arguments', () => {
    const mapped = Array.from(pred, (v) => 4 * v + 1);
    expect(plcc(mapped, mos)).toBeCloseTo(plcc(pred, mos), 13);
    expect(plcc(mos, pred)).toBeCloseTo(plcc(pred, mos), 15);
    expect(krcc(mos, pred)).toBeCloseTo(krcc(pred, mos), 15);
  });

  it('does not depend on the order of the pairs', () => {
    const order = Array.from(pred, (_, i) => i).reverse();
    const p = order.map((i) => pred[i]);
    const m = order.map((i) => mos[i]);
    expect(srcc(p, m)).toBeCloseTo(srcc(pred, mos), 14);
    expect(krcc(p, m)).toBeCloseTo(krcc(pred, mos), 14);
  });
});

describe('krcc equals the O(n²) definition', () => {
  it.each([
    ['tied continuous', tiedDataset(600, 11)],
    ['heavy integer ties', coarseDataset(600, 5)],
  ])('%s', (_name, { pred, mos }) => {
    expect(krcc(pred, mos)).toBeCloseTo(kendallBruteForce(pred, mos), 13);
  });

  it('random permutations with all-distinct values', () => {
    const next = lcg(42);
    const x = Array.from({ length: 500 }, () => next());
    const y = x.map((v) => v + 0.3 * next());
    expect(krcc(x, y)).toBeCloseTo(kendallBruteForce(x, y), 13);
  });
});

describe('agreement with scipy 1.10 (values in __fixtures__/scipy-reference.json)', () => {
  it('10^5 points with ties: srcc, plcc, krcc, rmse to 1e-9', () => {
    const { pred, mos } = tiedDataset(100_000, 12345);
    const ref = reference.tied100k;
    expect(Math.abs(srcc(pred, mos) - ref.srcc)).toBeLessThan(1e-9);
    expect(Math.abs(plcc(pred, mos) - ref.plcc)).toBeLessThan(1e-9);
    expect(Math.abs(krcc(pred, mos) - ref.krcc)).toBeLessThan(1e-9);
    expect(Math.abs(rmse(pred, mos) - ref.rmse)).toBeLessThan(1e-9);
  });

  it('heavy integer ties (1000 points)', () => {
    const { pred, mos } = coarseDataset(1000, 99);
    const ref = reference.coarse1000;
    expect(Math.abs(srcc(pred, mos) - ref.srcc)).toBeLessThan(1e-12);
    expect(Math.abs(krcc(pred, mos) - ref.krcc)).toBeLessThan(1e-12);
    expect(Math.abs(plcc(pred, mos) - ref.plcc)).toBeLessThan(1e-12);
  });
});

describe('summary', () => {
  it('returns n, srcc, plcc, krcc, rmse consistent with the single metrics', () => {
    const { pred, mos } = tiedDataset(300, 1);
    const s = summary(pred, mos, { fit: 'logistic4' });
    expect(Object.keys(s)).toEqual(['n', 'srcc', 'plcc', 'krcc', 'rmse']);
    expect(s.n).toBe(300);
    expect(s.srcc).toBe(srcc(pred, mos));
    expect(s.krcc).toBe(krcc(pred, mos));
    expect(s.plcc).toBe(plcc(pred, mos, { fit: 'logistic4' }));
    expect(s.rmse).toBe(rmse(pred, mos, { fit: 'logistic4' }));
    expect(summary(pred, mos).plcc).toBe(plcc(pred, mos));
  });
});

describe('bad input', () => {
  const metrics = { srcc, krcc, plcc, rmse, summary } as const;

  it.each(Object.entries(metrics))('%s rejects a length mismatch', (_name, metric) => {
    const call = () => metric([1, 2, 3, 4], [1, 2, 3]);
    expect(call).toThrow(MetricError);
    expect(call).toThrow(/pred and mos must have the same length: pred has 4 values, mos has 3/);
    expect(() => call()).toThrow(expect.objectContaining({ code: 'E_LENGTH_MISMATCH' }));
  });

  it.each(Object.entries(metrics))('%s rejects fewer than 3 points', (_name, metric) => {
    const call = () => metric([1, 2], [2, 1]);
    expect(call).toThrow(MetricError);
    expect(call).toThrow(/at least 3 points, got 2/);
    expect(call).toThrow(expect.objectContaining({ code: 'E_TOO_FEW_POINTS' }));
  });

  it.each(Object.entries(metrics))('%s names the index of a NaN or Infinity', (_name, metric) => {
    expect(() => metric([1, 2, Number.NaN, 4], [1, 2, 3, 4])).toThrow(/pred\[2\] is NaN/);
    expect(() => metric([1, 2, 3, 4], [1, Number.POSITIVE_INFINITY, 3, 4])).toThrow(
      /mos\[1\] is Infinity/,
    );
    expect(() => metric([1, 2, 3, 4], [1, 2, 3, -Infinity])).toThrow(
      expect.objectContaining({ code: 'E_NOT_FINITE', name: 'MetricError' }),
    );
    expect(() => metric([1, 2, '3' as unknown as number], [1, 2, 3])).toThrow(
      /pred\[2\] is the string "3"/,
    );
  });

  it.each([
    ['srcc', srcc],
    ['krcc', krcc],
    ['plcc', plcc],
    ['summary', summary],
  ] as const)('%s rejects a constant vector', (_name, metric) => {
    expect(() => metric([2, 2, 2, 2], [1, 2, 3, 4])).toThrow(
      /pred is constant \(all 4 values equal 2\)/,
    );
    expect(() => metric([1, 2, 3, 4], [3, 3, 3, 3])).toThrow(
      expect.objectContaining({ code: 'E_CONSTANT' }),
    );
  });

  it('rejects an unknown fit', () => {
    expect(() => plcc([1, 2, 3], [1, 2, 3], { fit: 'logistic3' as never })).toThrow(
      /fit must be one of "none", "logistic4", "logistic5", got "logistic3"/,
    );
    expect(() => rmse([1, 2, 3], [1, 2, 3], { fit: 'cubic' as never })).toThrow(
      expect.objectContaining({ code: 'E_INVALID_ARGUMENT' }),
    );
  });

  it('rejects something that is not an array', () => {
    expect(() => srcc(null as never, [1, 2, 3])).toThrow(
      /pred must be an array of numbers or a typed array/,
    );
  });
});
