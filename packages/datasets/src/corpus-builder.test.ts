import { existsSync, readdirSync, statSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeClip } from './__fixtures__/clips.js';
import { sourcesDir, vmafModel } from './__fixtures__/paths.js';
import { buildCorpus, readVariantTimings, type CorpusProgress } from './corpus-builder.js';
import { DescriptionStore } from './descriptions.js';
import { DatasetError } from './errors.js';
import { h264Recipes } from './ladder.js';
import { readManifestCsv, readManifestJsonl, type ManifestEntry } from './manifest.js';
import { assertNoSourceLeak } from './splits.js';

const ladder = h264Recipes({ from: 20, to: 44, step: 12 }); // CRF 20, 32, 44
const hasVmaf = existsSync(vmafModel);

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? walk(join(dir, d.name)) : [join(dir, d.name)]));
}

describe('buildCorpus', () => {
  let root: string;
  let sources: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'vqlm-corpus-'));
    sources = join(root, 'sources');
    await mkdir(sources);
    makeClip(join(sources, 'pattern.mp4'), { seconds: 2 });
    makeClip(join(sources, 'fractal.mp4'), { seconds: 1, pattern: 'mandelbrot' });
    // a truncated clip: the first half of an mp4 whose index (moov) is at the end
    makeClip(join(root, 'whole.mp4'), { seconds: 2 });
    const whole = await readFile(join(root, 'whole.mp4'));
    await writeFile(join(sources, 'broken.mp4'), whole.subarray(0, Math.floor(whole.length / 2)));
    await writeFile(join(sources, 'notes.txt'), 'not a video');
  });
  afterAll(async () => rm(root, { recursive: true, force: true }));

  it('cuts segments, makes ladders, scores them, writes manifest and descriptions; skips a corrupt clip', async () => {
    const out = join(root, 'out');
    const events: CorpusProgress[] = [];
    const result = await buildCorpus({
      sources,
      out,
      ladder,
      segmentSeconds: 1,
      concurrency: 2,
      ...(hasVmaf ? { vmafModel } : {}),
      onProgress: (e) => events.push(e),
    });
    expect(result.skipped).toHaveLength(1);
    expect(result.skipped[0].source).toMatch(/broken\.mp4$/);
    expect(result.failed).toEqual([]);
    expect(result.segments).toBe(3); // pattern: 2 × 1 s, fractal: 1 × 1 s
    expect(result.variants).toBe(9);
    expect(result.built).toBe(12);
    expect(result.reused).toBe(0);

    const manifest = await readManifestJsonl(result.manifestPath);
    expect(manifest).toEqual(result.entries);
    expect(await readManifestCsv(result.manifestCsvPath)).toEqual(manifest);
    expect(manifest.map((e) => e.id).slice(0, 4)).toEqual([
      'fractal-s00',
      'fractal-s00~h264-crf20',
      'fractal-s00~h264-crf32',
      'fractal-s00~h264-crf44',
    ]);
    for (const e of manifest) expect(statSync(join(out, e.path)).size).toBeGreaterThan(0);
    assertNoSourceLeak(manifest);

    const bySegment = new Map<string, ManifestEntry[]>();
    for (const e of manifest.filter((x) => x.variant!.level > 0)) {
      bySegment.set(e.referenceId!, [...(bySegment.get(e.referenceId!) ?? []), e]);
      expect(e.variant!.recipe.ffmpegArgs).toContain('-crf');
      expect(e.fullReference!.psnr).toBeGreaterThan(15);
    }
    expect([...bySegment.keys()].sort()).toEqual(['fractal-s00', 'pattern-s00', 'pattern-s01']);
    for (const variants of bySegment.values()) {
      const psnr = variants.map((v) => v.fullReference!.psnr!);
      expect(psnr[0]).toBeGreaterThan(psnr[2]);
      const pseudo = variants.map((v) => v.pseudoMos!.value);
      if (hasVmaf) {
        expect(result.pseudoMosMethod).toBe('vmaf-anchored');
        expect(pseudo[0]!).toBeGreaterThanOrEqual(pseudo[1]!);
        expect(pseudo[1]!).toBeGreaterThanOrEqual(pseudo[2]!);
        expect(variants[0].fullReference!.vmaf!).toBeGreaterThan(variants[2].fullReference!.vmaf!);
      } else {
        expect(pseudo.every((p) => p === undefined)).toBe(true);
      }
    }

    const store = await DescriptionStore.load(result.descriptionsPath);
    expect(store.size).toBe(12);
    expect(store.get('pattern-s00~h264-crf44')!.text).toMatch(/^Its content is not labelled\. Its style is not labelled\. Technically, it was re-encoded with H\.264 at CRF 44; /);
    expect(store.get('pattern-s00')!.text).toMatch(/it is the unaltered source clip\.$/);

    const report = JSON.parse(await readFile(result.reportPath, 'utf8'));
    expect(report.skipped[0].reason).toMatch(/broken\.mp4/);
    expect(walk(out).filter((f) => /\.tmp-|\.work/.test(f))).toEqual([]);

    const variantEvents = events.filter((e) => e.phase === 'variant');
    expect(variantEvents.map((e) => e.done)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(variantEvents.at(-1)!.etaMs).toBe(0);
    expect((await readVariantTimings(out)).length).toBe(9);
  });

  it('resumes after an abort without rebuilding finished items', async () => {
    const out = join(root, 'resume');
    const controller = new AbortController();
    let variantsDone = 0;
    const first = buildCorpus({
      sources,
      out,
      ladder,
      segmentSeconds: 1,
      concurrency: 1,
      signal: controller.signal,
      onProgress: (e) => {
        if (e.phase === 'variant' && ++variantsDone === 4) controller.abort();
      },
    });
    await expect(first).rejects.toThrow(DatasetError);
    await expect(first).rejects.toMatchObject({ code: 'E_ABORTED' });
    await expect(first).rejects.toThrow(/aborted; run again with the same out/);
    expect(existsSync(join(out, 'manifest.jsonl'))).toBe(false);
    expect(walk(out).filter((f) => /\.tmp-|\.work/.test(f))).toEqual([]);
    const records = readdirSync(join(out, 'records'));
    expect(records.filter((r) => r.includes('~'))).toHaveLength(4);
    const kept = join(out, 'variants', 'fractal-s00~h264-crf20.mp4');
    const keptMtime = statSync(kept).mtimeMs;

    const second = await buildCorpus({ sources, out, ladder, segmentSeconds: 1, concurrency: 1 });
    expect(second.reused).toBe(3 + 4);
    expect(second.built).toBe(5);
    expect(second.variants).toBe(9);
    expect(statSync(kept).mtimeMs).toBe(keptMtime);

    const third = await buildCorpus({ sources, out, ladder, segmentSeconds: 1, concurrency: 1 });
    expect(third.built).toBe(0);
    expect(third.entries.map((e) => e.id)).toEqual(second.entries.map((e) => e.id));
  });

  it('rebuilds an item whose record is missing or whose video vanished', async () => {
    const out = join(root, 'partial');
    await buildCorpus({ sources: [join(sources, 'fractal.mp4')], out, ladder, segmentSeconds: 1 });
    await rm(join(out, 'records', 'fractal-s00~h264-crf32.json'));
    await rm(join(out, 'variants', 'fractal-s00~h264-crf44.mp4'));
    const again = await buildCorpus({ sources: [join(sources, 'fractal.mp4')], out, ladder, segmentSeconds: 1 });
    expect(again.built).toBe(2);
    expect(again.reused).toBe(2);
  });

  it('builds a two-level ladder from a real clip', async () => {
    const out = join(root, 'real');
    const src = join(root, 'real-src');
    await mkdir(src);
    await copyFile(join(sourcesDir, 'realshort.mp4'), join(src, 'realshort.mp4'));
    const result = await buildCorpus({
      sources: src,
      out,
      ladder: h264Recipes({ from: 23, to: 45, step: 22 }),
      segmentSeconds: 4,
      sourceLabels: { 'realshort.mp4': { content: 'an indoor plant by a window', style: 'live-action footage' } },
      ...(hasVmaf ? { vmafModel } : {}),
    });
    expect(result.segments).toBe(1);
    const [, good, bad] = result.entries;
    expect(good.fullReference!.psnr!).toBeGreaterThan(bad.fullReference!.psnr!);
    expect(good.fullReference!.ssim!).toBeGreaterThan(bad.fullReference!.ssim!);
    if (hasVmaf) expect(good.fullReference!.vmaf!).toBeGreaterThan(bad.fullReference!.vmaf! + 5);
    expect(bad.description).toMatch(/^The video shows an indoor plant by a window\. Its style is live-action footage\./);
  });

  it('rejects bad options naming the argument', async () => {
    await expect(buildCorpus({ sources, out: join(root, 'x'), segmentSeconds: 0 })).rejects.toThrow(/segmentSeconds must be a positive number, got 0/);
    await expect(buildCorpus({ sources, out: join(root, 'x'), concurrency: 0 })).rejects.toThrow(/concurrency must be a positive integer, got 0/);
    await expect(buildCorpus({ sources, out: join(root, 'x'), vmafModel: join(root, 'nope.pkl') })).rejects.toThrow(/vmafModel: file not found/);
    await expect(buildCorpus({ sources: join(root, 'missing'), out: join(root, 'x') })).rejects.toThrow(/sources: cannot read directory/);
    const empty = join(root, 'empty');
    await mkdir(empty);
    await expect(buildCorpus({ sources: empty, out: join(root, 'x') })).rejects.toThrow(DatasetError);
    await expect(buildCorpus({ sources: empty, out: join(root, 'x') })).rejects.toThrow(/sources: no video files/);
    await expect(buildCorpus({ sources, out: join(root, 'x'), ladder: [{ kind: 'original' }] })).rejects.toThrow(/'original' is level 0/);
  });
});
