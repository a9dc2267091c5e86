import { describe, expect, it } from 'vitest';
import { DatasetError } from './errors.js';
import { Prng, hashString, mixSeed } from './prng.js';
import { denormalizeMos, getMosScale, mosLevel, normalizeMos } from './mos-scale.js';

describe('Prng', () => {
  it('is reproducible and resumable from its state', () => {
    const a = new Prng(42);
    const first = [a.next(), a.next(), a.next()];
    expect(new Prng(42).next()).toBe(first[0]);
    const saved = a.state;
    const rest = [a.next(), a.next()];
    const b = Prng.fromState(saved);
    expect([b.next(), b.next()]).toEqual(rest);
    expect(new Prng(43).next()).not.toBe(first[0]);
  });

  it('draws roughly uniform integers and shuffles into a permutation', () => {
    const p = new Prng(7);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) counts[p.int(4)] += 1;
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(120);
    const s = p.shuffle([1, 2, 3, 4, 5, 6]);
    expect([...s].sort()).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('rejects bad arguments', () => {
    expect(() => new Prng(Number.NaN)).toThrow(DatasetError);
    expect(() => new Prng(1).int(0)).toThrow(/n must be a positive integer, got 0/);
  });

  it('mixes seeds order-sensitively and hashes strings stably', () => {
    expect(mixSeed(1, 2)).not.toBe(mixSeed(2, 1));
    expect(hashString('abc')).toBe(hashString('abc'));
    expect(hashString('abc')).not.toBe(hashString('abd'));
  });
});

describe('MOS scales', () => {
  it('maps every known scale linearly onto 1–5 and back', () => {
    expect(normalizeMos(0, '0-100')).toBe(1);
    expect(normalizeMos(100, '0-100')).toBe(5);
    expect(normalizeMos(62.5, '0-100')).toBe(3.5);
    expect(normalizeMos(3.2, '1-5')).toBeCloseTo(3.2, 12);
    expect(normalizeMos(0.5, '0-1')).toBe(3);
    expect(denormalizeMos(3.5, '0-100')).toBe(62.5);
  });

  it('rejects unknown scales and out-of-range values', () => {
    expect(() => getMosScale('1-10')).toThrow(DatasetError);
    expect(() => getMosScale('1-10')).toThrow(/unknown MOS scale '1-10'/);
    expect(() => normalizeMos(120, '0-100')).toThrow(/MOS 120 is outside the scale 0-100/);
  });

  it('names ACR levels', () => {
    expect([1, 2, 3, 4, 5].map(mosLevel)).toEqual(['bad', 'poor', 'fair', 'good', 'excellent']);
  });
});
