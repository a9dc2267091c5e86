import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { resolveBinaries } from '@vqlm/video-io';
import { main } from '../main.js';

const vmafModel = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  '..',
  '..',
  'shared',
  'vmaf',
  'vmaf_v0.6.1.pkl',
);

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

describe('vqlm variants', () => {
  let dir: string;
  let clip: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vqlm-cli-variants-'));
    clip = makeTestClip(join(dir, 'clip.mp4'), 96, 64, 6);
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('encodes a CRF ladder and prints one scored JSON object per variant', async () => {
    const args = [
      'variants',
      clip,
      '--codec',
      'h264',
      '--crf',
      '20:44:12',
      '--preset',
      'ultrafast',
      '--out',
      join(dir, 'out'),
      '--json',
    ];
    if (existsSync(vmafModel)) args.push('--vmaf-model', vmafModel);
    const { code, stdout } = await runCli(args);
    expect(code).toBe(0);
    interface Row {
      path: string;
      codec: string;
      crf: number;
      psnr: number;
      ssim: number;
      vmaf: number | null;
    }
    const rows = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Row);
    expect(rows.map((r) => r.crf)).toEqual([20, 32, 44]);
    expect(rows.every((r) => r.codec === 'h264' && existsSync(r.path))).toBe(true);
    expect(rows[2].psnr).toBeLessThan(rows[0].psnr);
    expect(rows[2].ssim).toBeLessThan(rows[0].ssim);
    if (existsSync(vmafModel)) expect(rows[2].vmaf!).toBeLessThan(rows[0].vmaf!);
  });

  it('says VMAF is skipped without a model, and rejects a bad --crf', async () => {
    const { code, stdout, stderr } = await runCli([
      'variants',
      clip,
      '--crf',
      '30',
      '--preset',
      'ultrafast',
      '--out',
      join(dir, 'one'),
      '--json',
    ]);
    expect(code).toBe(0);
    expect(stderr).toMatch(/VMAF skipped: no model given/);
    expect(JSON.parse(stdout)).toMatchObject({ crf: 30, vmaf: null });
    const bad = await runCli(['variants', clip, '--crf', '40:20:2', '--out', dir]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^vqlm: --crf must be 'from:to:step'.*got '40:20:2'/);
  });
});
