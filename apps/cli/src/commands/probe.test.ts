import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, makeTestClip, removeTempDir, runCli } from '../__fixtures__/run-cli.js';

describe('vqlm probe', () => {
  let dir: string;
  let clip: string;
  beforeAll(async () => {
    dir = await makeTempDir('probe');
    clip = makeTestClip(join(dir, 'a clip.mp4'));
  });
  afterAll(async () => removeTempDir(dir));

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
