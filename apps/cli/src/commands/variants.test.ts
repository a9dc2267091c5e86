import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, makeTestClip, removeTempDir, runCli, sharedPath } from '../__fixtures__/run-cli.js';

const vmafModel = sharedPath('vmaf', 'vmaf_v0.6.1.pkl');

describe('vqlm variants', () => {
  let dir: string;
  let clip: string;
  beforeAll(async () => {
    dir = await makeTempDir('variants');
    clip = makeTestClip(join(dir, 'clip.mp4'), 96, 64, 6);
  });
  afterAll(async () => removeTempDir(dir));

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
