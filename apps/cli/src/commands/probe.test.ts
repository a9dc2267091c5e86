import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
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

describe('vqlm probe', () => {
  let dir: string;
  let clip: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vqlm-cli-probe-'));
    clip = makeTestClip(join(dir, 'a clip.mp4'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('prints the video properties as JSON', async () => {
    const { code, stdout } = await runCli(['probe', clip, '--json']);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({
      width: 64,
      height: 48,
      frameCount: 10,
      codec: 'h264',
      hdr: false,
      rotation: 0,
    });
  });

  it('prints a readable summary without --json', async () => {
    const { code, stdout } = await runCli(['probe', clip]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/h264 yuv420p 8-bit 64×48, rotation 0°/);
    expect(stdout).toMatch(/10 frames, 10\.000 fps/);
  });

  it('fails with one line naming the file for a non-video', async () => {
    const bad = join(dir, 'notes.txt');
    await writeFile(bad, 'hello');
    const { code, stdout, stderr } = await runCli(['probe', bad, '--json']);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(
      /^vqlm: ".*notes\.txt" is not a readable media file: .*\[E_NOT_VIDEO\]\n$/,
    );
  });
});
