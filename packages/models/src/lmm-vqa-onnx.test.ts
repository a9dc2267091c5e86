import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildWordPieceTokenizer } from '@vqlm/decoder-lora';
import { tf } from '@vqlm/runtime';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { bytes, makeClip, microLmmVqaConfig, useTestBackend } from './__fixtures__/tiny.js';
import { BUNDLE_FILES, saveBundle } from './bundle.js';
import { createScorer } from './cp-llm-scorer.js';
import { ModelError } from './errors.js';
import { loadLmmVqaBundle } from './lmm-vqa-bundle.js';
import { OnnxLmmVqaPath, lmmVqaToOnnx } from './lmm-vqa-onnx.js';
import { LMM_VQA_PROMPT, LmmVqa, lmmVqaAnswer } from './lmm-vqa.js';
import { exportBundleOnnx } from './onnx-bundle-export.js';
import { decoderToOnnx } from './onnx-decoder.js';
import { presetTokenizer } from './presets.js';
import { IGNORE_LABEL, lmmVqaObjective } from './train-objective.js';

let dir: string;
let clip: string;

/** A micro LMM-VQA with every weight (frozen spatial tower, LoRA B and level head included) moved well away from its initial value. */
function trainedLooking(seed: number): LmmVqa {
  const model = new LmmVqa(microLmmVqaConfig({ seed }), { tokenizer: presetTokenizer('micro') });
  model.trainableVariables().forEach((v, i) => {
    const next = tf.tidy(() => tf.add(v, tf.randomNormal(v.shape, 0, 0.3, 'float32', seed * 100 + i)));
    v.assign(next);
    next.dispose();
  });
  for (const [name, t] of model.spatialEncoder!.params.entries()) {
    const next = tf.tidy(() => tf.add(t, tf.randomNormal(t.shape, 0, 0.2, 'float32', seed)));
    model.spatialEncoder!.params.set(name, next);
    next.dispose();
  }
  return model;
}

/**
 * A micro LMM-VQA whose decoder was trained (120 Adam steps, decoder base included) to answer two
 * inputs with two different answers, so that its greedy answers are real text.
 */
function answering(): LmmVqa {
  const answers = [lmmVqaAnswer(4.6, 'excellent'), lmmVqaAnswer(1.4, 'bad')];
  const tokenizer = buildWordPieceTokenizer([...answers, LMM_VQA_PROMPT], { vocabSize: 96 });
  const model = new LmmVqa(microLmmVqaConfig({ seed: 2 }), { tokenizer, trainDecoderBase: true });
  const bos = model.tokenizer.bosTokenId!;
  const eos = model.tokenizer.eosTokenId!;
  const encoded = answers.map((text) => [...model.tokenizer.encode(text), eos]);
  const width = Math.max(...encoded.map((ids) => ids.length));
  const inputs = [views(1), views(7)];
  const batch = {
    frames: { data: Uint8Array.from([...inputs[0].frames.data, ...inputs[1].frames.data]), dims: [2, 2, 32, 32, 3] },
    clip: { data: Uint8Array.from([...inputs[0].clip.data, ...inputs[1].clip.data]), dims: [2, 4, 16, 16, 3] },
    inputIds: encoded.map((ids) => [bos, ...ids.slice(0, -1), ...new Array<number>(width - ids.length).fill(0)]),
    labels: encoded.map((ids) => [...ids, ...new Array<number>(width - ids.length).fill(IGNORE_LABEL)]),
    scoreTargets: [4.6, 1.4],
  };
  const optimizer = tf.train.adam(1e-2);
  for (let step = 0; step < 120; step += 1) optimizer.minimize(() => lmmVqaObjective(model, batch).total, false, model.trainableVariables());
  optimizer.dispose();
  return model;
}

const views = (seed: number) => ({
  frames: { data: bytes(2 * 32 * 32 * 3, seed), dims: [1, 2, 32, 32, 3] },
  clip: { data: bytes(4 * 16 * 16 * 3, seed + 1), dims: [1, 4, 16, 16, 3] },
});

async function onnxPath(model: LmmVqa): Promise<OnnxLmmVqaPath> {
  const files = await lmmVqaToOnnx(model);
  if (files === null) throw new Error('no export');
  return OnnxLmmVqaPath.create(files, model.config);
}

beforeAll(async () => {
  await useTestBackend();
  dir = await mkdtemp(join(tmpdir(), 'vqlm-models-lmm-onnx-'));
  clip = makeClip(join(dir, 'clip.mp4'), 'noise=alls=20:allf=t');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('LMM-VQA in ONNX Runtime', () => {
  it('rate() equals tfjs within 1e-4 and answer() writes the same text; tfjs does not run once attached', async () => {
    const model = answering();
    const inputs = [views(1), views(7)];
    const expected: { score: number; level: string; probabilities: number[]; answer: string }[] = [];
    for (const input of inputs) expected.push({ ...(await model.rate(input)), answer: await model.answer(input) });
    // Two inputs that differ give different scores, so the comparison below is not of constants.
    expect(Math.abs(expected[0].score - expected[1].score)).toBeGreaterThan(1e-3);
    expect(expected.map((e) => e.answer)).toEqual([expect.stringMatching(/score is/), expect.stringMatching(/score is/)]);
    expect(expected[0].answer).not.toBe(expected[1].answer);
    expect(model.usesOnnx).toBe(false);
    await model.attachOnnx(await onnxPath(model));
    expect(model.usesOnnx).toBe(true);
    const forward = vi.spyOn(model, 'forward');
    const before = tf.memory().numTensors;
    for (const [i, input] of inputs.entries()) {
      const got = await model.rate(input);
      expect(Math.abs(got.score - expected[i].score)).toBeLessThan(1e-4);
      got.probabilities.forEach((p, k) => expect(Math.abs(p - expected[i].probabilities[k])).toBeLessThan(1e-4));
      expect(got.level).toBe(expected[i].level);
      expect(await model.answer(input)).toBe(expected[i].answer);
    }
    expect(forward).not.toHaveBeenCalled();
    expect(tf.memory().numTensors).toBe(before);
    // Shapes are still checked before anything runs.
    await expect(model.rate({ ...views(1), clip: { data: new Uint8Array(3), dims: [1, 1, 1, 1, 3] } })).rejects.toThrow(/clip: expected shape \[1, 4, 16, 16, 3\], got \[1, 1, 1, 1, 3\]/);
    await model.dispose();
    await expect(model.rate(views(1))).rejects.toThrow(/LmmVqa used after dispose/);
  });

  it('refuses exports that do not fit: a decoder without hidden states, swapped files, another model’s sizes', async () => {
    const model = trainedLooking(5);
    const files = (await lmmVqaToOnnx(model))!;
    const plainDecoder = await decoderToOnnx(model.decoder);
    const noHidden = OnnxLmmVqaPath.create({ ...files, decoder: plainDecoder }, model.config);
    await expect(noHidden).rejects.toBeInstanceOf(ModelError);
    await expect(OnnxLmmVqaPath.create({ ...files, decoder: plainDecoder }, model.config)).rejects.toThrow(/decoder ONNX: LMM-VQA's level head reads the decoder's hidden state; export the decoder with decoderToOnnx\(decoder, \{ hiddenStates: true \}\)/);
    const swappedPath = join(dir, 'swapped.onnx');
    await writeFile(swappedPath, files.temporalEncoder);
    await expect(OnnxLmmVqaPath.create({ ...files, spatialEncoder: swappedPath }, model.config)).rejects.toThrow(new RegExp(`${swappedPath.replace(/[.]/g, '\\.')}: expected input frames and output spatial_tokens, got \\[clips\\] → \\[temporal_tokens\\]`));
    const other = new LmmVqa(microLmmVqaConfig({ seed: 5, m: 3 }), { tokenizer: presetTokenizer('micro') });
    const path = await OnnxLmmVqaPath.create(files, model.config);
    await expect(other.attachOnnx(path)).rejects.toThrow(/path: made for config.m 2, this model has 3/);
    expect(other.usesOnnx).toBe(false);
    await path.dispose();
    await Promise.all([model.dispose(), other.dispose()]);
  });

  it('bundles: saveBundle { onnx: true } writes the four exports, createScorer scores a real clip through them, as tfjs within 1e-4; exportBundleOnnx adds them to an older bundle', async () => {
    const model = trainedLooking(8);
    const withOnnx = join(dir, 'with-onnx');
    const without = join(dir, 'without');
    await saveBundle(model, withOnnx, { onnx: true });
    await saveBundle(model, without);
    await model.dispose();
    const manifest = JSON.parse(await readFile(join(withOnnx, BUNDLE_FILES.manifest), 'utf8')) as { files: { onnx?: Record<string, string> } };
    expect(manifest.files.onnx).toEqual({ spatialEncoder: 'spatial_encoder.onnx', temporalEncoder: 'temporal_encoder.onnx', decoder: 'decoder.onnx', levelHead: 'level_head.onnx' });
    for (const file of Object.values(manifest.files.onnx!)) await access(join(withOnnx, file));

    const tfjs = await createScorer(withOnnx, { engine: 'tfjs' });
    const onnx = await createScorer(withOnnx);
    expect([(tfjs.model as LmmVqa).usesOnnx, (onnx.model as LmmVqa).usesOnnx]).toEqual([false, true]);
    const a = await tfjs.score(clip, { describe: true });
    const b = await onnx.score(clip, { describe: true });
    expect(Math.abs(a.score - b.score)).toBeLessThan(1e-4);
    expect(b.level).toBe(a.level);
    expect(b.description).toBe(a.description);
    await Promise.all([tfjs.dispose(), onnx.dispose()]);

    // A bundle saved without exports loads in tfjs under 'auto', and gets them from exportBundleOnnx.
    const plain = await loadLmmVqaBundle(without, { engine: 'auto' });
    expect(plain.model.usesOnnx).toBe(false);
    await plain.model.dispose();
    await expect(loadLmmVqaBundle(without, { engine: 'onnx' })).rejects.toThrow(/model.json has no files.onnx/);
    const [exported] = await exportBundleOnnx(without);
    expect(exported.onnx).toEqual(manifest.files.onnx);
    const loaded = await loadLmmVqaBundle(without, { engine: 'onnx' });
    expect(loaded.model.usesOnnx).toBe(true);
    const saved = await loadLmmVqaBundle(withOnnx, { engine: 'onnx' });
    expect(Math.abs((await loaded.model.rate(views(2))).score - (await saved.model.rate(views(2))).score)).toBeLessThan(1e-6);
    await Promise.all([loaded.model.dispose(), saved.model.dispose()]);
    await expect(loadLmmVqaBundle(without, { engine: 'gpu' as 'onnx' })).rejects.toThrow(/engine: expected 'auto', 'tfjs' or 'onnx', got gpu/);
  });
});
