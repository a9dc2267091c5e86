import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ffmpegBin, greyIndex, makeClip, rotateTag } from './__fixtures__/clips.js';
import { keyFrameIndices, probe, sampleKeyFrames, VideoIOError } from './index.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vio-sample-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function readIndices(frames: Uint8Array, shape: number[]): number[] {
  const frameBytes = shape[1] * shape[2] * 3;
  return Array.from({ length: shape[0] }, (_, j) => greyIndex(frames, frameBytes, j));
}

describe('keyFrameIndices', () => {
  it('takes the centre of each of M equal parts', () => {
    expect(keyFrameIndices(20, 8)).toEqual([1, 3, 6, 8, 11, 13, 16, 18]);
    expect(keyFrameIndices(100, 4)).toEqual([12, 37, 62, 87]);
    expect(keyFrameIndices(1, 3)).toEqual([0, 0, 0]);
    expect(keyFrameIndices(3, 8)).toEqual([0, 0, 0, 1, 1, 2, 2, 2]);
  });

  it('rejects bad counts', () => {
    expect(() => keyFrameIndices(10, 0)).toThrow(VideoIOError);
    expect(() => keyFrameIndices(10, 0)).toThrow(/m must be an integer ≥ 1, got 0/);
    expect(() => keyFrameIndices(0, 2)).toThrow(/frameCount must be an integer ≥ 1, got 0/);
  });
});

describe('sampleKeyFrames', () => {
  it.each(['select', 'seek'] as const)('returns the documented frames (%s)', async (strategy) => {
    const clip = makeClip(join(dir, `index-${strategy}.mp4`), {
      width: 64,
      height: 48,
      frames: 30,
    });
    const keyFrames = await sampleKeyFrames(clip, { m: 8, strategy });
    expect(keyFrames.shape).toEqual([8, 48, 64, 3]);
    expect(keyFrames.frames.length).toBe(8 * 48 * 64 * 3);
    expect(keyFrames.indices).toEqual(keyFrameIndices(30, 8));
    expect(readIndices(keyFrames.frames, keyFrames.shape)).toEqual(keyFrames.indices);
    expect(keyFrames.timestamps.map((t) => Math.round(t * 10))).toEqual(keyFrames.indices);
  });

  it('repeats frames when the video has fewer than M', async () => {
    const clip = makeClip(join(dir, 'short.mp4'), { width: 64, height: 48, frames: 3 });
    const keyFrames = await sampleKeyFrames(clip, { m: 8 });
    expect(keyFrames.indices).toEqual([0, 0, 0, 1, 1, 2, 2, 2]);
    expect(readIndices(keyFrames.frames, keyFrames.shape)).toEqual(keyFrames.indices);
  });

  it('handles sizes, odd dimensions and containers without a frame count', async () => {
    for (const [width, height] of [
      [320, 240],
      [96, 160],
    ]) {
      const clip = makeClip(join(dir, `size-${width}x${height}.mp4`), {
        width,
        height,
        frames: 10,
      });
      const keyFrames = await sampleKeyFrames(clip, { m: 2 });
      expect(keyFrames.shape).toEqual([2, height, width, 3]);
    }
    const odd = makeClip(join(dir, 'odd.mkv'), {
      width: 33,
      height: 17,
      frames: 12,
      sourceFormat: 'yuv444p',
      encode: ['-c:v', 'ffv1', '-pix_fmt', 'yuv444p'],
    });
    const info = await probe(odd);
    expect(info.frameCount).toBe(12); // counted packets: Matroska stores no count
    const keyFrames = await sampleKeyFrames(odd, { m: 3 });
    expect(keyFrames.shape).toEqual([3, 17, 33, 3]);
    expect(readIndices(keyFrames.frames, keyFrames.shape)).toEqual([2, 6, 10]);
  });

  it('applies the display rotation like ffmpeg does', async () => {
    const upright = makeClip(join(dir, 'upright.mp4'), {
      width: 64,
      height: 48,
      frames: 10,
      pattern: 'testsrc2',
    });
    const rotated = rotateTag(upright, join(dir, 'rotated.mp4'), 90);
    const info = await probe(rotated);
    expect([90, 270]).toContain(info.rotation);
    expect(info.outputSize).toEqual([64, 48]);
    expect(info.displayAspect).toBeCloseTo(0.75);
    const keyFrames = await sampleKeyFrames(rotated, { m: 1 });
    expect(keyFrames.shape).toEqual([1, 64, 48, 3]);
    // ffmpeg's own autorotated decode of the same frame
    const reference = execFileSync(ffmpegBin(), [
      '-v',
      'error',
      '-i',
      `file:${rotated}`,
      '-vf',
      `select='eq(n,${keyFrames.indices[0]})'`,
      '-vsync',
      '0',
      '-frames:v',
      '1',
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      '-',
    ]);
    expect(reference.length).toBe(keyFrames.frames.length);
    let diff = 0;
    for (let i = 0; i < reference.length; i++) diff += Math.abs(reference[i] - keyFrames.frames[i]);
    expect(diff / reference.length).toBeLessThan(12); // colour conversions differ slightly (BT.601 default, chroma filter)
    // the comparison tells orientations apart: the same frame turned the other way is far off
    let wrongWay = 0;
    for (let y = 0; y < 64; y++) {
      for (let x = 0; x < 48; x++) {
        for (let c = 0; c < 3; c++)
          wrongWay += Math.abs(
            reference[((63 - y) * 48 + (47 - x)) * 3 + c] - keyFrames.frames[(y * 48 + x) * 3 + c],
          );
      }
    }
    expect(wrongWay / reference.length).toBeGreaterThan(30);
  });

  it('stretches non-square pixels to square ones', async () => {
    const clip = makeClip(join(dir, 'anamorphic.mp4'), {
      width: 32,
      height: 48,
      frames: 4,
      filters: ['setsar=2/1'],
    });
    const info = await probe(clip);
    expect(info.sampleAspect).toEqual([2, 1]);
    expect(info.outputSize).toEqual([48, 64]);
    const keyFrames = await sampleKeyFrames(clip, { m: 2 });
    expect(keyFrames.shape).toEqual([2, 48, 64, 3]);
    expect(readIndices(keyFrames.frames, keyFrames.shape)).toEqual(keyFrames.indices);
  });

  it('converts 10-bit video to 8 bits', async () => {
    const clip = makeClip(join(dir, 'ten-bit.mp4'), {
      width: 64,
      height: 48,
      frames: 20,
      encode: ['-c:v', 'libx264', '-qp', '0', '-pix_fmt', 'yuv420p10le'],
    });
    const info = await probe(clip);
    expect(info.bitDepth).toBe(10);
    expect(info.hdr).toBe(false);
    const keyFrames = await sampleKeyFrames(clip, { m: 4 });
    expect(keyFrames.shape).toEqual([4, 48, 64, 3]);
    expect(readIndices(keyFrames.frames, keyFrames.shape)).toEqual(keyFrames.indices);
  });

  it('tone-maps HDR (PQ) video to 8-bit SDR', async () => {
    const clip = makeClip(join(dir, 'hdr.mp4'), {
      width: 64,
      height: 48,
      frames: 6,
      pattern: 'testsrc2',
      encode: [
        '-c:v',
        'libx265',
        '-x265-params',
        'log-level=error',
        '-pix_fmt',
        'yuv420p10le',
        '-color_trc',
        'smpte2084',
        '-color_primaries',
        'bt2020',
        '-colorspace',
        'bt2020nc',
      ],
    });
    const info = await probe(clip);
    expect(info).toMatchObject({
      hdr: true,
      bitDepth: 10,
      colorTransfer: 'smpte2084',
      colorPrimaries: 'bt2020',
    });
    const keyFrames = await sampleKeyFrames(clip, { m: 2 });
    expect(keyFrames.shape).toEqual([2, 48, 64, 3]);
    const mean = keyFrames.frames.reduce((a, b) => a + b, 0) / keyFrames.frames.length;
    expect(mean).toBeGreaterThan(20);
    expect(mean).toBeLessThan(235);
    expect(Math.max(...keyFrames.frames) - Math.min(...keyFrames.frames)).toBeGreaterThan(100);
  });

  it.each(['select', 'seek'] as const)(
    'indexes variable-frame-rate video by frame, not time (%s)',
    async (strategy) => {
      const clip = makeClip(join(dir, `vfr-${strategy}.mp4`), {
        width: 64,
        height: 48,
        frames: 20,
        filters: ["setpts='N*N/(25*TB)'"],
        encode: ['-c:v', 'libx264', '-qp', '0', '-pix_fmt', 'yuv420p', '-vsync', 'passthrough'],
      });
      const info = await probe(clip);
      expect(info.variableFrameRate).toBe(true);
      expect(info.frameCount).toBe(20);
      const keyFrames = await sampleKeyFrames(clip, { m: 5, strategy });
      expect(keyFrames.indices).toEqual([2, 6, 10, 14, 18]);
      expect(readIndices(keyFrames.frames, keyFrames.shape)).toEqual(keyFrames.indices);
    },
  );
});
