import { krcc, srcc } from './correlation.js';
import { MetricError } from './metric-error.js';
import { plcc, rmse } from './plcc.js';
import { checkPair, type NumericArray } from './validate.js';

/** A metric of (pred, mos), each shape [n]. */
export type PairedMetric = (pred: Float64Array, mos: Float64Array) => number;

/** Built-in metrics by name (PLCC and RMSE without a fit). */
export type MetricName = 'srcc' | 'plcc' | 'krcc' | 'rmse';

const NAMED: Record<MetricName, PairedMetric> = { srcc, plcc, krcc, rmse };

/** Options of {@link bootstrapCI}. */
export interface BootstrapOptions {
  /** Number of resamples. Default 1000. */
  readonly n?: number;
  /** 1 − confidence level. Default 0.05 (a 95% interval). */
  readonly alpha?: number;
  /** Seed of the resampling PRNG (a 32-bit integer). Default 0. */
  readonly seed?: number;
}

/** A percentile bootstrap confidence interval. */
export interface BootstrapInterval {
  /** The metric on the full data. */
  readonly estimate: number;
  readonly lower: number;
  readonly upper: number;
  readonly alpha: number;
  /** Resamples that gave a value. */
  readonly resamples: number;
  /** Resamples where the metric was undefined (e.g. a constant resample), left out. */
  readonly skipped: number;
}

/**
 * The PRNG of the bootstrap: mulberry32 (32-bit state, period 2^32), small,
 * fast and identical on every platform for a given seed.
 * @internal
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Quantile of sorted values with linear interpolation (numpy's default). */
function quantile(sorted: Float64Array, q: number): number {
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/**
 * Percentile bootstrap confidence interval of a metric: `n` resamples of the
 * (pred, mos) pairs with replacement, drawn with a seeded PRNG (same seed,
 * same interval, on every platform); the interval is the alpha/2 and
 * 1 − alpha/2 quantiles (linear interpolation) of the resampled values.
 * Resamples where the metric throws a {@link MetricError} (e.g. all drawn
 * points tied) are left out and counted in `skipped`; if more than half
 * fail, the first such error is rethrown.
 *
 * @param metric `'srcc' | 'plcc' | 'krcc' | 'rmse'` or a function (pred, mos) → number
 * @param pred shape [n], n ≥ 3
 * @param mos shape [n]
 */
export function bootstrapCI(
  metric: MetricName | PairedMetric,
  pred: NumericArray,
  mos: NumericArray,
  options: BootstrapOptions = {},
): BootstrapInterval {
  const fn = typeof metric === 'function' ? metric : NAMED[metric];
  if (typeof fn !== 'function') {
    throw new MetricError(
      'E_INVALID_ARGUMENT',
      `metric must be one of "srcc", "plcc", "krcc", "rmse" or a function, got ${JSON.stringify(metric)}`,
    );
  }
  const resamples = options.n ?? 1000;
  const alpha = options.alpha ?? 0.05;
  const seed = options.seed ?? 0;
  if (!Number.isInteger(resamples) || resamples < 2) {
    throw new MetricError(
      'E_INVALID_ARGUMENT',
      `n (resamples) must be an integer ≥ 2, got ${String(resamples)}`,
    );
  }
  if (typeof alpha !== 'number' || !(alpha > 0 && alpha < 1)) {
    throw new MetricError('E_INVALID_ARGUMENT', `alpha must be in (0, 1), got ${String(alpha)}`);
  }
  if (!Number.isInteger(seed))
    throw new MetricError('E_INVALID_ARGUMENT', `seed must be an integer, got ${String(seed)}`);
  const [x, y] = checkPair(pred, mos, 'pred', 'mos');
  const estimate = fn(x, y);
  const size = x.length;
  const random = mulberry32(seed);
  const values = new Float64Array(resamples);
  const bx = new Float64Array(size);
  const by = new Float64Array(size);
  let kept = 0;
  let firstError: MetricError | undefined;
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < size; i++) {
      const k = Math.floor(random() * size);
      bx[i] = x[k];
      by[i] = y[k];
    }
    try {
      values[kept++] = fn(bx, by);
    } catch (err) {
      if (!(err instanceof MetricError)) throw err;
      kept--;
      firstError ??= err;
    }
  }
  const skipped = resamples - kept;
  if (firstError && skipped * 2 > resamples) {
    throw new MetricError(
      firstError.code,
      `bootstrapCI: ${skipped} of ${resamples} resamples failed; first: ${firstError.message}`,
    );
  }
  const sorted = values.slice(0, kept).sort();
  return {
    estimate,
    lower: quantile(sorted, alpha / 2),
    upper: quantile(sorted, 1 - alpha / 2),
    alpha,
    resamples: kept,
    skipped,
  };
}
