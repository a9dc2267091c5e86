import { describe, expect, it } from 'vitest';
import { RuntimeArgumentError } from './errors.js';
import { createRng } from './rng.js';

describe('createRng', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const sa = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(sa);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(sa);
    expect(createRng(2 ** 40).next()).not.toBe(createRng(0).next());
  });

  it('next() is uniform in [0, 1): mean ≈ 1/2, variance ≈ 1/12', () => {
    const rng = createRng(1);
    const n = 20000;
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < n; i++) {
      const x = rng.next();
      expect(x >= 0 && x < 1).toBe(true);
      sum += x;
      sq += x * x;
    }
    const mean = sum / n;
    expect(mean).toBeCloseTo(0.5, 1);
    expect(sq / n - mean * mean).toBeCloseTo(1 / 12, 2);
  });

  it('normal() has mean ≈ 0 and variance ≈ 1', () => {
    const rng = createRng(7);
    const n = 20000;
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < n; i++) {
      const x = rng.normal();
      sum += x;
      sq += x * x;
    }
    expect(Math.abs(sum / n)).toBeLessThan(0.03);
    expect(Math.abs(sq / n - 1)).toBeLessThan(0.05);
  });

  it('int() covers [0, max) evenly and shuffle() permutes', () => {
    const rng = createRng(3);
    const counts = new Array<number>(5).fill(0);
    for (let i = 0; i < 5000; i++) counts[rng.int(5)]++;
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(120);
    const items = Array.from({ length: 20 }, (_, i) => i);
    const shuffled = rng.shuffle([...items]);
    expect([...shuffled].sort((x, y) => x - y)).toEqual(items);
    expect(shuffled).not.toEqual(items);
  });

  it('getState/setState resume the exact sequence, including a pending normal deviate, through JSON', () => {
    const rng = createRng(99);
    rng.next();
    rng.normal(); // leaves a spare deviate cached
    const saved = JSON.parse(JSON.stringify(rng.getState())) as ReturnType<typeof rng.getState>;
    const expected = [rng.normal(), rng.next(), rng.int(1000), rng.normal()];
    const resumed = createRng(0);
    resumed.setState(saved);
    expect([resumed.normal(), resumed.next(), resumed.int(1000), resumed.normal()]).toEqual(expected);
  });

  it('rejects bad seeds, bounds and states', () => {
    expect(() => createRng(1.5)).toThrow(RuntimeArgumentError);
    expect(() => createRng(Number.NaN)).toThrow(/seed must be a finite integer, got NaN/);
    expect(() => createRng(1).int(0)).toThrow(/maxExclusive must be an integer in \[1, 2\^32\], got 0/);
    expect(() => createRng(1).setState({ algorithm: 'sfc32', s: [1, 2, 3] } as never)).toThrow(/setState: expected/);
  });
});
