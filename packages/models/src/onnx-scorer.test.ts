import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '@vqlm/runtime';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { bytes, liveTensors, makeClip, useTestBackend } from './__fixtures__/tiny.js';
import { loadBundle, saveBundle } from './bundle.js';
import type { CpLlmBranches } from './config.js';
import { createScorer, type CpLlmScorer } from './cp-llm-scorer.js';
import { CpLlm, type VideoViews } from './cp-llm.js';
import { loadEnsembleBundle, saveEnsembleBundle } from './ensemble-bundle.js';
import { ModelError } from './errors.js';
import { exportBundleOnnx } from './onnx-bundle-export.js';
import { OnnxScoringPath, pixelEncoderToOnnx, qualityHeadToOnnx } from './onnx-scorer.js';
import { cpLlmPreset, presetTokenizer } from './presets.js';

let dir: string;
let clip: string;
const calibration = { kind: 'linear', slope: 1.5, intercept: 3 } as const;

beforeAll(async () => {
  await useTestBackend();
  dir = await mkdtemp(join(tmpdir(), 'vqlm-models-onnx-'));
  clip = makeClip(join(dir, 'clip.mp4'), 'noise=alls=20:allf=t');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A micro model whose trainable weights are large and random, so every part of the path shows in the scores. */
async function randomModel(branches: CpLlmBranches, pooling: 'mean' | 'max' | 'first', seed: number): Promise<CpLlm> {
  const config = { ...cpLlmPreset('micro', { seed }), branches, head: { hidden: 8, pooling } };
  const model = await CpLlm.create(config, { tokenizer: presetTokenizer('micro') });
  model.trainableVariables().forEach((v, i) => {
    tf.tidy(() => {
      const r = tf.randomNormal(v.shape, 0, 0.3, 'float32', seed * 100 + i);
      v.assign(v.name.includes('gamma') ? tf.add(r, 1) : r);
    });
  });
  return model;
}

/** Random uint8 views of M = 2 frames for the micro model. */
function views(model: CpLlm, seed: number): VideoViews {
  const { m, k, contextSize: s, patchSize: p } = model.config;
  return {
    context: { data: bytes(m * s * s * 3, seed), dims: [m, s, s, 3] },
    pixel: { data: bytes(m * k * p * p * 3, seed + 1), dims: [m, k, p, p, 3] },
  };
}

async function attachExports(model: CpLlm): Promise<void> {
  const dims = { model: model.dim, contextTokens: model.contextEncoder.numTokens, contextFeatures: model.contextEncoder.featureDim, pixelTokens: model.pixelEncoder.numTokens };
  const pixelEncoder = model.config.branches === 'context' ? undefined : await pixelEncoderToOnnx(model);
  const path = await OnnxScoringPath.create({ head: await qualityHeadToOnnx(model), ...(pixelEncoder ? { pixelEncoder } : {}) }, model.config, dims);
  await model.attachOnnxScoring(path);
}

describe('ONNX scoring path (pixel encoder and quality head exported from tfjs)', () => {
  const cases: { branches: CpLlmBranches; pooling: 'mean' | 'max' | 'first' }[] = [
    { branches: 'both', pooling: 'mean' },
    { branches: 'both', pooling: 'max' },
    { branches: 'both', pooling: 'first' },
    { branches: 'pixel', pooling: 'mean' },
    { branches: 'context', pooling: 'max' },
  ];
  for (const [i, { branches, pooling }] of cases.entries()) {
    it(`gives the tfjs frame scores within 1e-4: branches ${branches}, pooling ${pooling}`, async () => {
      const model = await randomModel(branches, pooling, 20 + i);
      const input = views(model, 5 + i);
      const expected = await model.scoreViews(input);
      expect(new Set(expected.map((v) => v.toFixed(3))).size).toBe(expected.length);
      await attachExports(model);
      expect(model.usesOnnxScoring).toBe(true);
      const before = liveTensors();
      const stages: string[] = [];
      const got = await model.scoreViews(input, { onStage: (stage) => stages.push(stage) });
      expect(liveTensors()).toBe(before);
      expect(stages).toEqual(['context', 'pixel', 'head']);
      expect(got).toHaveLength(expected.length);
      got.forEach((v, f) => expect(Math.abs(v - expected[f])).toBeLessThan(1e-4));
      // The scores are not all alike: a wrong half of the head's first layer would show.
      expect(Math.max(...expected) - Math.min(...expected)).toBeGreaterThan(1e-3);
      await model.dispose();
    });
  }

  it('a pixel-only model never runs the frozen context tower, in tfjs or in ONNX Runtime', async () => {
    const model = await randomModel('pixel', 'mean', 31);
    await model.scoreViews(views(model, 1));
    expect(model.contextEncoder.framesEncoded).toBe(0);
    await attachExports(model);
    await model.scoreViews(views(model, 1));
    expect(model.contextEncoder.framesEncoded).toBe(0);
    await model.dispose();
    const both = await randomModel('both', 'mean', 31);
    await both.scoreViews(views(both, 1));
    expect(both.contextEncoder.framesEncoded).toBe(2);
    await both.dispose();
  });

  it('checks the exports and the inputs, naming what does not fit', async () => {
    const model = await randomModel('both', 'mean', 40);
    const pixelOnly = await randomModel('pixel', 'mean', 41);
    const dims = { model: model.dim, contextTokens: model.contextEncoder.numTokens, contextFeatures: model.contextEncoder.featureDim, pixelTokens: model.pixelEncoder.numTokens };
    const head = await qualityHeadToOnnx(model);
    const pixelEncoder = await pixelEncoderToOnnx(model);
    const headFile = join(dir, 'swapped-head.onnx');
    await writeFile(headFile, pixelEncoder);
    await expect(OnnxScoringPath.create({ head: headFile, pixelEncoder }, model.config, dims)).rejects.toThrow(
      /swapped-head\.onnx: expected inputs \[context_features, pixel_tokens\] and output frame_scores, got \[pixel_values\] → \[pixel_tokens\]/,
    );
    await expect(OnnxScoringPath.create({ head }, model.config, dims)).rejects.toThrow(/pixelEncoder: a model with config.branches 'both' needs the pixel encoder's ONNX file/);
    const missing = join(dir, 'missing.onnx');
    const error = await OnnxScoringPath.create({ head: missing, pixelEncoder }, model.config, dims).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelError);
    expect((error as ModelError).code).toBe('E_BUNDLE_IO');
    expect((error as Error).message).toMatch(/missing\.onnx/);
    // A path made for a pixel-only model does not attach to a two-branch one.
    const other = await OnnxScoringPath.create({ head: await qualityHeadToOnnx(pixelOnly), pixelEncoder: await pixelEncoderToOnnx(pixelOnly) }, pixelOnly.config, dims);
    await expect(model.attachOnnxScoring(other)).rejects.toThrow(/path: made for branches 'pixel' .* this model has 'both'/);
    await other.dispose();
    const path = await OnnxScoringPath.create({ head, pixelEncoder }, model.config, dims);
    await expect(path.pixelTokens({ data: new Float32Array(3 * 3 * 32 * 32), dims: [3, 3, 32, 32] })).rejects.toThrow(/pixels: expected shape \[frames·2, 3, 32, 32\], got \[3, 3, 32, 32\]/);
    const features = { data: new Float32Array(2 * dims.contextTokens * dims.contextFeatures), dims: [2, dims.contextTokens, dims.contextFeatures] };
    await expect(path.frameScores(features, null)).rejects.toThrow(/pixel_tokens: expected shape \[frames, 17, 16\] with frames ≥ 1 \(2 as in the other input\), got nothing/);
    await path.dispose();
    await model.dispose();
    await pixelOnly.dispose();
  });

  it('exportBundleOnnx re-exports a saved bundle in place (replacing an older pixel-ViT-only export); auto then scores in ONNX Runtime', async () => {
    const model = await randomModel('both', 'mean', 50);
    const bundle = join(dir, 'export-bundle');
    await saveBundle(model, bundle, { calibration });
    await writeFile(join(bundle, 'MODEL_CARD.md'), '# card\n');
    // What an older writer left: a pixel-ViT-only export.
    const manifestPath = join(bundle, 'model.json');
    const json = JSON.parse(await readFile(manifestPath, 'utf8'));
    json.files.onnx = { pixelVit: 'pixel_vit.onnx', contextTower: 'context_tower.onnx' };
    await writeFile(manifestPath, JSON.stringify(json));
    await writeFile(join(bundle, 'pixel_vit.onnx'), 'old');
    await expect(loadBundle(bundle, { engine: 'onnx' })).rejects.toThrow(/files\.onnx holds only the pixel ViT, the export of an older @vqlm\/models; export the whole scoring path with exportBundleOnnx/);
    const legacy = (await createScorer(bundle)) as CpLlmScorer;
    expect(legacy.model.usesOnnxScoring).toBe(false);
    const reference = await legacy.score(clip, { describe: true });
    await legacy.dispose();

    const written = await exportBundleOnnx(bundle);
    expect(written).toEqual([{ dir: bundle, onnx: { contextTower: 'context_tower.onnx', pixelEncoder: 'pixel_encoder.onnx', head: 'quality_head.onnx', decoder: 'decoder.onnx' } }]);
    const files = await readdir(bundle);
    expect(files).toEqual(expect.arrayContaining(['MODEL_CARD.md', 'pixel_encoder.onnx', 'quality_head.onnx', 'context_tower.onnx', 'decoder.onnx', 'model.safetensors']));
    expect(files).not.toContain('pixel_vit.onnx');
    expect(files.filter((f) => f.includes('tmp'))).toEqual([]);
    const live = liveTensors();
    const scorer = (await createScorer(bundle)) as CpLlmScorer;
    expect(scorer.model.usesOnnxScoring).toBe(true);
    expect(scorer.model.usesOnnxDecoder).toBe(true);
    const onnx = await scorer.score(clip, { describe: true });
    expect(Math.abs(onnx.score - reference.score)).toBeLessThan(1e-4);
    onnx.perFrame.forEach((v, f) => expect(Math.abs(v - reference.perFrame[f])).toBeLessThan(1e-4));
    // The description, written by the decoder in ONNX Runtime, is the tfjs decoder's.
    expect(reference.description?.length).toBeGreaterThan(0);
    expect(onnx.description).toBe(reference.description);
    // Its prefix's pixel tokens come from the exported pixel encoder, not from a tfjs pass.
    const pixelTokens = vi.spyOn(OnnxScoringPath.prototype, 'pixelTokens');
    const tfjsPixel = vi.spyOn(scorer.model.pixelEncoder, 'forward');
    expect(await scorer.describe(clip)).toBe(reference.description);
    expect([pixelTokens.mock.calls.length, tfjsPixel.mock.calls.length]).toEqual([1, 0]);
    pixelTokens.mockRestore();
    tfjsPixel.mockRestore();
    await scorer.dispose();
    // Loading, scoring, describing and disposing leaves no tfjs tensor behind.
    expect(liveTensors()).toBe(live);
    // A bundle exported before the decoder was: the scoring path in ONNX Runtime, descriptions in tfjs.
    const exported = JSON.parse(await readFile(manifestPath, 'utf8'));
    delete exported.files.onnx.decoder;
    await writeFile(manifestPath, JSON.stringify(exported));
    const older = (await createScorer(bundle)) as CpLlmScorer;
    expect([older.model.usesOnnxScoring, older.model.usesOnnxDecoder]).toEqual([true, false]);
    expect(await older.describe(clip)).toBe(reference.description);
    await older.dispose();
    await model.dispose();
  });

  it('exportBundleOnnx exports every member of an ensemble; a pixel-only member gets no context tower export', async () => {
    const a = await randomModel('both', 'mean', 60);
    const b = await randomModel('pixel', 'max', 61);
    await saveBundle(a, join(dir, 'member-a'), { calibration });
    await saveBundle(b, join(dir, 'member-b'), { calibration });
    const ensemble = join(dir, 'ensemble');
    // member-b as an older writer left it: pixel ViT and context tower exported, neither used now.
    const manifestPath = join(dir, 'member-b', 'model.json');
    const json = JSON.parse(await readFile(manifestPath, 'utf8'));
    json.files.onnx = { pixelVit: 'pixel_vit.onnx', contextTower: 'context_tower.onnx' };
    await writeFile(manifestPath, JSON.stringify(json));
    for (const file of ['pixel_vit.onnx', 'context_tower.onnx']) await writeFile(join(dir, 'member-b', file), 'old');
    await saveEnsembleBundle([join(dir, 'member-a'), join(dir, 'member-b')], ensemble);
    const tfjs = await createScorer(ensemble, { engine: 'tfjs' });
    const reference = await tfjs.score(clip);
    await tfjs.dispose();
    const written = await exportBundleOnnx(ensemble);
    expect(written.map((w) => w.onnx)).toEqual([
      { contextTower: 'context_tower.onnx', pixelEncoder: 'pixel_encoder.onnx', head: 'quality_head.onnx', decoder: 'decoder.onnx' },
      { pixelEncoder: 'pixel_encoder.onnx', head: 'quality_head.onnx', decoder: 'decoder.onnx' },
    ]);
    const memberB = await readdir(join(ensemble, 'members', '1'));
    expect(memberB).toEqual(expect.arrayContaining(['pixel_encoder.onnx', 'quality_head.onnx', 'context_tower.safetensors']));
    expect(memberB.filter((f) => f === 'pixel_vit.onnx' || f === 'context_tower.onnx')).toEqual([]);
    const loaded = await loadEnsembleBundle(ensemble);
    expect(loaded.members.map((m) => m.model.usesOnnxScoring)).toEqual([true, true]);
    for (const m of loaded.members) await m.model.dispose();
    const scorer = await createScorer(ensemble);
    const got = await scorer.score(clip);
    expect(Math.abs(got.score - reference.score)).toBeLessThan(1e-4);
    got.members!.forEach((v, i) => expect(Math.abs(v - reference.members![i])).toBeLessThan(1e-4));
    await scorer.dispose();
    await a.dispose();
    await b.dispose();
  });
});
