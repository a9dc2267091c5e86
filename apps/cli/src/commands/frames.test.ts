import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { resolveBinaries } from '@vqlm/video-io';
import { main } from '../main.js';

async function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    process.exitCode = undefined;
    const code = await main(['node', 'vqlm', ...args]);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
    process.exitCode = undefined;
  }
}

/** A tiny test clip made with ffmpeg's lavfi source. */
function makeTestClip(path: string, width = 64, height = 48, frames = 10): string {
  execFileSync(resolveBinaries().ffmpeg, [
    '-v',
    'error',
    '-nostdin',
    '-y',
    '-f',
    'lavfi',
    '-i',
    `testsrc2=size=${width}x${height}:rate=10`,
    '-frames:v',
    String(frames),
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-pix_fmt',
    'yuv420p',
    `file:${path}`,
  ]);
  return path;
}

describe('vqlm frames', () => {
  let dir: string;
  let clip: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vqlm-cli-frames-'));
    clip = makeTestClip(join(dir, 'clip.mp4'), 96, 64, 20);
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('writes the context view as PNGs and prints the shape', async () => {
    const out = join(dir, 'context');
    const { code, stdout } = await runCli([
      'frames',
      clip,
      '--m',
      '4',
      '--view',
      'context',
      '--size',
      '32',
      '--out',
      out,
      '--json',
    ]);
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as { files: string[]; shape: number[] };
    expect(report).toMatchObject({ frames: 4, shape: [4, 32, 32, 3], indices: [2, 7, 12, 17] });
    expect(report.files).toHaveLength(4);
    const png = readFileSync(report.files[0]);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([32, 32]); // IHDR width, height
  });

  it('writes K pixel-view patches per frame', async () => {
    const out = join(dir, 'pixel');
    const { code, stdout } = await runCli([
      'frames',
      clip,
      '--m',
      '2',
      '--view',
      'pixel',
      '--k',
      '3',
      '--out',
      out,
      '--json',
    ]);
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as { files: string[]; shape: number[] };
    expect(report.shape).toEqual([2, 3, 224, 224, 3]);
    expect(report.files).toHaveLength(6);
    expect(report.files[5]).toMatch(/pixel-001-patch-002\.png$/);
  });

  it('rejects a bad --view and a missing file with one line', async () => {
    const bad = await runCli(['frames', clip, '--view', 'side', '--out', dir]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^vqlm: --view must be context, pixel or raw, got 'side'/);
    const missing = await runCli(['frames', join(dir, 'nope.mp4'), '--out', dir]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^vqlm: file not found: ".*nope\.mp4" \[E_NOT_FOUND\]\n$/);
  });
});
