import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeClip } from './__fixtures__/clips.js';
import {
  contextView,
  patchLayout,
  pixelView,
  pixelViewSize,
  sampleKeyFrames,
  sampleViews,
  VideoIOError,
} from './index.js';

function image(
  m: number,
  h: number,
  w: number,
  pixel: (i: number, y: number, x: number, c: number) => number,
): { frames: Uint8Array; shape: number[] } {
  const frames = new Uint8Array(m * h * w * 3);
  for (let i = 0; i < m; i++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let c = 0; c < 3; c++) frames[((i * h + y) * w + x) * 3 + c] = pixel(i, y, x, c);
  return { frames, shape: [m, h, w, 3] };
}

describe('contextView', () => {
  it('resizes to size × size ignoring aspect', () => {
    const out = contextView(
      image(2, 48, 64, (i) => 40 + 100 * i),
      { size: 32 },
    );
    expect(out.shape).toEqual([2, 32, 32, 3]);
    expect(out.frames.subarray(0, 32 * 32 * 3).every((v) => v === 40)).toBe(true);
    expect(out.frames.subarray(32 * 32 * 3).every((v) => v === 140)).toBe(true);
    expect(contextView(image(1, 500, 300, () => 7)).shape).toEqual([1, 448, 448, 3]);
  });

  it('interpolates bilinearly with half-pixel centres when enlarging', () => {
    const out = contextView(
      image(1, 2, 2, (_i, _y, x) => (x === 0 ? 0 : 255)),
      { size: 4 },
    );
    expect(Array.from({ length: 4 }, (_, x) => out.frames[x * 3])).toEqual([0, 64, 191, 255]);
  });

  it('averages instead of aliasing when shrinking', () => {
    const stripes = image(1, 64, 64, (_i, _y, x) => (x % 2 === 0 ? 0 : 255));
    const out = contextView(stripes, { size: 16 });
    for (let x = 1; x < 15; x++)
      expect(Math.abs(out.frames[(8 * 16 + x) * 3] - 128)).toBeLessThanOrEqual(1);
    expect(contextView(stripes, { size: 64 }).frames).toEqual(stripes.frames);
  });

  it('rejects frames of the wrong shape', () => {
    expect(() => contextView({ frames: new Uint8Array(10), shape: [1, 2, 2, 3] })).toThrow(
      VideoIOError,
    );
    expect(() => contextView({ frames: new Uint8Array(10), shape: [1, 2, 2, 3] })).toThrow(
      /frames\.frames has 10 bytes but shape \[1, 2, 2, 3\] needs 12/,
    );
    expect(() => contextView({ frames: new Uint8Array(12), shape: [2, 2, 3] })).toThrow(
      /frames\.shape must be \[M, H, W, 3\].*got \[2, 2, 3\]/,
    );
    expect(() =>
      contextView(
        image(1, 2, 2, () => 0),
        { size: 0 },
      ),
    ).toThrow(/options\.size must be a positive integer, got 0/);
  });
});

describe('pixelViewSize', () => {
  it('fits landscape within 1080 wide × 540 high and portrait within 540 wide × 1080 high', () => {
    expect(pixelViewSize(1080, 1920)).toEqual([540, 960]);
    expect(pixelViewSize(2160, 3840)).toEqual([540, 960]);
    expect(pixelViewSize(1920, 1080)).toEqual([960, 540]);
    expect(pixelViewSize(1080, 2560)).toEqual([456, 1080]);
    expect(pixelViewSize(240, 320)).toEqual([540, 720]);
    expect(pixelViewSize(240, 320, [540, 1080], 224, false)).toEqual([240, 320]);
    expect(pixelViewSize(100, 100, [540, 1080], 224, false)).toEqual([224, 224]);
  });
});

describe('patchLayout', () => {
  it('puts 8 disjoint patches in a 2 × 4 grid of a 540 × 960 frame', () => {
    const { patches, overlapping } = patchLayout(540, 960, 224, 8);
    expect(overlapping).toBe(false);
    expect(patches).toEqual([
      { x: 8, y: 23 },
      { x: 248, y: 23 },
      { x: 488, y: 23 },
      { x: 728, y: 23 },
      { x: 8, y: 293 },
      { x: 248, y: 293 },
      { x: 488, y: 293 },
      { x: 728, y: 293 },
    ]);
  });

  it('uses a 4 × 2 grid for portrait frames', () => {
    const { patches, overlapping } = patchLayout(960, 540, 224, 8);
    expect(overlapping).toBe(false);
    expect(new Set(patches.map((p) => p.x)).size).toBe(2);
    expect(new Set(patches.map((p) => p.y)).size).toBe(4);
  });

  it('overlaps patches only when the frame is too small for K disjoint ones', () => {
    expect(patchLayout(540, 540, 224, 4).overlapping).toBe(false);
    const square = patchLayout(540, 540, 224, 8);
    expect(square.overlapping).toBe(true);
    for (const p of square.patches) {
      expect(p.x).toBeGreaterThanOrEqual(0);
      expect(p.y + 224).toBeLessThanOrEqual(540);
    }
  });
});

describe('pixelView', () => {
  it('cuts K patches from the aspect-kept resize', () => {
    const frames = image(2, 540, 960, (i, y, x, c) => (i * 50 + y + 3 * x + c) % 256);
    const view = pixelView(frames);
    expect(view.shape).toEqual([2, 8, 224, 224, 3]);
    expect(view.resized).toEqual([540, 960]);
    // a frame already at the fitted size is cut without resampling
    for (const [j, { x, y }] of view.patches.entries()) {
      for (const [py, px] of [
        [0, 0],
        [100, 223],
        [223, 5],
      ]) {
        const got = view.frames[(((1 * 8 + j) * 224 + py) * 224 + px) * 3 + 1];
        expect(got).toBe(frames.frames[((1 * 540 + y + py) * 960 + x + px) * 3 + 1]);
      }
    }
  });

  it('keeps aspect for portrait and small frames', () => {
    const portrait = pixelView(
      image(1, 64, 36, () => 9),
      { k: 8 },
    );
    expect(portrait.resized).toEqual([960, 540]);
    expect(portrait.shape).toEqual([1, 8, 224, 224, 3]);
    expect(portrait.frames.every((v) => v === 9)).toBe(true);
    const small = pixelView(
      image(1, 48, 64, () => 1),
      { k: 2, patch: 16, fit: [32, 64] },
    );
    expect(small.resized).toEqual([32, 43]);
    expect(small.shape).toEqual([1, 2, 16, 16, 3]);
  });

  it('rejects bad options and shapes', () => {
    expect(() => pixelView({ frames: new Uint8Array(3), shape: [1, 1, 1, 1, 3] })).toThrow(
      /frames\.shape must be \[M, H, W, 3\].*got \[1, 1, 1, 1, 3\]/,
    );
    expect(() =>
      pixelView(
        image(1, 4, 4, () => 0),
        { k: 0 },
      ),
    ).toThrow(/options\.k must be a positive integer, got 0/);
  });
});

/** Byte equality of large arrays (vitest's deep equality is slow on megabytes). */
function same(a: Uint8Array, b: Uint8Array): boolean {
  return (
    a.length === b.length &&
    Buffer.compare(
      Buffer.from(a.buffer, a.byteOffset, a.length),
      Buffer.from(b.buffer, b.byteOffset, b.length),
    ) === 0
  );
}

describe('sampleViews', () => {
  it('gives the same views as sampleKeyFrames + contextView + pixelView, from one decode', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vio-views-'));
    try {
      const clip = makeClip(join(dir, 'clip.mp4'), {
        width: 320,
        height: 180,
        frames: 3,
        pattern: 'testsrc2',
      });
      for (const strategy of ['select', 'seek'] as const) {
        const keyFrames = await sampleKeyFrames(clip, { m: 5, strategy });
        const views = await sampleViews(clip, {
          m: 5,
          strategy,
          context: { size: 64 },
          pixel: { k: 4 },
          keepFrames: true,
        });
        expect(views.indices).toEqual([0, 0, 1, 2, 2]);
        expect(same(views.frames!.frames, keyFrames.frames)).toBe(true);
        expect(views.context!.shape).toEqual([5, 64, 64, 3]);
        expect(same(views.context!.frames, contextView(keyFrames, { size: 64 }).frames)).toBe(true);
        const pixel = pixelView(keyFrames, { k: 4 });
        expect(views.pixel!.shape).toEqual([5, 4, 224, 224, 3]);
        expect(views.pixel!.patches).toEqual(pixel.patches);
        expect(same(views.pixel!.frames, pixel.frames)).toBe(true);
      }
      const contextOnly = await sampleViews(clip, { m: 2, pixel: false });
      expect(contextOnly.pixel).toBeUndefined();
      expect(contextOnly.frames).toBeUndefined();
      expect(contextOnly.context!.shape).toEqual([2, 448, 448, 3]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
