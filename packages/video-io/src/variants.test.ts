import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { greyIndex, makeClip, vmafModelPath } from './__fixtures__/clips.js';
import {
  blurLadder,
  cutSegment,
  fullReference,
  h264Ladder,
  makeVariants,
  noiseLadder,
  probe,
  sampleKeyFrames,
  scaleLadder,
  VideoIOError,
  vp9Ladder,
} from './index.js';

let dir: string;
let source: string;
const hasModel = existsSync(vmafModelPath);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vio-variants-'));
  source = makeClip(join(dir, 'source.mp4'), {
    width: 160,
    height: 120,
    frames: 10,
    pattern: 'testsrc2',
  });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ladders', () => {
  it("defaults to the paper's 20 H.264 CRF levels", () => {
    const ladder = h264Ladder();
    expect(ladder).toHaveLength(20);
    expect(ladder[0]).toEqual({ kind: 'h264', crf: 15 });
    expect(ladder[19]).toEqual({ kind: 'h264', crf: 53 });
    expect(vp9Ladder({ from: 20, to: 40, step: 10 }).map((s) => s.crf)).toEqual([20, 30, 40]);
  });

  it('rejects bad ladders', () => {
    expect(() => h264Ladder({ from: 30, to: 20, step: 2 })).toThrow(VideoIOError);
    expect(() => h264Ladder({ from: 30, to: 20, step: 2 })).toThrow(
      /h264Ladder: need finite from ≤ to and step > 0, got from=30 to=20 step=2/,
    );
    expect(() => blurLadder([0])).toThrow(/sigma must lie in \(0, 1024\], got 0/);
    expect(() => noiseLadder([1.5])).toThrow(/strength must be an integer in 1\.\.100, got 1\.5/);
    expect(() => scaleLadder([1])).toThrow(/factor must lie in \(0, 1\), got 1/);
  });
});

describe('makeVariants + fullReference', () => {
  it('writes a CRF ladder whose quality falls as CRF rises', async () => {
    const events: number[] = [];
    const variants = await makeVariants(source, {
      outDir: join(dir, 'h264'),
      ladder: h264Ladder({ from: 15, to: 51, step: 12 }),
      preset: 'ultrafast',
      onProgress: (e) => events.push(e.done),
    });
    expect(events).toEqual([1, 2, 3, 4]);
    expect(variants.map((v) => v.recipe.crf)).toEqual([15, 27, 39, 51]);
    expect(variants[1].path).toMatch(/source\.h264-crf27\.mp4$/);
    expect(variants[1].recipe.ffmpegArgs).toEqual(
      expect.arrayContaining(['-c:v', 'libx264', '-crf', '27']),
    );
    const scores = [];
    for (const variant of variants) {
      expect((await probe(variant.path)).frameCount).toBe(10);
      const result = await fullReference(variant.path, source, {
        vmafModel: hasModel ? vmafModelPath : undefined,
      });
      expect(result.frames).toBe(10);
      expect(result.psnr!.perFrame).toHaveLength(10);
      expect(result.ssim!.perFrame).toHaveLength(10);
      scores.push(result);
    }
    for (let i = 1; i < scores.length; i++) {
      expect(scores[i].psnr!.mean).toBeLessThan(scores[i - 1].psnr!.mean);
      expect(scores[i].ssim!.mean).toBeLessThan(scores[i - 1].ssim!.mean);
      if (hasModel) expect(scores[i].vmaf!.mean).toBeLessThan(scores[i - 1].vmaf!.mean);
    }
    if (hasModel) {
      expect(scores[0].vmaf!.mean).toBeGreaterThan(80);
      expect(scores[0].vmaf!.perFrame).toHaveLength(10);
    }
  });

  it('writes VP9, blur, noise and down-up scaling variants with exact recipes', async () => {
    const ladder = [
      ...vp9Ladder({ from: 40, to: 40, step: 1 }),
      ...blurLadder([2]),
      ...noiseLadder([20]),
      ...scaleLadder([0.5]),
    ];
    const variants = await makeVariants(source, { outDir: join(dir, 'mixed'), ladder });
    expect(variants.map((v) => v.path.split('/').pop())).toEqual([
      'source.vp9-crf40.webm',
      'source.blur-s2.mp4',
      'source.noise-n20.mp4',
      'source.scale-f0.5.mp4',
    ]);
    expect(variants[1].recipe).toMatchObject({ kind: 'blur', sigma: 2 });
    expect(variants[1].recipe.ffmpegArgs).toEqual(expect.arrayContaining(['-vf', 'gblur=sigma=2']));
    expect(variants[3].recipe.ffmpegArgs).toEqual(
      expect.arrayContaining(['-vf', 'scale=80:60:flags=bicubic,scale=160:120:flags=bicubic']),
    );
    for (const variant of variants) {
      const info = await probe(variant.path);
      expect([info.width, info.height, info.frameCount]).toEqual([160, 120, 10]);
      const { psnr, ssim } = await fullReference(variant.path, source, {
        metrics: ['psnr', 'ssim'],
      });
      expect(psnr!.mean).toBeLessThan(45);
      expect(ssim!.mean).toBeLessThan(0.995);
    }
  });

  it('scores identical files as perfect and skips VMAF without a model', async () => {
    const result = await fullReference(source, source, { metrics: ['psnr', 'ssim', 'vmaf'] });
    expect(result.psnr!.mean).toBe(100);
    expect(result.ssim!.perFrame.every((v) => v === 1)).toBe(true);
    expect(result.vmaf).toBeUndefined();
    expect(result.skipped).toEqual([expect.stringMatching(/^vmaf: no model given/)]);
  });

  it.runIf(hasModel)('reads a VMAF model from a path with spaces and filter syntax', async () => {
    const odd = join(dir, "model dir, [x]; it's");
    mkdirSync(odd);
    symlinkSync(vmafModelPath, join(odd, 'v.pkl'));
    symlinkSync(`${vmafModelPath}.model`, join(odd, 'v.pkl.model'));
    const result = await fullReference(source, source, {
      metrics: ['vmaf'],
      vmafModel: join(odd, 'v.pkl'),
    });
    expect(result.vmaf!.mean).toBeGreaterThan(95);
  });
});

describe('cutSegment', () => {
  it('cuts frame-exactly by re-encoding, or at key frames by stream copy', async () => {
    const indexed = makeClip(join(dir, 'indexed.mp4'), { width: 64, height: 48, frames: 20 });
    const out = await cutSegment(indexed, { start: 0.5, duration: 0.5, out: join(dir, 'cut.mp4') });
    const keyFrames = await sampleKeyFrames(out, { m: 5 });
    expect(keyFrames.info.frameCount).toBe(5);
    expect(keyFrames.indices.map((_, j) => greyIndex(keyFrames.frames, 48 * 64 * 3, j))).toEqual([
      5, 6, 7, 8, 9,
    ]);
    const copied = await cutSegment(indexed, {
      start: 0,
      duration: 1,
      out: join(dir, 'copy.mp4'),
      mode: 'copy',
    });
    expect((await probe(copied)).frameCount).toBe(10);
    await expect(
      cutSegment(indexed, { start: -1, duration: 1, out: join(dir, 'x.mp4') }),
    ).rejects.toThrow(/options\.start must be ≥ 0 seconds, got -1/);
  });
});
