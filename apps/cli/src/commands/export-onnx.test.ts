import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, makeTestClip, removeTempDir, runCli } from '../__fixtures__/run-cli.js';
import { makeTinyBundle } from '../__fixtures__/tiny-bundle.js';

let dir: string;
let bundle: string;
let clip: string;

beforeAll(async () => {
  dir = await makeTempDir('export-onnx');
  bundle = await makeTinyBundle(dir);
  clip = makeTestClip(join(dir, 'clip.mp4'), 128, 64, 12);
});
afterAll(async () => removeTempDir(dir));

describe('vqlm export-onnx', () => {
  it('writes the ONNX scoring path into the bundle; scores stay the same within 1e-4', async () => {
    const before = JSON.parse((await runCli(['score', clip, '--model', bundle, '--json'])).stdout) as { score: number; perFrame: number[] };
    expect(await readdir(bundle)).not.toContain('quality_head.onnx');
    const result = await runCli(['export-onnx', bundle, '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ bundles: [{ dir: bundle, onnx: { contextTower: 'context_tower.onnx', pixelEncoder: 'pixel_encoder.onnx', head: 'quality_head.onnx', decoder: 'decoder.onnx' } }] });
    expect(await readdir(bundle)).toEqual(expect.arrayContaining(['context_tower.onnx', 'pixel_encoder.onnx', 'quality_head.onnx', 'decoder.onnx']));
    const manifest = JSON.parse(await readFile(join(bundle, 'model.json'), 'utf8')) as { files: { onnx: unknown } };
    expect(manifest.files.onnx).toEqual({ contextTower: 'context_tower.onnx', pixelEncoder: 'pixel_encoder.onnx', head: 'quality_head.onnx', decoder: 'decoder.onnx' });
    const after = JSON.parse((await runCli(['score', clip, '--model', bundle, '--json'])).stdout) as { score: number; perFrame: number[] };
    expect(Math.abs(after.score - before.score)).toBeLessThan(1e-4);
    after.perFrame.forEach((v, i) => expect(Math.abs(v - before.perFrame[i])).toBeLessThan(1e-4));
    const text = await runCli(['export-onnx', bundle]);
    expect(text.stdout).toBe(`${bundle}: context_tower.onnx, pixel_encoder.onnx, quality_head.onnx, decoder.onnx\n`);
  });

  it('--engine picks tfjs or ONNX Runtime; onnx on a bundle without the exports fails naming the fix', async () => {
    const exported = await makeTinyBundle(dir, 5, 'engine-bundle');
    const plain = JSON.parse((await runCli(['score', clip, '--model', exported, '--json', '--engine', 'tfjs'])).stdout) as { score: number };
    const refused = await runCli(['score', clip, '--model', exported, '--engine', 'onnx']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/model\.json has no files\.onnx; save the bundle with \{ onnx: true \} or export it with exportBundleOnnx \(vqlm export-onnx\)/);
    expect((await runCli(['export-onnx', exported])).code).toBe(0);
    for (const engine of ['onnx', 'auto']) {
      const result = await runCli(['score', clip, '--model', exported, '--json', '--engine', engine]);
      expect(result.code).toBe(0);
      expect(Math.abs((JSON.parse(result.stdout) as { score: number }).score - plain.score)).toBeLessThan(1e-4);
    }
    const bad = await runCli(['describe', clip, '--model', exported, '--engine', 'gpu']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--engine <engine>' argument 'gpu' is invalid\. Allowed choices are auto, tfjs, onnx/);
  });

  it('fails with one line naming a directory that is not a bundle', async () => {
    const result = await runCli(['export-onnx', join(dir, 'nothing')]);
    expect(result.code).not.toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/nothing/);
  });
});
