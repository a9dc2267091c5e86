import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, makeTestClip, removeTempDir, runCli } from '../__fixtures__/run-cli.js';

describe('vqlm frames', () => {
  let dir: string;
  let clip: string;
  beforeAll(async () => {
    dir = await makeTempDir('frames');
    clip = makeTestClip(join(dir, 'clip.mp4'), 96, 64, 20);
  });
  afterAll(async () => removeTempDir(dir));

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
