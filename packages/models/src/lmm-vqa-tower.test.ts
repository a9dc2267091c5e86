import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OnnxContextEncoder, exportVitToOnnx, vitConfig } from '@vqlm/encoders';
import { tf } from '@vqlm/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytes, makeClip, microLmmVqaConfig, useTestBackend } from './__fixtures__/tiny.js';
import { BUNDLE_FILES, saveBundle } from './bundle.js';
import { createScorer } from './cp-llm-scorer.js';
import { loadLmmVqaBundle, readLmmVqaBundleManifest } from './lmm-vqa-bundle.js';
import { LmmVqa } from './lmm-vqa.js';
import { exportBundleOnnx } from './onnx-bundle-export.js';
import { presetTokenizer } from './presets.js';

// LMM-VQA with a user's frozen vision tower in ONNX Runtime (as a SigLIP export would be), here the
// tfjs model's own ViT exported to ONNX: the two must score alike.
let dir: string;
let towerFile: string;
let reference: LmmVqa;
let withTower: LmmVqa;
const config = microLmmVqaConfig({ seed: 5 });

const views = (seed: number): { frames: { data: Uint8Array; dims: number[] }; clip: { data: Uint8Array; dims: number[] } } => ({
  frames: { data: bytes(2 * 32 * 32 * 3, seed), dims: [1, 2, 32, 32, 3] },
  clip: { data: bytes(4 * 16 * 16 * 3, seed + 1), dims: [1, 4, 16, 16, 3] },
});

async function towerModel(): Promise<LmmVqa> {
  const tower = await OnnxContextEncoder.create({ model: towerFile, imageSize: 32, outputDim: config.decoder.hiddenSize, seed: config.seed + 22 });
  return new LmmVqa(config, { tokenizer: presetTokenizer('micro'), spatialTower: tower });
}

beforeAll(async () => {
  await useTestBackend();
  dir = await mkdtemp(join(tmpdir(), 'vqlm-lmm-tower-'));
  reference = new LmmVqa(config, { tokenizer: presetTokenizer('micro') });
  // Trained-looking weights, so that equal outputs are not equal by accident.
  reference.trainableVariables().forEach((v, i) => {
    const next = tf.tidy(() => tf.add(v, tf.randomNormal(v.shape, 0, 0.3, 'float32', 40 + i)));
    v.assign(next);
    next.dispose();
  });
  towerFile = join(dir, 'siglip-like.onnx');
  await exportVitToOnnx(reference.spatialEncoder!, towerFile, { imageSize: 32 });
  withTower = await towerModel();
  // The same seed gives the same temporal encoder, head and decoder; the projector is copied.
  for (const [a, b] of reference.trainableVariables().map((v, i) => [v, withTower.trainableVariables()[i]] as const)) b.assign(a);
}, 60_000);
afterAll(async () => {
  await reference?.dispose();
  await withTower?.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe('LmmVqa with a user ONNX spatial tower', () => {
  it('has no tfjs ViT; its features, rating and answer equal the tfjs tower within 1e-4', async () => {
    expect(withTower.spatialEncoder).toBeNull();
    expect(withTower.spatialTower).not.toBeNull();
    expect(withTower.spatialTokens).toBe(reference.spatialTokens);
    const input = views(3);
    const [a, b] = [await reference.spatialFeatures(input.frames), await withTower.spatialFeatures(input.frames)];
    expect(b.shape).toEqual(a.shape);
    const [x, y] = [await a.data(), await b.data()];
    expect(Math.max(...Array.from(x, (v, i) => Math.abs(v - y[i])))).toBeLessThan(1e-4);
    tf.dispose([a, b]);
    const [ra, rb] = [await reference.rate(input), await withTower.rate(input)];
    expect(Math.abs(ra.score - rb.score)).toBeLessThan(1e-4);
    expect(await withTower.answer(input)).toBe(await reference.answer(input));
  });

  it('trains from spatialFeatures, and names frames given without them', async () => {
    const input = views(8);
    expect(() => withTower.forward({ ...input, targetTokenIds: [[2]] })).toThrow(/frames: the spatial tower runs in ONNX Runtime, outside tfjs; pass spatialFeatures/);
    const features = await withTower.spatialFeatures(input.frames);
    const out = withTower.forward({ clip: input.clip, spatialFeatures: features, targetTokenIds: [[2]] });
    expect(out.levelScores.shape).toEqual([1]);
    expect(() => withTower.forward({ clip: input.clip, spatialFeatures: tf.zeros([1, 2, 3, 4]), targetTokenIds: [[2]] })).toThrow(/spatialFeatures: expected shape \[1, 2, 17, 32\], got \[1, 2, 3, 4\]/);
    tf.dispose([features, out.levelLogits, out.levelScores, out.logits]);
  });

  it('refuses a tower whose sizes differ from config.spatialVit, naming both', async () => {
    const tower = await OnnxContextEncoder.create({ model: towerFile, imageSize: 32, outputDim: config.decoder.hiddenSize });
    const other = { ...config, spatialVit: vitConfig('micro', { numLayers: 1, hiddenSize: 48, numHeads: 2 }) };
    expect(() => new LmmVqa(other, { tokenizer: presetTokenizer('micro'), spatialTower: tower })).toThrow(/spatialTower: takes 32² frames to width 32, projected to 16; config\.spatialVit says 32² and width 48/);
    await tower.dispose();
  });

  it('bundles point at the tower file; the bundle scores a clip like the model, in tfjs', async () => {
    const bundle = join(dir, 'bundle');
    await expect(saveBundle(withTower, join(dir, 'no-path'))).rejects.toThrow(/spatialTowerOnnx: the model's spatial tower is a user's ONNX file/);
    await saveBundle(withTower, bundle, { spatialTowerOnnx: towerFile, onnx: true });
    const manifest = await readLmmVqaBundleManifest(bundle);
    expect(manifest.files.spatialTower).toEqual({ kind: 'onnx', path: towerFile });
    expect(manifest.files.onnx).toBeUndefined();
    expect(await readdir(bundle)).not.toContain(BUNDLE_FILES.spatialTower);
    const loaded = await loadLmmVqaBundle(bundle, { engine: 'auto' });
    const input = views(11);
    expect((await loaded.model.rate(input)).score).toBeCloseTo((await withTower.rate(input)).score, 6);
    await loaded.model.dispose();
    await expect(loadLmmVqaBundle(bundle, { engine: 'onnx' })).rejects.toThrow(/files\.onnx/);
    await expect(exportBundleOnnx(bundle)).rejects.toThrow(/its spatial tower is the user's ONNX file .*so this bundle scores in tfjs/);
    const clip = makeClip(join(dir, 'clip.mp4'));
    const scorer = await createScorer(bundle);
    const result = await scorer.score(clip, { describe: true });
    expect(result.score).toBeGreaterThanOrEqual(1);
    expect(result.score).toBeLessThanOrEqual(5);
    expect(typeof result.description).toBe('string');
    await scorer.dispose();
  });
});
