// A small dense Levenberg–Marquardt solver for curve fits with few
// parameters (here 4 or 5) and many points. It never stores the Jacobian:
// each pass over the data accumulates JᵀJ and Jᵀr directly.

/** A model y ≈ f(x; β) with its analytic gradient ∂f/∂β. */
export interface CurveModel {
  /** Number of parameters p. */
  readonly size: number;
  /** f(x; β). */
  value(x: number, beta: Float64Array): number;
  /** Writes ∂f/∂β_j at x into `out` (length p) and returns f(x; β). */
  gradient(x: number, beta: Float64Array, out: Float64Array): number;
  /**
   * Optional fast path of {@link accumulate} for this model (same result,
   * unrolled); must write the full symmetric JᵀJ.
   */
  accumulate?(
    x: Float64Array,
    y: Float64Array,
    beta: Float64Array,
    a: Float64Array,
    g: Float64Array,
  ): number;
}

export interface LeastSquaresOptions {
  /** Outer iterations (Jacobian evaluations) before giving up. */
  readonly maxIterations: number;
}

export interface LeastSquaresResult {
  readonly beta: Float64Array;
  /** Sum of squared residuals at `beta`. */
  readonly sse: number;
  readonly iterations: number;
  readonly converged: boolean;
  /** Which test stopped the iteration. */
  readonly reason:
    | 'perfect-fit'
    | 'relative-reduction'
    | 'step-size'
    | 'gradient'
    | 'asymptotic'
    | 'max-iterations'
    | 'non-finite';
}

const FTOL = 1e-15;
// An accepted step that lowers the SSE by less than this share of the total
// sum of squares Σ(y − ȳ)² cannot move PLCC or RMSE visibly: stop. This also
// ends the slow drift of parameters towards infinity when the data are best
// fitted by a limit of the family (a line, a step).
const DATA_TOL = 1e-11;
const XTOL = 1e-15;
// When the best fit lies at infinity (the data follow a limit of the family:
// an exponential, a line, a step), the parameters drift outwards while the
// SSE creeps down ever more slowly; a well-posed fit converges in a few dozen
// iterations instead. After 2 × ASYMPTOTE_WINDOW iterations, an SSE gain over
// the last ASYMPTOTE_WINDOW iterations below ASYMPTOTE_GAIN of the SSE (or
// below ASYMPTOTE_DATA_GAIN of Σ(y − ȳ)², for near-perfect fits) is taken as
// having reached that limit.
const ASYMPTOTE_WINDOW = 50;
const ASYMPTOTE_GAIN = 1e-4;
const ASYMPTOTE_DATA_GAIN = 1e-7;
const GTOL = 1e-13;
const MAX_REJECTS = 64;

/**
 * One pass over the data at `beta`: writes JᵀJ (p × p) into `a` and Jᵀr into
 * `g`, returns the SSE. Trial points get the full pass too, so an accepted
 * step needs no second pass.
 */
export function accumulate(
  model: CurveModel,
  x: Float64Array,
  y: Float64Array,
  beta: Float64Array,
  grad: Float64Array,
  a: Float64Array,
  g: Float64Array,
): number {
  const p = model.size;
  a.fill(0);
  g.fill(0);
  let sse = 0;
  for (let i = 0; i < x.length; i++) {
    const r = y[i] - model.gradient(x[i], beta, grad);
    sse += r * r;
    for (let j = 0; j < p; j++) {
      const gj = grad[j];
      g[j] += gj * r;
      for (let k = 0; k <= j; k++) a[j * p + k] += gj * grad[k];
    }
  }
  for (let j = 0; j < p; j++) for (let k = 0; k < j; k++) a[k * p + j] = a[j * p + k];
  return sse;
}

/** Solves (A + λ D) δ = g by Cholesky; returns false if not positive definite. */
function solveDamped(
  a: Float64Array,
  d: Float64Array,
  lambda: number,
  g: Float64Array,
  p: number,
  out: Float64Array,
): boolean {
  const l = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * p + j] + (i === j ? lambda * d[i] : 0);
      for (let k = 0; k < j; k++) s -= l[i * p + k] * l[j * p + k];
      if (i === j) {
        if (!(s > 0)) return false;
        l[i * p + i] = Math.sqrt(s);
      } else {
        l[i * p + j] = s / l[j * p + j];
      }
    }
  }
  for (let i = 0; i < p; i++) {
    let s = g[i];
    for (let k = 0; k < i; k++) s -= l[i * p + k] * out[k];
    out[i] = s / l[i * p + i];
  }
  for (let i = p - 1; i >= 0; i--) {
    let s = out[i];
    for (let k = i + 1; k < p; k++) s -= l[k * p + i] * out[k];
    out[i] = s / l[i * p + i];
  }
  return true;
}

/**
 * Minimises Σ (y_i − f(x_i; β))² from `start` with Levenberg–Marquardt:
 * Marquardt's diagonal scaling D = diag(JᵀJ) (kept as a running maximum, as
 * MINPACK does, so the method is invariant to the scale of each parameter)
 * and Nielsen's update of the damping λ from the gain ratio.
 *
 * Stops when the fit is exact, when an accepted step reduces the SSE (and
 * its predicted reduction) by less than 1e-15 of the SSE or 1e-11 of the
 * total sum of squares Σ(y − ȳ)², when the scaled step is below 1e-15 of
 * the scaled parameters, or when the gradient is orthogonal to the
 * residuals to 1e-13; or, when the parameters diverge, once the SSE gained
 * less than 1e-4 (relative) over the last 50 of at least 100 iterations ('asymptotic').
 */
export function levenbergMarquardt(
  model: CurveModel,
  x: Float64Array,
  y: Float64Array,
  start: Float64Array,
  options: LeastSquaresOptions,
): LeastSquaresResult {
  const p = model.size;
  const n = x.length;
  let beta = Float64Array.from(start);
  const grad = new Float64Array(p);
  let a = new Float64Array(p * p);
  let g = new Float64Array(p);
  let aTrial = new Float64Array(p * p);
  let gTrial = new Float64Array(p);
  const d = new Float64Array(p);
  const step = new Float64Array(p);
  const trial = new Float64Array(p);
  let yy = 0;
  let ym = 0;
  for (let i = 0; i < n; i++) ym += y[i];
  ym /= n;
  for (let i = 0; i < n; i++) yy += (y[i] - ym) * (y[i] - ym);

  let lambda = 1e-3;
  let nu = 2;
  let sse = Number.NaN;
  const done = (
    reason: LeastSquaresResult['reason'],
    iterations: number,
    converged: boolean,
  ): LeastSquaresResult => ({
    beta,
    sse,
    iterations,
    converged,
    reason,
  });

  const sseHistory: number[] = [];
  const pass = (b: Float64Array, aOut: Float64Array, gOut: Float64Array): number =>
    model.accumulate
      ? model.accumulate(x, y, b, aOut, gOut)
      : accumulate(model, x, y, b, grad, aOut, gOut);
  sse = pass(beta, a, g);
  for (let iteration = 1; iteration <= options.maxIterations; iteration++) {
    // a = JᵀJ, g = Jᵀr and sse are those at beta.
    if (!Number.isFinite(sse) || a.some((v) => !Number.isFinite(v)))
      return done('non-finite', iteration, false);
    if (sse <= 1e-28 * yy) return done('perfect-fit', iteration, true);
    sseHistory.push(sse);
    const past = sseHistory.length - 1 - ASYMPTOTE_WINDOW;
    if (
      past >= ASYMPTOTE_WINDOW &&
      sseHistory[past] - sse <= Math.max(ASYMPTOTE_GAIN * sse, ASYMPTOTE_DATA_GAIN * yy)
    ) {
      return done('asymptotic', iteration, true);
    }

    let maxDiag = 0;
    for (let j = 0; j < p; j++) {
      d[j] = Math.max(d[j], a[j * p + j]);
      maxDiag = Math.max(maxDiag, d[j]);
    }
    for (let j = 0; j < p; j++) if (d[j] <= 1e-30 * maxDiag) d[j] = 1e-30 * maxDiag || 1;

    // Gradient test: the largest cosine between the residual and a column of J.
    let gnorm = 0;
    const rnorm = Math.sqrt(sse);
    for (let j = 0; j < p; j++) {
      const col = Math.sqrt(a[j * p + j]);
      if (col > 0) gnorm = Math.max(gnorm, Math.abs(g[j]) / (col * rnorm));
    }
    if (gnorm <= GTOL) return done('gradient', iteration, true);

    let accepted = false;
    for (let reject = 0; reject < MAX_REJECTS && !accepted; reject++) {
      const solved = solveDamped(a, d, lambda, g, p, step);
      let scaledStep = 0;
      let scaledBeta = 0;
      if (solved) {
        for (let j = 0; j < p; j++) {
          trial[j] = beta[j] + step[j];
          scaledStep += d[j] * step[j] * step[j];
          scaledBeta += d[j] * beta[j] * beta[j];
        }
        const sseTrial = pass(trial, aTrial, gTrial);
        let predicted = 0;
        for (let j = 0; j < p; j++) predicted += step[j] * (g[j] + lambda * d[j] * step[j]);
        const actual = sse - sseTrial;
        const rho = Number.isFinite(sseTrial) && predicted > 0 ? actual / predicted : -1;
        if (rho > 0) {
          accepted = true;
          beta = Float64Array.from(trial);
          const old = sse;
          sse = sseTrial;
          [a, aTrial] = [aTrial, a];
          [g, gTrial] = [gTrial, g];
          lambda *= Math.max(1 / 3, 1 - (2 * rho - 1) ** 3);
          nu = 2;
          if (actual <= FTOL * old && predicted <= FTOL * old)
            return done('relative-reduction', iteration, true);
          if (actual <= DATA_TOL * yy && predicted <= DATA_TOL * yy)
            return done('relative-reduction', iteration, true);
        } else {
          lambda *= nu;
          nu *= 2;
        }
      } else {
        lambda *= nu;
        nu *= 2;
        scaledStep = Number.POSITIVE_INFINITY;
      }
      if (Math.sqrt(scaledStep) <= XTOL * Math.sqrt(scaledBeta))
        return done('step-size', iteration, true);
    }
    if (!accepted) return done('step-size', iteration, true);
  }
  return done('max-iterations', options.maxIterations, false);
}
