import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { childPids, makeClip } from './__fixtures__/clips.js';
import { runFfmpeg } from './ffmpeg-runner.js';
import { fullReference, makeVariants, probe, sampleKeyFrames, VideoIOError } from './index.js';

let dir: string;
let clip: string;
const tmpBefore = new Set(readdirSync(tmpdir()).filter((n) => n.startsWith('vqlm-')));

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vio-bad-'));
  clip = makeClip(join(dir, 'clip.mp4'), { width: 64, height: 48, frames: 12 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  // every call has waited for its ffmpeg/ffprobe to exit, and removed its temp files
  expect(childPids()).toEqual([]);
  expect(readdirSync(tmpdir()).filter((n) => n.startsWith('vqlm-') && !tmpBefore.has(n))).toEqual(
    [],
  );
});

async function rejection(promise: Promise<unknown>): Promise<VideoIOError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(VideoIOError);
    return err as VideoIOError;
  }
  throw new Error('expected a rejection');
}

describe('bad input: always a VideoIOError naming the file', () => {
  it('rejects a file that is not a video', async () => {
    const path = join(dir, 'notes.mp4');
    writeFileSync(path, 'this is plain text, not a video\n'.repeat(20));
    const err = await rejection(sampleKeyFrames(path, { m: 2 }));
    expect(err.code).toBe('E_NOT_VIDEO');
    expect(err.message).toMatch(/notes\.mp4.*not a readable media file/);
  });

  it('rejects a zero-byte file', async () => {
    const path = join(dir, 'empty.mp4');
    writeFileSync(path, '');
    const err = await rejection(probe(path));
    expect(err.code).toBe('E_EMPTY');
    expect(err.message).toMatch(/empty\.mp4.*empty \(0 bytes\)/);
  });

  it('rejects a truncated file whose index is missing', async () => {
    const bytes = readFileSync(clip);
    const path = join(dir, 'truncated.mp4');
    writeFileSync(path, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const err = await rejection(sampleKeyFrames(path, { m: 2 }));
    expect(err.code).toBe('E_NOT_VIDEO');
    expect(err.message).toMatch(/truncated\.mp4/);
  });

  it('samples only the frames that exist in a truncated file with its index up front', async () => {
    const whole = makeClip(join(dir, 'faststart.mp4'), {
      width: 160,
      height: 120,
      frames: 30,
      pattern: 'testsrc2',
      encode: ['-c:v', 'libx264', '-crf', '20', '-pix_fmt', 'yuv420p', '-movflags', '+faststart'],
    });
    const bytes = readFileSync(whole);
    const path = join(dir, 'cut-short.mp4');
    writeFileSync(path, bytes.subarray(0, Math.floor(bytes.length * 0.5)));
    const keyFrames = await sampleKeyFrames(path, { m: 4 });
    expect(keyFrames.info.frameCount).toBeGreaterThan(0);
    expect(keyFrames.info.frameCount).toBeLessThan(30);
    expect(Math.max(...keyFrames.indices)).toBeLessThan(keyFrames.info.frameCount);
    expect(keyFrames.shape).toEqual([4, 120, 160, 3]);
  });

  it('rejects an audio-only file', async () => {
    const path = join(dir, 'tone.m4a');
    makeClip(path, { width: 2, height: 2, frames: 1, encode: [] });
    // replace with a real audio-only file
    rmSync(path);
    const { execFileSync } = await import('node:child_process');
    const { ffmpegBin } = await import('./__fixtures__/clips.js');
    execFileSync(ffmpegBin(), [
      '-v',
      'error',
      '-y',
      '-f',
      'lavfi',
      '-i',
      'sine=frequency=440:duration=0.5',
      '-c:a',
      'aac',
      `file:${path}`,
    ]);
    const err = await rejection(sampleKeyFrames(path, { m: 2 }));
    expect(err.code).toBe('E_NO_VIDEO');
    expect(err.message).toMatch(/tone\.m4a" has no video stream \(streams: audio\)/);
    const info = await probe(path, { allowNoVideo: true });
    expect(info.hasVideo).toBe(false);
  });

  it('rejects a video stream that cannot be decoded', async () => {
    const bytes = Buffer.from(
      readFileSync(
        makeClip(join(dir, 'ok-faststart.mp4'), {
          width: 64,
          height: 48,
          frames: 10,
          encode: ['-c:v', 'libx264', '-qp', '0', '-pix_fmt', 'yuv420p', '-movflags', '+faststart'],
        }),
      ),
    );
    const mdat = bytes.indexOf('mdat');
    for (let i = mdat + 4; i < bytes.length; i++) bytes[i] = (i * 7919) & 0xff;
    const path = join(dir, 'garbled.mp4');
    writeFileSync(path, bytes);
    const err = await rejection(sampleKeyFrames(path, { m: 3 }));
    expect(err.code).toBe('E_DECODE');
    expect(err.message).toMatch(/garbled\.mp4.*could be decoded/);
  });

  it('says how ffmpeg ended (exit code) and why (its last stderr lines)', async () => {
    const source = makeClip(join(dir, 'encode-me.mp4'), { width: 64, height: 48, frames: 4 });
    const err = await rejection(
      runFfmpeg({ inputs: [{ source }], outputOptions: ['-c:v', 'no-such-encoder', '-f', 'null'], output: '-', timeoutMs: 30_000, label: 'encode-me.mp4', failureCode: 'E_ENCODE' }),
    );
    expect(err.code).toBe('E_ENCODE');
    expect(err.message).toMatch(/^ffmpeg failed on encode-me\.mp4: ffmpeg exited with code \d+; .*no-such-encoder/);
  });

  it('rejects absurd dimensions', async () => {
    const wide = join(dir, 'wide.y4m');
    writeFileSync(wide, `YUV4MPEG2 W17000 H16 F25:1 Ip A1:1 C420jpeg\nFRAME\n${'x'.repeat(64)}`);
    const err = await rejection(probe(wide));
    expect(err.code).toBe('E_DIMENSIONS');
    expect(err.message).toMatch(/wide\.y4m" has unsupported frame size 17000×16/);
    const huge = join(dir, 'huge.y4m');
    writeFileSync(huge, `YUV4MPEG2 W9000 H9000 F25:1 Ip A1:1 C420jpeg\nFRAME\n${'x'.repeat(64)}`);
    const err2 = await rejection(sampleKeyFrames(huge, { m: 1 }));
    expect(err2.code).toBe('E_DIMENSIONS');
    expect(err2.message).toMatch(/huge\.y4m.*9000×9000 exceed maxPixels/);
  });

  it('rejects a directory', async () => {
    const err = await rejection(sampleKeyFrames(dir, { m: 1 }));
    expect(err.code).toBe('E_NOT_FILE');
    expect(err.message).toMatch(/vio-bad-.*is a directory/);
  });

  it('rejects a missing file', async () => {
    const err = await rejection(probe(join(dir, 'nope.mp4')));
    expect(err.code).toBe('E_NOT_FOUND');
    expect(err.message).toMatch(/file not found: .*nope\.mp4/);
  });

  it('reads paths with spaces, quotes, unicode and a leading dash', async () => {
    for (const name of [
      'with space.mp4',
      `quote's "double".mp4`,
      'ünïcødé 视频.mp4',
      '-i.mp4',
      'semi;colon,[x]:y.mp4',
    ]) {
      const path = join(dir, name);
      copyFileSync(clip, path);
      const keyFrames = await sampleKeyFrames(path, { m: 2 });
      expect(keyFrames.shape).toEqual([2, 48, 64, 3]);
    }
  });

  it('never lets ffmpeg read a file name as a protocol or an option', async () => {
    const names = [
      'concat:clip.mp4|clip.mp4',
      'pipe:',
      'pipe:0',
      '-y',
      'subfile,,start,0,end,0,,:clip.mp4',
    ];
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      for (const name of names) {
        copyFileSync(clip, join(dir, name));
        const info = await probe(name);
        expect(info.path).toBe(join(dir, name));
        expect(info.frameCount).toBe(12);
        const keyFrames = await sampleKeyFrames(name, { m: 2 });
        expect(keyFrames.shape).toEqual([2, 48, 64, 3]);
      }
      // a URL is a missing local file, never fetched
      const err = await rejection(probe('http://127.0.0.1:9/video.mp4'));
      expect(err.code).toBe('E_NOT_FOUND');
      expect(err.message).toMatch(/file not found: "http:\/\/127\.0\.0\.1:9\/video\.mp4"/);
      mkdirSync(join(dir, 'http:'), { recursive: true });
      copyFileSync(clip, join(dir, 'http:', 'local.mp4'));
      expect((await probe('http://local.mp4')).path).toBe(join(dir, 'http:', 'local.mp4'));
    } finally {
      process.chdir(cwd);
    }
  });

  it('times out and kills ffmpeg', async () => {
    const err = await rejection(sampleKeyFrames(clip, { m: 4, timeoutMs: 1 }));
    expect(err.code).toBe('E_TIMEOUT');
    expect(err.message).toMatch(/clip\.mp4.*timed out after 1 ms/);
  });

  it('aborts on an AbortSignal, before or during a run', async () => {
    const before = new AbortController();
    before.abort();
    const err = await rejection(sampleKeyFrames(clip, { m: 2, signal: before.signal }));
    expect(err.code).toBe('E_ABORTED');
    expect(err.message).toMatch(/clip\.mp4.*aborted/);

    const during = new AbortController();
    const outDir = join(dir, 'aborted-variants');
    const slow = makeClip(join(dir, 'slow.mp4'), {
      width: 320,
      height: 240,
      frames: 60,
      pattern: 'testsrc2',
    });
    const started = Date.now();
    const promise = makeVariants(slow, {
      outDir,
      ladder: [{ kind: 'vp9', crf: 10 }],
      preset: 'best',
      signal: during.signal,
    });
    setTimeout(() => during.abort(), 300);
    const err2 = await rejection(promise);
    expect(err2.code).toBe('E_ABORTED');
    expect(Date.now() - started).toBeLessThan(5000);
    expect(readdirSync(outDir)).toEqual([]);
  });

  it('checks arguments', async () => {
    const err = await rejection(sampleKeyFrames(clip, { m: 0 }));
    expect(err.code).toBe('E_ARGUMENT');
    expect(err.message).toMatch(/options\.m must be an integer in 1\.\.4096, got 0/);
    const err2 = await rejection(
      fullReference(clip, clip, { metrics: ['vmaf'], vmafModel: join(dir, 'missing.pkl') }),
    );
    expect(err2.code).toBe('E_NOT_FOUND');
    expect(err2.message).toMatch(/VMAF model not found: .*missing\.pkl/);
  });
});
