import { MetricError } from './metric-error.js';

/** One scored variant of a source video (e.g. one CRF level of a clip). */
export interface FlipSample {
  /** The source clip the variant was made from; pairs never cross sources. */
  readonly sourceId: string | number;
  /** Distortion level, higher = worse (e.g. the H.264 CRF). */
  readonly level: number;
  /** Predicted quality, higher = better. */
  readonly score: number;
}

/**
 * How a pair with equal predicted scores (but different levels) counts:
 * `'flip'` (default) as a flip, since the model failed to order it;
 * `'half'` as half a flip; `'ignore'` not at all (left out of the pairs).
 */
export type FlipTies = 'flip' | 'half' | 'ignore';

/** Options of {@link flipRate} and {@link flipRateByDiff}. */
export interface FlipRateOptions {
  readonly ties?: FlipTies;
}

/** Flips among the pairs of one level difference. */
export interface FlipBucket {
  /** Level difference of the pairs counted here. */
  readonly diff: number;
  /** Pairs of variants of one source whose levels differ by `diff`. */
  readonly pairs: number;
  /** Wrongly ordered pairs (ties counted as the `ties` option says). */
  readonly flips: number;
  /** flips / pairs, or `null` when there is no such pair. */
  readonly rate: number | null;
}

/** The CP-LLM Table 3 columns: CRF differences 2, 4, 6, 8, 10, 20. */
export const CP_LLM_FLIP_DIFFS: readonly number[] = [2, 4, 6, 8, 10, 20];

/** Array.isArray without narrowing (inputs may come from untyped callers). */
const isArray = (value: unknown): boolean => Array.isArray(value);

function checkSamples(samples: readonly FlipSample[]): void {
  if (!isArray(samples)) {
    throw new MetricError(
      'E_INVALID_ARGUMENT',
      `samples must be an array of { sourceId, level, score }, got ${typeof samples}`,
    );
  }
  (samples as readonly unknown[]).forEach((raw, i) => {
    if (raw === null || typeof raw !== 'object') {
      throw new MetricError(
        'E_INVALID_ARGUMENT',
        `samples[${i}] must be an object { sourceId, level, score }`,
      );
    }
    const s = raw as Record<string, unknown>;
    if (typeof s.sourceId !== 'string' && typeof s.sourceId !== 'number') {
      throw new MetricError(
        'E_INVALID_ARGUMENT',
        `samples[${i}].sourceId must be a string or a number, got ${typeof s.sourceId}`,
      );
    }
    for (const key of ['level', 'score'] as const) {
      const v = s[key];
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw new MetricError(
          'E_NOT_FINITE',
          `samples[${i}].${key} is ${String(v)}; every value must be a finite number`,
        );
      }
    }
  });
}

function checkTies(ties: unknown): FlipTies {
  if (ties !== 'flip' && ties !== 'half' && ties !== 'ignore') {
    throw new MetricError(
      'E_INVALID_ARGUMENT',
      `ties must be one of "flip", "half", "ignore", got ${JSON.stringify(ties)}`,
    );
  }
  return ties;
}

/**
 * Visits every pair of variants of one source with different levels, with
 * the pair's level difference and its flip weight (1, 0.5, 0, or null when
 * the pair is ignored).
 */
function forEachPair(
  samples: readonly FlipSample[],
  ties: FlipTies,
  visit: (levelDiff: number, flip: number) => void,
): void {
  const bySource = new Map<string | number, FlipSample[]>();
  for (const s of samples) {
    const group = bySource.get(s.sourceId);
    if (group) group.push(s);
    else bySource.set(s.sourceId, [s]);
  }
  for (const group of bySource.values()) {
    for (let i = 0; i < group.length; i++) {
      for (let j = i + 1; j < group.length; j++) {
        const a = group[i];
        const b = group[j];
        if (a.level === b.level) continue;
        // The worse variant (higher level) should score strictly lower.
        const [better, worse] = a.level < b.level ? [a, b] : [b, a];
        const levelDiff = worse.level - better.level;
        if (better.score > worse.score) visit(levelDiff, 0);
        else if (better.score < worse.score) visit(levelDiff, 1);
        else if (ties === 'flip') visit(levelDiff, 1);
        else if (ties === 'half') visit(levelDiff, 0.5);
      }
    }
  }
}

/**
 * Flip rate: among all pairs of variants of one source with different
 * levels (higher level = worse), the share whose predicted order contradicts
 * the level order, i.e. the worse variant scored higher. Pairs with equal
 * levels carry no order and are skipped; pairs with equal scores count as
 * `ties` says (default `'flip'`).
 *
 * @param samples one entry per scored variant, shape [n] of `{ sourceId, level, score }`
 * @returns flips / pairs in [0, 1]
 * @throws MetricError `E_NO_PAIRS` when there is no pair to compare,
 *   `E_NOT_FINITE`, `E_INVALID_ARGUMENT`
 */
export function flipRate(samples: readonly FlipSample[], options: FlipRateOptions = {}): number {
  checkSamples(samples);
  const ties = checkTies(options.ties ?? 'flip');
  let pairs = 0;
  let flips = 0;
  forEachPair(samples, ties, (_diff, flip) => {
    pairs++;
    flips += flip;
  });
  if (pairs === 0) {
    throw new MetricError(
      'E_NO_PAIRS',
      `flipRate found no pair of variants of one source with different levels among ${samples.length} samples`,
    );
  }
  return flips / pairs;
}

/**
 * Flip rate per level difference, as the columns of CP-LLM Table 3: for each
 * `d` in `diffs` (default {@link CP_LLM_FLIP_DIFFS} = 2, 4, 6, 8, 10, 20),
 * the pairs of variants of one source whose levels differ by exactly `d`
 * (to 1e-9 relative), and the share of them that flip.
 *
 * @param samples one entry per scored variant, shape [n]
 * @param diffs level differences, shape [k], each > 0
 * @returns one bucket per entry of `diffs`, in order; `rate` is `null` for an empty bucket
 */
export function flipRateByDiff(
  samples: readonly FlipSample[],
  diffs: readonly number[] = CP_LLM_FLIP_DIFFS,
  options: FlipRateOptions = {},
): FlipBucket[] {
  checkSamples(samples);
  const ties = checkTies(options.ties ?? 'flip');
  if (!isArray(diffs))
    throw new MetricError('E_INVALID_ARGUMENT', 'diffs must be an array of positive numbers');
  (diffs as readonly unknown[]).forEach((d, i) => {
    if (typeof d !== 'number' || !Number.isFinite(d) || d <= 0) {
      throw new MetricError(
        'E_INVALID_ARGUMENT',
        `diffs[${i}] must be a positive finite number, got ${String(d)}`,
      );
    }
  });
  const pairs = new Array<number>(diffs.length).fill(0);
  const flips = new Array<number>(diffs.length).fill(0);
  forEachPair(samples, ties, (levelDiff, flip) => {
    for (let k = 0; k < diffs.length; k++) {
      if (Math.abs(levelDiff - diffs[k]) <= 1e-9 * diffs[k]) {
        pairs[k]++;
        flips[k] += flip;
      }
    }
  });
  return diffs.map((diff, k) => ({
    diff,
    pairs: pairs[k],
    flips: flips[k],
    rate: pairs[k] > 0 ? flips[k] / pairs[k] : null,
  }));
}
