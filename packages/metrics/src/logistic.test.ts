import { describe, expect, it } from 'vitest';
import { lcg, tiedDataset } from './__fixtures__/data.js';
import reference from './__fixtures__/scipy-reference.json' with { type: 'json' };
import { fitLogistic, initialLogisticBeta, MetricError, plcc, rmse } from './index.js';
import { accumulate } from './levenberg-marquardt.js';
import { logistic4 as logistic4Model, logistic5 as logistic5Model } from './logistic.js';

const grid = Array.from({ length: 60 }, (_, i) => -0.2 + i / 59);

function logistic4(x: number, b: readonly number[]): number {
  return (b[0] - b[1]) / (1 + Math.exp(-(x - b[2]) / Math.abs(b[3]))) + b[1];
}
function logistic5(x: number, b: readonly number[]): number {
  return b[0] * (0.5 - 1 / (1 + Math.exp(b[1] * (x - b[2])))) + b[3] * x + b[4];
}

describe('fitLogistic recovers the parameters of noiseless data', () => {
  it('4 parameters', () => {
    const beta = [4.5, 1.2, 0.3, 0.08];
    const fit = fitLogistic(
      grid,
      grid.map((x) => logistic4(x, beta)),
      { params: 4 },
    );
    expect(fit.params).toBe(4);
    fit.beta.forEach((b, i) => expect(b).toBeCloseTo(beta[i], 7));
    expect(fit.sse).toBeLessThan(1e-12);
    expect(fit.asymptotic).toBe(false);
  });

  it('4 parameters, decreasing relation', () => {
    const beta = [1.1, 4.9, 0.5, 0.2];
    const fit = fitLogistic(
      grid,
      grid.map((x) => logistic4(x, beta)),
    );
    fit.beta.forEach((b, i) => expect(b).toBeCloseTo(beta[i], 7));
  });

  it('5 parameters', () => {
    const beta = [3, 7, 0.5, 0.4, 2.5];
    const fit = fitLogistic(
      grid,
      grid.map((x) => logistic5(x, beta)),
      { params: 5 },
    );
    expect(fit.params).toBe(5);
    fit.beta.forEach((b, i) => expect(b).toBeCloseTo(beta[i], 6));
  });

  it('predict and value evaluate the documented formula', () => {
    const { pred, mos } = tiedDataset(200, 7);
    const fit = fitLogistic(pred, mos, { params: 4 });
    const [b1, b2, b3] = fit.beta;
    expect(fit.value(b3)).toBeCloseTo((b1 + b2) / 2, 12);
    const predicted = fit.predict([0.1, 0.5, 0.9]);
    expect(predicted).toBeInstanceOf(Float64Array);
    expect(Array.from(predicted)).toEqual([0.1, 0.5, 0.9].map((x) => logistic4(x, fit.beta)));
    const fit5 = fitLogistic(pred, mos, { params: 5 });
    expect(fit5.value(0.37)).toBeCloseTo(logistic5(0.37, fit5.beta), 14);
  });
});

describe('agreement with scipy.optimize.curve_fit (method lm, same start)', () => {
  it.each([
    ['10^5 tied points', 'tied100k', 100_000, 12345],
    ['200 tied points', 'tied200', 200, 7],
  ] as const)('%s', (_name, key, n, seed) => {
    const { pred, mos } = tiedDataset(n, seed);
    for (const params of [4, 5] as const) {
      const ref = reference[key][`logistic${params}`];
      initialLogisticBeta(pred, mos, params).forEach((v, i) =>
        expect(v).toBeCloseTo(ref.start[i], 12),
      );
      const fit = fitLogistic(pred, mos, { params });
      // Same least-squares minimum: our SSE is no worse than scipy's.
      expect(fit.sse).toBeLessThanOrEqual(ref.sse * (1 + 1e-9));
      expect(Math.abs(plcc(pred, mos, { fit: `logistic${params}` }) - ref.plcc)).toBeLessThan(1e-6);
      expect(Math.abs(rmse(pred, mos, { fit: `logistic${params}` }) - ref.rmse)).toBeLessThan(1e-6);
    }
  });
});

describe('robustness', () => {
  const { pred, mos } = tiedDataset(500, 21);

  it('a decreasing pred (e.g. a distortion measure) fits as well as the increasing one', () => {
    const negated = Array.from(pred, (v) => -v);
    expect(plcc(negated, mos, { fit: 'logistic4' })).toBeCloseTo(
      plcc(pred, mos, { fit: 'logistic4' }),
      9,
    );
    expect(plcc(negated, mos, { fit: 'logistic5' })).toBeCloseTo(
      plcc(pred, mos, { fit: 'logistic5' }),
      9,
    );
  });

  it('is unaffected by the offset and scale of pred', () => {
    const shifted = Array.from(pred, (v) => 1e6 + 2500 * v);
    expect(plcc(shifted, mos, { fit: 'logistic4' })).toBeCloseTo(
      plcc(pred, mos, { fit: 'logistic4' }),
      9,
    );
    expect(plcc(shifted, mos, { fit: 'logistic5' })).toBeCloseTo(
      plcc(pred, mos, { fit: 'logistic5' }),
      9,
    );
  });

  it('a fit never lowers PLCC below the linear one on sigmoidal data, and lowers RMSE', () => {
    expect(plcc(pred, mos, { fit: 'logistic4' })).toBeGreaterThan(plcc(pred, mos));
    expect(rmse(pred, mos, { fit: 'logistic4' })).toBeLessThan(rmse(pred, mos));
  });

  it('accepts a custom start', () => {
    const fit = fitLogistic(pred, mos, { params: 4, initial: [5, 1, 0.5, 0.1] });
    expect(fit.sse).toBeCloseTo(fitLogistic(pred, mos, { params: 4 }).sse, 8);
  });

  it('fits convex data, whose best 4-parameter fit lies at infinity (an exponential), without failing', () => {
    // The example files of the CLI: mos grows faster than pred at the top.
    const x = [
      2.528, 2.133, 3.595, 1.899, 3.202, 2.646, 1.88, 3.404, 2.123, 3.022, 1.9, 1.901, 2.653, 3.801,
      2.248, 2.311, 3.326, 3.771, 3.167, 2.913,
    ];
    const y = [
      2.44, 1.88, 3.48, 1.63, 3.11, 2.57, 1.59, 3.02, 1.52, 2.79, 1.62, 1.69, 2.76, 4.05, 1.8, 2.11,
      3.41, 4.43, 3.25, 2.67,
    ];
    const fit = fitLogistic(x, y, { params: 4 });
    expect(fit.asymptotic).toBe(true);
    expect(fit.beta[2]).toBeGreaterThan(Math.max(...x)); // the inflection left the data range
    expect(plcc(x, y, { fit: 'logistic4' })).toBeGreaterThan(plcc(x, y));
    expect(rmse(x, y, { fit: 'logistic4' })).toBeLessThan(0.2);
    expect(fitLogistic(x, y, { params: 5 }).sse).toBeLessThan(fit.sse * 1.01);
  });

  it('fits linear data (the logistic flattens towards a line) without failing', () => {
    const x = grid;
    const y = x.map((v) => 2 * v + 1 + 0.01 * Math.sin(37 * v));
    expect(plcc(x, y, { fit: 'logistic4' })).toBeGreaterThan(0.999);
    expect(plcc(x, y, { fit: 'logistic5' })).toBeGreaterThan(0.999);
  });
});

describe('fuzz: small, awkward data sets never fail and fit at least as well as a line', () => {
  const shapes: ((q: number) => number)[] = [
    (q) => q,
    (q) => q * q * q,
    (q) => Math.exp(3 * q) / 20,
    (q) => 1 / (1 + Math.exp(-8 * (q - 0.5))),
    (q) => Math.sqrt(q),
    () => 0,
    (q) => -q,
  ];
  const next = lcg(99);
  const cases = Array.from({ length: 140 }, (_, trial) => {
    const n = 4 + Math.floor(next() * 60);
    const noise = [0, 0.02, 0.1, 0.5][Math.floor(next() * 4)];
    const shape = shapes[trial % shapes.length];
    const x: number[] = [];
    const y: number[] = [];
    for (let i = 0; i < n; i++) {
      const q = next();
      x.push(Math.round(q * 100) / 100);
      y.push(1 + 4 * shape(q) + noise * (next() - 0.5));
    }
    return { x, y };
  });

  function linearSse(x: number[], y: number[]): number {
    const mx = x.reduce((s, v) => s + v, 0) / x.length;
    const my = y.reduce((s, v) => s + v, 0) / y.length;
    const sxy = x.reduce((s, v, i) => s + (v - mx) * (y[i] - my), 0);
    const sxx = x.reduce((s, v) => s + (v - mx) ** 2, 0);
    return y.reduce((s, v, i) => s + (v - my - (sxy / sxx) * (x[i] - mx)) ** 2, 0);
  }

  it.each([4, 5] as const)('%i parameters', (params) => {
    for (const { x, y } of cases) {
      if (new Set(x).size < 2 || new Set(y).size < 2) continue;
      const fit = fitLogistic(x, y, { params });
      expect(fit.sse).toBeLessThanOrEqual(linearSse(x, y) * (1 + 1e-3) + 1e-12);
    }
  });
});

describe('bad input', () => {
  const { pred, mos } = tiedDataset(50, 4);

  it('reports a fit that does not converge', () => {
    const call = () => fitLogistic(pred, mos, { params: 5, maxIterations: 1 });
    expect(call).toThrow(MetricError);
    expect(call).toThrow(
      /the 5-parameter logistic fit of mos on pred \(n = 50\) did not converge from any of 3 starts \(max-iterations/,
    );
    expect(call).toThrow(expect.objectContaining({ code: 'E_FIT_NOT_CONVERGED' }));
    expect(() => plcc(pred, mos, { fit: 'logistic4' })).not.toThrow();
  });

  it('rejects constant pred or mos', () => {
    expect(() => fitLogistic([1, 1, 1, 1], [1, 2, 3, 4])).toThrow(
      /pred is constant .*the logistic fit is undefined/,
    );
    expect(() => fitLogistic([1, 2, 3, 4], [2, 2, 2, 2])).toThrow(
      expect.objectContaining({ code: 'E_CONSTANT' }),
    );
    expect(() => plcc([1, 2, 3, 4], [2, 2, 2, 2], { fit: 'logistic5' })).toThrow(/mos is constant/);
  });

  it('rejects bad options', () => {
    expect(() => fitLogistic(pred, mos, { params: 3 as never })).toThrow(
      /params must be one of 4, 5, got 3/,
    );
    expect(() => fitLogistic(pred, mos, { params: 4, initial: [1, 2, 3] })).toThrow(
      /initial must have 4 values for params: 4, got 3/,
    );
    expect(() => fitLogistic(pred, mos, { initial: [1, 2, Number.NaN, 4] })).toThrow(
      /initial\[2\] is NaN/,
    );
    expect(() => fitLogistic(pred, mos, { maxIterations: 0 })).toThrow(
      expect.objectContaining({
        code: 'E_INVALID_ARGUMENT',
        message: expect.stringMatching(/maxIterations must be a positive integer/),
      }),
    );
  });

  it('rejects mismatched or too short input', () => {
    expect(() => fitLogistic([1, 2, 3], [1, 2])).toThrow(/pred has 3 values, mos has 2/);
    expect(() => fitLogistic([1, 2], [1, 2])).toThrow(
      expect.objectContaining({ code: 'E_TOO_FEW_POINTS' }),
    );
  });
});

describe('unrolled accumulation (fast path) equals the generic one', () => {
  it.each([
    ['logistic4', logistic4Model, [4.5, 1.2, 0.3, -0.08]],
    ['logistic5', logistic5Model, [3, 7, 0.5, 0.4, 2.5]],
  ] as const)('%s', (_name, model, beta) => {
    const { pred, mos } = tiedDataset(500, 31);
    const b = Float64Array.from(beta);
    const p = model.size;
    const [aFast, aGeneric] = [new Float64Array(p * p), new Float64Array(p * p)];
    const [gFast, gGeneric] = [new Float64Array(p), new Float64Array(p)];
    const sseFast = model.accumulate!(pred, mos, b, aFast, gFast);
    const sseGeneric = accumulate(
      { ...model, accumulate: undefined },
      pred,
      mos,
      b,
      new Float64Array(p),
      aGeneric,
      gGeneric,
    );
    expect(sseFast).toBeCloseTo(sseGeneric, 9);
    aFast.forEach((v, i) => expect(v).toBeCloseTo(aGeneric[i], 8));
    gFast.forEach((v, i) => expect(v).toBeCloseTo(gGeneric[i], 9));
  });
});
