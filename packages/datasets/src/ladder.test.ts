import { describe, expect, it } from 'vitest';
import { DatasetError } from './errors.js';
import { crfLevels, DEFAULT_CRF_RANGE, expandLadder, flipSamples, h264Recipes, isDistortedVariant, parseCrfRange, variantId } from './ladder.js';
import type { ManifestEntry } from './manifest.js';
import { assignPseudoMos, nonIncreasing, pseudoMosFromVmaf } from './pseudo-mos.js';

describe('CRF ladders', () => {
  it('defaults to the paper: H.264 CRF 15..53, 20 levels', () => {
    const levels = crfLevels(DEFAULT_CRF_RANGE);
    expect(levels).toHaveLength(20);
    expect(levels[0]).toBe(15);
    expect(levels[19]).toBe(53);
    expect(h264Recipes()[3]).toEqual({ kind: 'h264', crf: 21 });
  });

  it('parses --crf ranges and rejects bad ones', () => {
    expect(parseCrfRange('15:53:2')).toEqual({ from: 15, to: 53, step: 2 });
    expect(crfLevels(parseCrfRange('20:40:10'))).toEqual([20, 30, 40]);
    expect(crfLevels(parseCrfRange('23'))).toEqual([23]);
    expect(() => parseCrfRange('a:b')).toThrow(DatasetError);
    expect(() => parseCrfRange('a:b')).toThrow(/crf must look like 15:53:2, got 'a:b'/);
    expect(() => parseCrfRange('40:20:2')).toThrow(/0 ≤ from ≤ to ≤ 63 and step > 0, got 40:20:2/);
  });

  it('expands a source into level 0 plus one entry per recipe', () => {
    const src: ManifestEntry = { id: 'c', path: 'c.mp4', sourceId: 'c', mos: { value: 4, original: 75, scale: '0-100' } };
    const ladder = expandLadder(src, h264Recipes({ from: 20, to: 30, step: 5 }), (r) => `v/${variantId('c', r)}.mp4`);
    expect(ladder.map((e) => [e.id, e.variant?.level, e.path])).toEqual([
      ['c', 0, 'c.mp4'],
      ['c~h264-crf20', 1, 'v/c~h264-crf20.mp4'],
      ['c~h264-crf25', 2, 'v/c~h264-crf25.mp4'],
      ['c~h264-crf30', 3, 'v/c~h264-crf30.mp4'],
    ]);
    expect(ladder[0].mos).toBeDefined();
    expect(ladder[1].mos).toBeUndefined();
  });
});

describe('pseudo-MOS', () => {
  it('maps VMAF onto the source MOS: 100 → anchor, 0 → 1', () => {
    expect(pseudoMosFromVmaf(100, 4)).toBe(4);
    expect(pseudoMosFromVmaf(0, 4)).toBe(1);
    expect(pseudoMosFromVmaf(50)).toBe(3);
    expect(pseudoMosFromVmaf(104)).toBe(5);
    expect(() => pseudoMosFromVmaf(50, 6)).toThrow(/anchor must be a MOS in \[1, 5\], got 6/);
  });

  it('fits a non-increasing sequence (pool adjacent violators)', () => {
    expect(nonIncreasing([5, 4, 4.5, 3, 3.2, 1])).toEqual([5, 4.25, 4.25, 3.1, 3.1, 1]);
    expect(nonIncreasing([3, 2, 1])).toEqual([3, 2, 1]);
  });

  const ladder: ManifestEntry[] = [
    { id: 's', path: 's', sourceId: 's', variant: { level: 0, recipe: { kind: 'original' } }, mos: { value: 4, original: 4, scale: '1-5' } },
    { id: 's2', path: 's2', sourceId: 's', variant: { level: 2, recipe: { kind: 'h264', crf: 30 } }, fullReference: { vmaf: 82 } },
    { id: 's1', path: 's1', sourceId: 's', variant: { level: 1, recipe: { kind: 'h264', crf: 20 } }, fullReference: { vmaf: 80 } },
    { id: 's3', path: 's3', sourceId: 's', variant: { level: 3, recipe: { kind: 'h264', crf: 40 } }, fullReference: { vmaf: 40 } },
  ];

  it('anchors each ladder on its source MOS and keeps the ladder order', () => {
    const out = assignPseudoMos(ladder);
    const v = Object.fromEntries(out.map((e) => [e.id, e.pseudoMos?.value]));
    expect(out[0].pseudoMos).toBeUndefined();
    expect(v.s1).toBeCloseTo(1 + 3 * 0.81, 10);
    expect(v.s2).toBeCloseTo(1 + 3 * 0.81, 10);
    expect(v.s3).toBeCloseTo(1 + 3 * 0.4, 10);
    expect(out[1].pseudoMos).toMatchObject({ method: 'vmaf-anchored', anchor: 4 });
    const raw = assignPseudoMos(ladder, { monotone: false });
    expect(raw.find((e) => e.id === 's2')!.pseudoMos!.value).toBeCloseTo(1 + 3 * 0.82, 10);
  });

  it('order-only carries no value; vmaf without scores is an error naming the entry', () => {
    const out = assignPseudoMos(ladder, { method: 'order-only' });
    expect(out[1].pseudoMos).toEqual({ method: 'order-only' });
    const noVmaf = [{ ...ladder[1], fullReference: {} }];
    expect(() => assignPseudoMos(noVmaf)).toThrow(/'s2' has no fullReference\.vmaf/);
  });
});

describe('flipSamples', () => {
  const original = (ref: string): ManifestEntry => ({ id: ref, path: `${ref}.mp4`, sourceId: 'src', referenceId: ref, variant: { level: 0, recipe: { kind: 'original' } } });
  const h264 = (ref: string, level: number, crf?: number): ManifestEntry => ({
    id: `${ref}~${level}`,
    path: `${ref}~${level}.mp4`,
    sourceId: 'src',
    referenceId: ref,
    variant: { level, recipe: crf === undefined ? { kind: 'h264' } : { kind: 'h264', crf } },
  });

  it('keys ladders by segment and kind, measures in CRF, and leaves out originals and lone variants', () => {
    const scored: { entry: ManifestEntry; score: number }[] = [
      { entry: original('a'), score: 5 },
      { entry: h264('a', 1, 15), score: 4 },
      { entry: h264('a', 3, 19), score: 3 },
      { entry: h264('b', 2, 17), score: 2 }, // alone in its ladder
      { entry: { ...h264('a', 1, 15), id: 'a~blur', variant: { level: 1, recipe: { kind: 'blur', crf: 15 } } }, score: 1 },
      { entry: { id: 'plain', path: 'plain.mp4', sourceId: 'src' }, score: 0 },
    ];
    const { unit, samples } = flipSamples(scored);
    expect(unit).toBe('crf');
    expect(scored.map(({ entry }) => isDistortedVariant(entry))).toEqual([false, true, true, true, true, false]);
    expect(samples).toEqual([
      { sourceId: 'a\u0000h264', level: 15, score: 4 },
      { sourceId: 'a\u0000h264', level: 19, score: 3 },
    ]);
  });

  it('falls back to ladder levels when a variant has no CRF', () => {
    const { unit, samples } = flipSamples([
      { entry: h264('a', 1, 15), score: 4 },
      { entry: h264('a', 2), score: 3 },
    ]);
    expect(unit).toBe('level');
    expect(samples.map((s) => s.level)).toEqual([1, 2]);
  });
});
