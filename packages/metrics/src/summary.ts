import { krcc, srcc } from './correlation.js';
import { FIT_KINDS, mapPrediction, plccOf, rmseOf, type FitOptions } from './plcc.js';
import { checkChoice, checkNotConstant, checkPair, type NumericArray } from './validate.js';

/** The four numbers reported in VQA papers, with the sample size. */
export interface MetricSummary {
  readonly n: number;
  readonly srcc: number;
  readonly plcc: number;
  readonly krcc: number;
  readonly rmse: number;
}

/**
 * SRCC, PLCC, KRCC and RMSE in one call. `fit` applies to PLCC and RMSE
 * (one logistic fit shared by both); SRCC and KRCC are invariant to it.
 *
 * @param pred predicted scores, shape [n], finite, n ≥ 3
 * @param mos ground-truth scores, shape [n]
 * @throws MetricError as {@link srcc}, {@link plcc}, {@link krcc}, {@link rmse}
 */
export function summary(
  pred: NumericArray,
  mos: NumericArray,
  options: FitOptions = {},
): MetricSummary {
  const fit = checkChoice(options.fit ?? 'none', FIT_KINDS, 'fit');
  const [x, y] = checkPair(pred, mos, 'pred', 'mos');
  checkNotConstant(x, 'pred', 'a correlation');
  checkNotConstant(y, 'mos', 'a correlation');
  const { mapped } = mapPrediction(x, y, fit);
  return {
    n: x.length,
    srcc: srcc(x, y),
    plcc: plccOf(mapped, y, fit),
    krcc: krcc(x, y),
    rmse: rmseOf(mapped, y),
  };
}
