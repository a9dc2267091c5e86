import { describe, expect, it } from 'vitest';
import { coarseDataset, lcg } from './__fixtures__/data.js';
import { averageRanks, countInversions, countRankInversions, sortWithOrder } from './sort.js';

describe('radix sort of doubles', () => {
  // 500: the comparison-sort path for small inputs; 3000: the radix sort.
  it.each([500, 3000])(
    'matches a comparison sort on signed values of every magnitude, stably (n = %i)',
    (size) => {
      const next = lcg(5);
      const specials = [
        0,
        -0,
        1e-310,
        -1e-310,
        Number.MAX_VALUE,
        -Number.MAX_VALUE,
        1,
        -1,
        2.5,
        2.5,
      ];
      const random = Array.from(
        { length: size },
        () => Math.round((next() - 0.5) * 50) * 10 ** Math.floor(next() * 20 - 10),
      );
      const values = Float64Array.from([...specials, ...random]);
      const { order, sorted } = sortWithOrder(values);
      const expected = Array.from(values.keys()).sort((i, j) => values[i] - values[j] || i - j);
      expect(Array.from(order)).toEqual(expected);
      expect(Array.from(sorted)).toEqual(expected.map((i) => values[i] + 0));
    },
  );

  it('keeps a given initial order among equal values (lexicographic sorts)', () => {
    const values = Float64Array.from([2, 1, 2, 1, 2]);
    const initial = Uint32Array.from([4, 3, 2, 1, 0]);
    expect(Array.from(sortWithOrder(values, initial).order)).toEqual([3, 1, 4, 2, 0]);
  });

  it('average ranks share the mean rank of ties', () => {
    expect(Array.from(averageRanks(Float64Array.from([10, 20, 10, 30, 20, 10])))).toEqual([
      2, 4.5, 2, 6, 4.5, 2,
    ]);
  });
});

describe('countInversions', () => {
  it('equals the O(n²) count, ties not counted', () => {
    const { pred } = coarseDataset(700, 3);
    const a = Int32Array.from(pred);
    let expected = 0;
    for (let i = 0; i < a.length; i++)
      for (let j = i + 1; j < a.length; j++) if (a[i] > a[j]) expected++;
    const copy = a.slice();
    expect(countInversions(copy)).toBe(expected);
    expect(Array.from(copy)).toEqual(Array.from(a).sort((x, y) => x - y));
    expect(countInversions(Int32Array.from([5, 4, 3, 2, 1]))).toBe(10);
    // The Fenwick path (few distinct ranks) agrees; pred takes values -2..6 here.
    expect(
      countRankInversions(
        Int32Array.from(a, (v) => v + 2),
        9,
      ),
    ).toBe(expected);
    expect(countRankInversions(Int32Array.from([4, 3, 2, 1, 0]), 5)).toBe(10);
  });

  it('merge sort and Fenwick tree agree on a large input', () => {
    const next = lcg(17);
    const ranks = Int32Array.from({ length: 200_000 }, () => Math.floor(next() * 60_000));
    expect(countInversions(ranks.slice())).toBe(countRankInversions(ranks.slice(), 60_000));
  });
});
