import { pearson } from './correlation.js';
import { levenbergMarquardt, type CurveModel } from './levenberg-marquardt.js';
import { MetricError } from './metric-error.js';
import {
  checkChoice,
  checkNotConstant,
  checkPair,
  toFiniteFloat64,
  type NumericArray,
} from './validate.js';

/** Number of parameters of the VQEG logistic mapping. */
export type LogisticParams = 4 | 5;

/** Options of {@link fitLogistic}. */
export interface FitLogisticOptions {
  /** 4 (VQEG FR-TV Phase II) or 5 (Sheikh et al. 2006). Default 4. */
  readonly params?: LogisticParams;
  /**
   * Starting β (length 4 or 5, in the units of pred and mos). Default: the
   * data-driven start documented in {@link initialLogisticBeta}.
   */
  readonly initial?: NumericArray;
  /** Levenberg–Marquardt iterations per start before giving up. Default 1000. */
  readonly maxIterations?: number;
}

/** A fitted logistic mapping from predicted scores to the MOS scale. */
export interface LogisticFit {
  readonly params: LogisticParams;
  /** β1..β4 or β1..β5 of the formula in {@link fitLogistic}. */
  readonly beta: readonly number[];
  /** Sum of squared residuals Σ (mos − f(pred))² at `beta`. */
  readonly sse: number;
  /** Levenberg–Marquardt iterations used. */
  readonly iterations: number;
  /**
   * True when the best fit lies at infinity (e.g. data that follow an
   * exponential or a straight line over their whole range): β diverges
   * while f converges, and the fit stopped after at least 100 iterations
   * once the last 50 lowered the SSE by less than 1e-4 of itself (or 1e-7
   * of Σ(y − ȳ)²). PLCC and RMSE are then within about that margin of the
   * family's best; β itself is not meaningful.
   */
  readonly asymptotic: boolean;
  /** f(x) for one predicted score. */
  value(x: number): number;
  /** f applied to every value, shape [n] → [n]. */
  predict(values: NumericArray): Float64Array;
}

/**
 * VQEG 4-parameter logistic:
 * `f(x) = (β1 − β2) / (1 + exp(−(x − β3) / |β4|)) + β2`.
 */
export const logistic4: CurveModel = {
  size: 4,
  value(x, b) {
    return (b[0] - b[1]) / (1 + Math.exp(-(x - b[2]) / Math.abs(b[3]))) + b[1];
  },
  gradient(x, b, out) {
    const scale = Math.abs(b[3]);
    const z = (x - b[2]) / scale;
    const s = 1 / (1 + Math.exp(-z));
    const ds = s * (1 - s);
    const amplitude = b[0] - b[1];
    out[0] = s;
    out[1] = 1 - s;
    out[2] = (-amplitude * ds) / scale;
    out[3] = (-amplitude * ds * z * Math.sign(b[3])) / scale;
    return amplitude * s + b[1];
  },
  accumulate(xs, ys, b, a, g) {
    const scale = Math.abs(b[3]);
    const amplitude = b[0] - b[1];
    const c2 = -amplitude / scale;
    const c3 = c2 * Math.sign(b[3]);
    let sse = 0;
    let g0 = 0,
      g1 = 0,
      g2 = 0,
      g3 = 0;
    let a00 = 0,
      a10 = 0,
      a11 = 0,
      a20 = 0,
      a21 = 0,
      a22 = 0,
      a30 = 0,
      a31 = 0,
      a32 = 0,
      a33 = 0;
    for (let i = 0; i < xs.length; i++) {
      const z = (xs[i] - b[2]) / scale;
      const s = 1 / (1 + Math.exp(-z));
      const ds = s * (1 - s);
      const j0 = s;
      const j1 = 1 - s;
      const j2 = c2 * ds;
      const j3 = c3 * ds * z;
      const r = ys[i] - (amplitude * s + b[1]);
      sse += r * r;
      g0 += j0 * r;
      g1 += j1 * r;
      g2 += j2 * r;
      g3 += j3 * r;
      a00 += j0 * j0;
      a10 += j1 * j0;
      a11 += j1 * j1;
      a20 += j2 * j0;
      a21 += j2 * j1;
      a22 += j2 * j2;
      a30 += j3 * j0;
      a31 += j3 * j1;
      a32 += j3 * j2;
      a33 += j3 * j3;
    }
    g[0] = g0;
    g[1] = g1;
    g[2] = g2;
    g[3] = g3;
    a.set([a00, a10, a20, a30, a10, a11, a21, a31, a20, a21, a22, a32, a30, a31, a32, a33]);
    return sse;
  },
};

/**
 * 5-parameter logistic of Sheikh, Sabir & Bovik (2006), used for LIVE:
 * `f(x) = β1 (1/2 − 1 / (1 + exp(β2 (x − β3)))) + β4 x + β5`.
 */
export const logistic5: CurveModel = {
  size: 5,
  value(x, b) {
    return b[0] * (0.5 - 1 / (1 + Math.exp(b[1] * (x - b[2])))) + b[3] * x + b[4];
  },
  gradient(x, b, out) {
    const dx = x - b[2];
    const u = 1 / (1 + Math.exp(b[1] * dx));
    const du = u * (1 - u);
    out[0] = 0.5 - u;
    out[1] = b[0] * du * dx;
    out[2] = -b[0] * b[1] * du;
    out[3] = x;
    out[4] = 1;
    return b[0] * (0.5 - u) + b[3] * x + b[4];
  },
  accumulate(xs, ys, b, a, g) {
    const c2 = -b[0] * b[1];
    let sse = 0;
    let g0 = 0,
      g1 = 0,
      g2 = 0,
      g3 = 0,
      g4 = 0;
    let a00 = 0,
      a10 = 0,
      a11 = 0,
      a20 = 0,
      a21 = 0,
      a22 = 0,
      a30 = 0,
      a31 = 0,
      a32 = 0,
      a33 = 0;
    let a40 = 0,
      a41 = 0,
      a42 = 0,
      a43 = 0,
      a44 = 0;
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i];
      const dx = x - b[2];
      const u = 1 / (1 + Math.exp(b[1] * dx));
      const du = u * (1 - u);
      const j0 = 0.5 - u;
      const j1 = b[0] * du * dx;
      const j2 = c2 * du;
      const j3 = x;
      const r = ys[i] - (b[0] * j0 + b[3] * x + b[4]);
      sse += r * r;
      g0 += j0 * r;
      g1 += j1 * r;
      g2 += j2 * r;
      g3 += j3 * r;
      g4 += r;
      a00 += j0 * j0;
      a10 += j1 * j0;
      a11 += j1 * j1;
      a20 += j2 * j0;
      a21 += j2 * j1;
      a22 += j2 * j2;
      a30 += j3 * j0;
      a31 += j3 * j1;
      a32 += j3 * j2;
      a33 += j3 * j3;
      a40 += j0;
      a41 += j1;
      a42 += j2;
      a43 += j3;
      a44 += 1;
    }
    g[0] = g0;
    g[1] = g1;
    g[2] = g2;
    g[3] = g3;
    g[4] = g4;
    a.set([
      a00,
      a10,
      a20,
      a30,
      a40,
      a10,
      a11,
      a21,
      a31,
      a41,
      a20,
      a21,
      a22,
      a32,
      a42,
      a30,
      a31,
      a32,
      a33,
      a43,
      a40,
      a41,
      a42,
      a43,
      a44,
    ]);
    return sse;
  },
};

interface Moments {
  mean: number;
  std: number;
  min: number;
  max: number;
}

function moments(v: Float64Array): Moments {
  let sum = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < v.length; i++) {
    sum += v[i];
    if (v[i] < min) min = v[i];
    if (v[i] > max) max = v[i];
  }
  const mean = sum / v.length;
  let ss = 0;
  for (let i = 0; i < v.length; i++) ss += (v[i] - mean) * (v[i] - mean);
  return { mean, std: Math.sqrt(ss / v.length), min, max };
}

/**
 * The documented default start of the fit, from pred x and mos y
 * (std = population standard deviation, s = +1 if pred and mos correlate
 * positively, else −1):
 * - 4 params: `[max y, min y, mean x, std x]`, with β1 and β2 swapped when s < 0;
 * - 5 params: `[max y − min y, s / std x, mean x, 0, mean y]`.
 *
 * @param pred shape [n], finite, not constant
 * @param mos shape [n], finite
 */
export function initialLogisticBeta(
  pred: NumericArray,
  mos: NumericArray,
  params: LogisticParams = 4,
): number[] {
  checkChoice(params, [4, 5] as const, 'params');
  const [x, y] = checkPair(pred, mos, 'pred', 'mos');
  checkNotConstant(x, 'pred', 'the logistic fit');
  const mx = moments(x);
  const my = moments(y);
  let cov = 0;
  for (let i = 0; i < x.length; i++) cov += (x[i] - mx.mean) * (y[i] - my.mean);
  const sign = cov >= 0 ? 1 : -1;
  if (params === 4) {
    return sign > 0 ? [my.max, my.min, mx.mean, mx.std] : [my.min, my.max, mx.mean, mx.std];
  }
  return [my.max - my.min, sign / mx.std, mx.mean, 0, my.mean];
}

// The solver works on standardised data x' = (x − mx)/sx, y' = (y − my)/sy;
// these maps move β between the two coordinate systems exactly.
function toStandard(
  params: LogisticParams,
  b: readonly number[],
  mx: number,
  sx: number,
  my: number,
  sy: number,
): Float64Array {
  if (params === 4)
    return Float64Array.from([(b[0] - my) / sy, (b[1] - my) / sy, (b[2] - mx) / sx, b[3] / sx]);
  return Float64Array.from([
    b[0] / sy,
    b[1] * sx,
    (b[2] - mx) / sx,
    (b[3] * sx) / sy,
    (b[4] - my + b[3] * mx) / sy,
  ]);
}

function fromStandard(
  params: LogisticParams,
  b: Float64Array,
  mx: number,
  sx: number,
  my: number,
  sy: number,
): number[] {
  if (params === 4) return [my + sy * b[0], my + sy * b[1], mx + sx * b[2], sx * Math.abs(b[3])];
  const beta4 = (sy * b[3]) / sx;
  return [sy * b[0], b[1] / sx, mx + sx * b[2], beta4, my + sy * b[4] - beta4 * mx];
}

function makeFit(
  params: LogisticParams,
  beta: number[],
  sse: number,
  iterations: number,
  asymptotic: boolean,
): LogisticFit {
  const model = params === 4 ? logistic4 : logistic5;
  const b = Float64Array.from(beta);
  const value = (x: number): number => model.value(x, b);
  return {
    params,
    beta,
    sse,
    iterations,
    asymptotic,
    value,
    predict(values: NumericArray): Float64Array {
      const v = toFiniteFloat64(values, 'values');
      const out = new Float64Array(v.length);
      for (let i = 0; i < v.length; i++) out[i] = model.value(v[i], b);
      return out;
    },
  };
}

/**
 * Fits the VQEG logistic mapping from predicted scores to MOS by nonlinear
 * least squares (Levenberg–Marquardt with analytic Jacobian, on
 * standardised data), as done before PLCC and RMSE in VQA papers:
 *
 * - `params: 4` (VQEG FR-TV Phase II):
 *   `f(x) = (β1 − β2) / (1 + exp(−(x − β3) / |β4|)) + β2`
 * - `params: 5` (Sheikh et al. 2006):
 *   `f(x) = β1 (1/2 − 1 / (1 + exp(β2 (x − β3)))) + β4 x + β5`
 *
 * Starts from {@link initialLogisticBeta} (or `options.initial`); if that
 * start does not converge, retries with the slope scaled by 1/4 and 4 and
 * keeps the converged fit with the smallest SSE. For `params: 4` the
 * returned β4 is positive (only |β4| enters f).
 *
 * @param pred predicted scores, shape [n], finite, n ≥ 3 (n ≥ params advised)
 * @param mos ground-truth scores, shape [n]
 * @throws MetricError `E_LENGTH_MISMATCH`, `E_TOO_FEW_POINTS`, `E_NOT_FINITE`,
 *   `E_CONSTANT` (pred or mos constant), `E_FIT_NOT_CONVERGED`, `E_INVALID_ARGUMENT`
 */
export function fitLogistic(
  pred: NumericArray,
  mos: NumericArray,
  options: FitLogisticOptions = {},
): LogisticFit {
  const params = checkChoice(options.params ?? 4, [4, 5] as const, 'params');
  const maxIterations = options.maxIterations ?? 1000;
  if (!Number.isInteger(maxIterations) || maxIterations < 1) {
    throw new MetricError(
      'E_INVALID_ARGUMENT',
      `maxIterations must be a positive integer, got ${String(maxIterations)}`,
    );
  }
  const [x, y] = checkPair(pred, mos, 'pred', 'mos');
  checkNotConstant(x, 'pred', 'the logistic fit');
  checkNotConstant(y, 'mos', 'the logistic fit');
  let start: number[];
  if (options.initial !== undefined) {
    const initial = toFiniteFloat64(options.initial, 'initial');
    if (initial.length !== params) {
      throw new MetricError(
        'E_INVALID_ARGUMENT',
        `initial must have ${params} values for params: ${params}, got ${initial.length}`,
      );
    }
    start = Array.from(initial);
  } else {
    start = initialLogisticBeta(x, y, params);
  }

  const mx = moments(x);
  const my = moments(y);
  const xs = new Float64Array(x.length);
  const ys = new Float64Array(y.length);
  for (let i = 0; i < x.length; i++) {
    xs[i] = (x[i] - mx.mean) / mx.std;
    ys[i] = (y[i] - my.mean) / my.std;
  }
  const model = params === 4 ? logistic4 : logistic5;
  const slopeIndex = params === 4 ? 3 : 1;
  // The slope parameter is β4 (a scale: larger = flatter) or β2 (a rate).
  const starts = [1, 0.25, 4].map((factor) => {
    const s = start.slice();
    s[slopeIndex] = params === 4 ? s[slopeIndex] * factor : s[slopeIndex] / factor;
    return s;
  });

  let best: { beta: number[]; sse: number; iterations: number; asymptotic: boolean } | undefined;
  const reasons: string[] = [];
  for (const s of starts) {
    const result = levenbergMarquardt(
      model,
      xs,
      ys,
      toStandard(params, s, mx.mean, mx.std, my.mean, my.std),
      { maxIterations },
    );
    const beta = fromStandard(params, result.beta, mx.mean, mx.std, my.mean, my.std);
    if (result.converged && beta.every(Number.isFinite)) {
      const sse = result.sse * my.std * my.std;
      if (!best || sse < best.sse)
        best = {
          beta,
          sse,
          iterations: result.iterations,
          asymptotic: result.reason === 'asymptotic',
        };
      if (s === starts[0]) break;
    } else {
      reasons.push(`${result.reason} after ${result.iterations} iterations`);
    }
  }
  if (!best) {
    throw new MetricError(
      'E_FIT_NOT_CONVERGED',
      `the ${params}-parameter logistic fit of mos on pred (n = ${x.length}) did not converge from any of ${starts.length} starts (${reasons.join('; ')})`,
    );
  }
  return makeFit(params, best.beta, best.sse, best.iterations, best.asymptotic);
}

/** @internal PLCC of the fitted predictions against mos. */
export function fittedPearson(fit: LogisticFit, x: Float64Array, y: Float64Array): number {
  const fitted = fit.predict(x);
  checkNotConstant(fitted, 'the fitted pred', 'PLCC after the logistic fit');
  return pearson(fitted, y);
}
