import { describe, expect, it } from 'vitest';
import {
  CP_LLM_FLIP_DIFFS,
  flipRate,
  flipRateByDiff,
  MetricError,
  type FlipSample,
} from './index.js';

/** Variants of one source at CRF levels with given predicted scores. */
function ladder(sourceId: string, levels: number[], scores: number[]): FlipSample[] {
  return levels.map((level, i) => ({ sourceId, level, score: scores[i] }));
}

describe('flipRate', () => {
  it('is 0 when every worse variant scores lower, 1 when all are reversed', () => {
    const levels = [15, 17, 19, 21];
    expect(flipRate(ladder('a', levels, [4.5, 4.1, 3.7, 3.0]))).toBe(0);
    expect(flipRate(ladder('a', levels, [3.0, 3.7, 4.1, 4.5]))).toBe(1);
  });

  it('counts the share of contradicting pairs (checked by hand)', () => {
    // pairs: (15,17) ok, (15,19) ok, (17,19) flipped -> 1 of 3
    expect(flipRate(ladder('a', [15, 17, 19], [4.0, 3.0, 3.5]))).toBeCloseTo(1 / 3, 15);
  });

  it('never pairs variants of different sources, nor equal levels', () => {
    const samples = [
      ...ladder('a', [20, 30], [4, 3]), // ok
      ...ladder('b', [20, 30], [2, 2.5]), // flipped
      { sourceId: 'a', level: 20, score: 1 }, // same level as a/20: no pair with it; pairs with a/30 (flip: 1 < 3)
    ];
    // pairs: a20-a30 ok, b20-b30 flip, a20'-a30 flip (worse variant scored higher) -> 2 of 3
    expect(flipRate(samples)).toBeCloseTo(2 / 3, 15);
  });

  it('handles ties as asked (default: a tie is a flip)', () => {
    const samples = ladder('a', [15, 17, 19], [4.0, 4.0, 3.0]); // (15,17) tied, others ok
    expect(flipRate(samples)).toBeCloseTo(1 / 3, 15);
    expect(flipRate(samples, { ties: 'flip' })).toBeCloseTo(1 / 3, 15);
    expect(flipRate(samples, { ties: 'half' })).toBeCloseTo(0.5 / 3, 15);
    expect(flipRate(samples, { ties: 'ignore' })).toBe(0);
  });

  it('accepts numeric source ids and fractional levels', () => {
    const samples = [
      { sourceId: 1, level: 0.5, score: 2 },
      { sourceId: 1, level: 1.5, score: 3 },
      { sourceId: 2, level: 0.5, score: 3 },
      { sourceId: 2, level: 1.5, score: 2 },
    ];
    expect(flipRate(samples)).toBe(0.5);
  });
});

describe('flipRateByDiff', () => {
  it('defaults to the CP-LLM Table 3 columns', () => {
    expect(CP_LLM_FLIP_DIFFS).toEqual([2, 4, 6, 8, 10, 20]);
    const levels = Array.from({ length: 20 }, (_, i) => 15 + 2 * i); // CRF 15..53
    const scores = levels.map((l) => 5 - l / 20);
    scores[1] = scores[0] + 0.01; // CRF 17 scores above CRF 15: one flip at diff 2
    const buckets = flipRateByDiff(ladder('s', levels, scores));
    expect(buckets.map((b) => b.diff)).toEqual([2, 4, 6, 8, 10, 20]);
    expect(buckets[0]).toEqual({ diff: 2, pairs: 19, flips: 1, rate: 1 / 19 });
    expect(buckets[1]).toEqual({ diff: 4, pairs: 18, flips: 0, rate: 0 });
    expect(buckets[5]).toEqual({ diff: 20, pairs: 10, flips: 0, rate: 0 });
  });

  it('agrees with flipRate on each bucket and reports empty buckets as null', () => {
    const samples = [
      ...ladder('a', [15, 17, 19, 25], [4, 4.2, 3, 3.1]),
      ...ladder('b', [15, 19], [3, 3]),
    ];
    const buckets = flipRateByDiff(samples, [2, 4, 6, 8, 30], { ties: 'half' });
    // diff 2: a15-a17 flip, a17-a19 ok; diff 4: a15-a19 ok, b15-b19 tie (0.5);
    // diff 6: a19-a25 flip; diff 8: a17-a25 ok; diff 10: a15-a25 (not asked); diff 30: none
    expect(buckets).toEqual([
      { diff: 2, pairs: 2, flips: 1, rate: 0.5 },
      { diff: 4, pairs: 2, flips: 0.5, rate: 0.25 },
      { diff: 6, pairs: 1, flips: 1, rate: 1 },
      { diff: 8, pairs: 1, flips: 0, rate: 0 },
      { diff: 30, pairs: 0, flips: 0, rate: null },
    ]);
  });
});

describe('bad input', () => {
  it('reports when there is nothing to compare', () => {
    const call = () => flipRate(ladder('a', [20, 20], [1, 2]));
    expect(call).toThrow(MetricError);
    expect(call).toThrow(/no pair of variants of one source with different levels among 2 samples/);
    expect(call).toThrow(expect.objectContaining({ code: 'E_NO_PAIRS' }));
    expect(() => flipRate([])).toThrow(expect.objectContaining({ code: 'E_NO_PAIRS' }));
  });

  it('names the sample holding a NaN', () => {
    const samples = [
      ...ladder('a', [15, 17], [1, 2]),
      { sourceId: 'a', level: 19, score: Number.NaN },
    ];
    expect(() => flipRate(samples)).toThrow(/samples\[2\]\.score is NaN/);
    expect(() => flipRateByDiff([{ sourceId: 'a', level: Infinity, score: 1 }])).toThrow(
      expect.objectContaining({ code: 'E_NOT_FINITE' }),
    );
  });

  it('rejects bad options and malformed samples', () => {
    const samples = ladder('a', [15, 17], [1, 2]);
    expect(() => flipRate(samples, { ties: 'drop' as never })).toThrow(
      /ties must be one of "flip", "half", "ignore", got "drop"/,
    );
    expect(() => flipRateByDiff(samples, [2, -4])).toThrow(
      /diffs\[1\] must be a positive finite number, got -4/,
    );
    expect(() => flipRate([{ level: 1, score: 2 } as never])).toThrow(
      /samples\[0\]\.sourceId must be a string or a number/,
    );
    expect(() => flipRate('abc' as never)).toThrow(
      expect.objectContaining({ code: 'E_INVALID_ARGUMENT' }),
    );
  });
});
