import { describe, expect, it } from 'vitest';
import { DatasetError } from './errors.js';
import type { ManifestEntry } from './manifest.js';
import { PairSampler, type PairSamplerState, type SampleBatch, type SampleItem } from './pair-sampler.js';

function corpus(sources: number, levels: number): ManifestEntry[] {
  const out: ManifestEntry[] = [];
  for (let s = 0; s < sources; s++) {
    out.push({
      id: `s${s}`,
      path: `s${s}.mp4`,
      sourceId: `s${s}`,
      mos: { value: 2 + (s % 3), original: 2 + (s % 3), scale: '1-5' },
      variant: { level: 0, recipe: { kind: 'original' } },
    });
    for (let l = 1; l <= levels; l++) {
      out.push({
        id: `s${s}~${l}`,
        path: `s${s}~${l}.mp4`,
        sourceId: `s${s}`,
        variant: { level: l, recipe: { kind: 'h264', crf: 13 + 2 * l } },
        pseudoMos: { method: 'vmaf-anchored', value: 5 - (4 * l) / levels },
      });
    }
  }
  return out;
}

const key = (item: SampleItem) => (item.kind === 'single' ? `S:${item.entry.id}` : `P:${item.better.id}>${item.worse.id}`);
const keys = (batches: SampleBatch[]) => batches.map((b) => `${b.epoch}/${b.index}:${b.items.map(key).join(',')}`);

describe('PairSampler', () => {
  const entries = corpus(10, 6);
  const options = { batchSize: 8, pairRatio: 0.5, seed: 3 };

  it('mixes singles and pairs at the configured ratio in every batch', () => {
    const sampler = new PairSampler(entries, options);
    const epoch = [...sampler.restOfEpoch()];
    expect(epoch).toHaveLength(Math.ceil(entries.length / 8));
    for (const batch of epoch.slice(0, -1)) {
      expect(batch.items.filter((i) => i.kind === 'pair')).toHaveLength(4);
    }
    const quarter = new PairSampler(entries, { ...options, pairRatio: 0.25 });
    const items = [...quarter.restOfEpoch()].flatMap((b) => b.items);
    expect(items.filter((i) => i.kind === 'pair').length).toBe(Math.floor(entries.length * 0.25));
  });

  it('pairs two levels of one source, better = lower level, within the level spread', () => {
    const sampler = new PairSampler(entries, { ...options, pairRatio: 1, levelDifference: { min: 2, max: 3 } });
    const pairs = [...sampler.restOfEpoch()].flatMap((b) => b.items).filter((i) => i.kind === 'pair');
    expect(pairs.length).toBe(entries.length);
    const diffs = new Set<number>();
    for (const p of pairs) {
      expect(p.better.sourceId).toBe(p.worse.sourceId);
      expect(p.better.variant!.level).toBeLessThan(p.worse.variant!.level);
      expect(p.levelDifference).toBe(p.worse.variant!.level - p.better.variant!.level);
      diffs.add(p.levelDifference);
    }
    expect([...diffs].sort()).toEqual([2, 3]);
  });

  it('singles carry a MOS or a pseudo-MOS value', () => {
    const sampler = new PairSampler(entries, { ...options, pairRatio: 0 });
    const singles = [...sampler.restOfEpoch()].flatMap((b) => b.items);
    expect(new Set(singles.map(key)).size).toBe(entries.length);
  });

  it('is reproducible for a seed; epochs differ', () => {
    const a = new PairSampler(entries, options);
    const b = new PairSampler(entries, options);
    const epochA0 = keys([...a.restOfEpoch()]);
    expect(keys([...b.restOfEpoch()])).toEqual(epochA0);
    a.next();
    const epochA1 = keys([...a.restOfEpoch()]);
    expect(epochA1[1]).not.toEqual(epochA0[1]);
    const c = new PairSampler(entries, { ...options, seed: 4 });
    expect(keys([...c.restOfEpoch()])).not.toEqual(epochA0);
  });

  it('resumes mid-epoch at the exact position from a JSON state', () => {
    const full = new PairSampler(entries, options);
    const expected: SampleBatch[] = [];
    for (let i = 0; i < 14; i++) expected.push(full.next());
    const first = new PairSampler(entries, options);
    for (let i = 0; i < 5; i++) first.next();
    const saved = JSON.parse(JSON.stringify(first.state())) as PairSamplerState;
    expect(saved).toMatchObject({ version: 1, epoch: 0, batch: 5 });
    const resumed = PairSampler.resume(entries, options, saved);
    const rest: SampleBatch[] = [];
    for (let i = 0; i < 9; i++) rest.push(resumed.next());
    expect(keys(rest)).toEqual(keys(expected.slice(5)));
  });

  it('refuses a state from other entries or options', () => {
    const state = new PairSampler(entries, options).state();
    expect(() => PairSampler.resume(entries, { ...options, pairRatio: 0.3 }, state)).toThrow(DatasetError);
    expect(() => PairSampler.resume(entries.slice(1), options, state)).toThrow(/state was saved by a sampler with other entries or options/);
  });

  it('rejects bad options naming the argument', () => {
    expect(() => new PairSampler(entries, { ...options, batchSize: 0 })).toThrow(/batchSize must be a positive integer, got 0/);
    expect(() => new PairSampler(entries, { ...options, pairRatio: 1.5 })).toThrow(/pairRatio must be in \[0, 1\], got 1.5/);
    expect(() => new PairSampler(entries, { ...options, levelDifference: { min: 3, max: 2 } })).toThrow(/levelDifference must satisfy 1 ≤ min ≤ max/);
    expect(() => new PairSampler(entries, { ...options, levelDifference: { min: 7, max: 9 } })).toThrow(/no two variants of one source differ by 7..9 levels/);
    const unlabelled = entries.map((e) => ({ id: e.id, path: e.path, sourceId: e.sourceId, variant: e.variant }));
    expect(() => new PairSampler(unlabelled, options)).toThrow(/no entry has a MOS or pseudo-MOS value/);
    expect(() => new PairSampler(unlabelled, { ...options, pairRatio: 1 })).not.toThrow();
  });
});
