import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeClip } from './__fixtures__/clips.js';
import { probe, resolveBinaries, sampleKeyFrames, VideoIOError } from './index.js';

let dir: string;
let clip: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vio-probe-'));
  clip = makeClip(join(dir, 'clip.mp4'), { width: 96, height: 64, frames: 15, rate: 25 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  delete process.env.VQLM_FFMPEG;
  delete process.env.VQLM_FFPROBE;
});

describe('probe', () => {
  it('reports the stream properties', async () => {
    const info = await probe(clip);
    expect(info).toMatchObject({
      path: clip,
      hasVideo: true,
      width: 96,
      height: 64,
      sampleAspect: [1, 1],
      rotation: 0,
      outputSize: [64, 96],
      fps: 25,
      variableFrameRate: false,
      frameCount: 15,
      codec: 'h264',
      pixelFormat: 'yuv420p',
      bitDepth: 8,
      hdr: false,
    });
    expect(info.displayAspect).toBeCloseTo(1.5);
    expect(info.duration).toBeCloseTo(0.6, 1);
  });
});

describe('binaries', () => {
  it('uses the bundled binaries by default and VQLM_FFMPEG / VQLM_FFPROBE when set', () => {
    const bundled = resolveBinaries();
    expect(bundled.ffmpegSource).toBe('bundled');
    expect(bundled.ffprobeSource).toBe('bundled');
    process.env.VQLM_FFMPEG = '/opt/custom/ffmpeg';
    process.env.VQLM_FFPROBE = '/opt/custom/ffprobe';
    expect(resolveBinaries()).toEqual({
      ffmpeg: '/opt/custom/ffmpeg',
      ffprobe: '/opt/custom/ffprobe',
      ffmpegSource: 'env',
      ffprobeSource: 'env',
    });
  });

  it('reports a missing binary as E_BINARY', async () => {
    process.env.VQLM_FFPROBE = join(dir, 'no-such-ffprobe');
    await expect(probe(clip)).rejects.toThrow(VideoIOError);
    await expect(probe(clip)).rejects.toMatchObject({
      code: 'E_BINARY',
      message: expect.stringMatching(/cannot run ffprobe .*no-such-ffprobe/),
    });
    delete process.env.VQLM_FFPROBE;
    const info = await probe(clip);
    process.env.VQLM_FFMPEG = join(dir, 'no-such-ffmpeg');
    await expect(sampleKeyFrames(clip, { m: 1, info })).rejects.toMatchObject({
      code: 'E_BINARY',
      message: expect.stringMatching(/cannot run ffmpeg .*no-such-ffmpeg/),
    });
  });
});
