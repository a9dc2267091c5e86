import { describe, expect, it } from 'vitest';
import { DatasetError } from './errors.js';
import type { ManifestEntry } from './manifest.js';
import { assertNoSourceLeak, assignSplits, splitBySource } from './splits.js';

function ladderEntries(sources: number, levels: number): ManifestEntry[] {
  const out: ManifestEntry[] = [];
  for (let s = 0; s < sources; s++) {
    for (let l = 0; l <= levels; l++) {
      out.push({ id: `s${s}~${l}`, path: `s${s}/${l}.mp4`, sourceId: `s${s}`, variant: { level: l, recipe: { kind: l === 0 ? 'original' : 'h264', ...(l ? { crf: 13 + 2 * l } : {}) } } });
    }
  }
  return out;
}

describe('splitBySource', () => {
  const entries = ladderEntries(50, 5);

  it('never puts one source in two splits', () => {
    for (const seed of [0, 1, 2, 3, 99]) {
      const split = splitBySource(entries, { seed });
      expect(() => assertNoSourceLeak(split)).not.toThrow();
      const bySource = new Map<string, Set<string>>();
      for (const e of split) bySource.set(e.sourceId, (bySource.get(e.sourceId) ?? new Set()).add(e.split!));
      for (const splits of bySource.values()) expect(splits.size).toBe(1);
    }
  });

  it('is reproducible for a seed, independent of input order, and follows the ratios', () => {
    const a = splitBySource(entries, { seed: 5 });
    const b = splitBySource([...entries].reverse(), { seed: 5 });
    const mapA = new Map(a.map((e) => [e.id, e.split]));
    for (const e of b) expect(e.split).toBe(mapA.get(e.id));
    const c = splitBySource(entries, { seed: 6 });
    expect(c.map((e) => e.split)).not.toEqual(a.map((e) => e.split));
    const sourcesIn = (name: string) => new Set(a.filter((e) => e.split === name).map((e) => e.sourceId)).size;
    expect([sourcesIn('train'), sourcesIn('val'), sourcesIn('test')]).toEqual([40, 5, 5]);
  });

  it('gives every non-empty split a source when there are few sources', () => {
    const split = splitBySource(ladderEntries(3, 1), { seed: 1 });
    expect(new Set(split.map((e) => e.split))).toEqual(new Set(['train', 'val', 'test']));
    const two = splitBySource(ladderEntries(4, 1), { seed: 1, ratios: { train: 0.5, val: 0, test: 0.5 } });
    expect(new Set(two.map((e) => e.split))).toEqual(new Set(['train', 'test']));
  });

  it('rejects bad ratios', () => {
    expect(() => splitBySource(entries, { seed: 1, ratios: { train: 0.8, val: 0.1, test: 0.2 } })).toThrow(DatasetError);
    expect(() => splitBySource(entries, { seed: 1, ratios: { train: 0.8, val: 0.1, test: 0.2 } })).toThrow(/ratios must sum to 1, got 1.1/);
    expect(() => splitBySource(entries, { seed: 1, ratios: { train: 1.1, val: -0.1, test: 0 } })).toThrow(/ratios\.val must be a non-negative number/);
  });
});

describe('assignSplits', () => {
  it('puts the named sources in test and val, every other source in train, whole ladders at a time', () => {
    const entries = ladderEntries(6, 3);
    const split = assignSplits(entries, { test: ['s4', 's1'], val: ['s0'] });
    expect(split.map((e) => e.id)).toEqual(entries.map((e) => e.id));
    const bySource = new Map(split.map((e) => [e.sourceId, e.split]));
    expect(Object.fromEntries(bySource)).toEqual({ s0: 'val', s1: 'test', s2: 'train', s3: 'train', s4: 'test', s5: 'train' });
    expect(() => assertNoSourceLeak(split)).not.toThrow();
    // Adding sources leaves the held-out ones where they were (a seeded split would reshuffle).
    const more = assignSplits(ladderEntries(9, 3), { test: ['s4', 's1'], val: ['s0'] });
    expect(more.filter((e) => e.split !== 'train').map((e) => e.sourceId)).toEqual(split.filter((e) => e.split !== 'train').map((e) => e.sourceId));
  });

  it('names a source no entry has, and one listed twice', () => {
    const entries = ladderEntries(3, 1);
    expect(() => assignSplits(entries, { test: ['s9'] })).toThrow(DatasetError);
    expect(() => assignSplits(entries, { test: ['s9'] })).toThrow(/test sources: no entry has sourceId 's9' \(known: s0, s1, s2\)/);
    expect(() => assignSplits(entries, { test: ['s1'], val: ['s1'] })).toThrow(/val sources: 's1' is already in test/);
  });
});

describe('assertNoSourceLeak', () => {
  it('names the leaking source and both splits', () => {
    const leak: ManifestEntry[] = [
      { id: 'a1', path: 'a1', sourceId: 'a', split: 'train' },
      { id: 'a2', path: 'a2', sourceId: 'a', split: 'test' },
    ];
    expect(() => assertNoSourceLeak(leak)).toThrow(DatasetError);
    expect(() => assertNoSourceLeak(leak)).toThrow(/source 'a' is in two splits: 'train' \(a1\) and 'test' \(a2\)/);
  });
});
