import { pearson } from './correlation.js';
import { fitLogistic, type LogisticFit } from './logistic.js';
import { checkChoice, checkNotConstant, checkPair, type NumericArray } from './validate.js';

/** Mapping applied to pred before PLCC and RMSE. */
export type FitKind = 'none' | 'logistic4' | 'logistic5';

/** The accepted values of {@link FitKind}. */
export const FIT_KINDS: readonly FitKind[] = ['none', 'logistic4', 'logistic5'];

/** Options of {@link plcc} and {@link rmse}. */
export interface FitOptions {
  /**
   * `'none'` (default): use pred as is. `'logistic4'` / `'logistic5'`: first
   * map pred to the MOS scale with {@link fitLogistic} (4 or 5 parameters).
   */
  readonly fit?: FitKind;
}

/** @internal pred mapped by `fit` (a copy-free pass-through for 'none'). */
export function mapPrediction(
  x: Float64Array,
  y: Float64Array,
  fit: FitKind,
): { mapped: Float64Array; fitted?: LogisticFit } {
  if (fit === 'none') return { mapped: x };
  const fitted = fitLogistic(x, y, { params: fit === 'logistic4' ? 4 : 5 });
  return { mapped: fitted.predict(x), fitted };
}

/** @internal */
export function plccOf(mapped: Float64Array, y: Float64Array, fit: FitKind): number {
  const name = fit === 'none' ? 'pred' : `pred after the ${fit} fit`;
  checkNotConstant(mapped, name, 'PLCC');
  checkNotConstant(y, 'mos', 'PLCC');
  return pearson(mapped, y);
}

/** @internal */
export function rmseOf(mapped: Float64Array, y: Float64Array): number {
  let ss = 0;
  for (let i = 0; i < y.length; i++) {
    const d = mapped[i] - y[i];
    ss += d * d;
  }
  return Math.sqrt(ss / y.length);
}

/**
 * Pearson linear correlation (PLCC) between pred and MOS, optionally after
 * the VQEG logistic mapping of pred (see {@link fitLogistic} for the
 * formulas). With `fit: 'none'` it equals `scipy.stats.pearsonr`.
 *
 * @param pred predicted scores, shape [n], finite, n ≥ 3
 * @param mos ground-truth scores, shape [n]
 * @returns PLCC in [-1, 1]
 * @throws MetricError `E_LENGTH_MISMATCH`, `E_TOO_FEW_POINTS`, `E_NOT_FINITE`,
 *   `E_CONSTANT`, `E_FIT_NOT_CONVERGED`, `E_INVALID_ARGUMENT`
 */
export function plcc(pred: NumericArray, mos: NumericArray, options: FitOptions = {}): number {
  const fit = checkChoice(options.fit ?? 'none', FIT_KINDS, 'fit');
  const [x, y] = checkPair(pred, mos, 'pred', 'mos');
  checkNotConstant(x, 'pred', 'PLCC');
  checkNotConstant(y, 'mos', 'PLCC');
  return plccOf(mapPrediction(x, y, fit).mapped, y, fit);
}

/**
 * Root-mean-square error `sqrt(mean((f(pred) − mos)²))`, where f is the
 * identity (`fit: 'none'`, default: pred must already be on the MOS scale)
 * or the fitted VQEG logistic mapping.
 *
 * @param pred predicted scores, shape [n], finite, n ≥ 3
 * @param mos ground-truth scores, shape [n]
 * @throws MetricError `E_LENGTH_MISMATCH`, `E_TOO_FEW_POINTS`, `E_NOT_FINITE`,
 *   `E_CONSTANT` (only with a fit), `E_FIT_NOT_CONVERGED`, `E_INVALID_ARGUMENT`
 */
export function rmse(pred: NumericArray, mos: NumericArray, options: FitOptions = {}): number {
  const fit = checkChoice(options.fit ?? 'none', FIT_KINDS, 'fit');
  const [x, y] = checkPair(pred, mos, 'pred', 'mos');
  return rmseOf(mapPrediction(x, y, fit).mapped, y);
}
