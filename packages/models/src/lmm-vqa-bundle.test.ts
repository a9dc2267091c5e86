import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSafetensors, tf, writeSafetensors } from '@vqlm/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytes, useTestBackend, microLmmVqaConfig } from './__fixtures__/tiny.js';
import { BUNDLE_FILES, loadBundle, saveBundle } from './bundle.js';
import { readBundleArchitecture } from './bundle-io.js';
import { ModelError } from './errors.js';
import { loadLmmVqaBundle, readLmmVqaBundleManifest } from './lmm-vqa-bundle.js';
import { LmmVqa } from './lmm-vqa.js';
import { cpLlmPreset, presetTokenizer } from './presets.js';

let dir: string;
let bundle: string;
let model: LmmVqa;

const input = {
  frames: { data: bytes(2 * 32 * 32 * 3, 3), dims: [1, 2, 32, 32, 3] },
  clip: { data: bytes(4 * 16 * 16 * 3, 4), dims: [1, 4, 16, 16, 3] },
  targetTokenIds: [[2, 10, 11]],
};

async function outputs(m: LmmVqa): Promise<number[][]> {
  const out = m.forward(input);
  const result = [Array.from(await out.levelLogits.data()), Array.from(await out.levelScores.data()), Array.from(await out.logits.data())];
  tf.dispose([out.levelLogits, out.levelScores, out.logits]);
  return result;
}

/** Moves every weight, frozen spatial tower included, away from its seeded initial value. */
function perturb(m: LmmVqa): void {
  m.trainableVariables().forEach((v, i) => {
    const next = tf.tidy(() => tf.add(v, tf.randomNormal(v.shape, 0, 0.05, 'float32', 100 + i)));
    v.assign(next);
    next.dispose();
  });
  for (const [name, t] of m.spatialEncoder!.params.entries()) {
    const next = tf.tidy(() => tf.add(t, tf.randomNormal(t.shape, 0, 0.05, 'float32', 7)));
    m.spatialEncoder!.params.set(name, next);
    next.dispose();
  }
}

beforeAll(async () => {
  await useTestBackend();
  dir = await mkdtemp(join(tmpdir(), 'vqlm-models-lmm-bundle-'));
  bundle = join(dir, 'lmm');
  const config = microLmmVqaConfig({ seed: 1 });
  model = new LmmVqa(config, { tokenizer: presetTokenizer('micro') });
  perturb(model);
  await saveBundle(model, bundle, { versions: { test: '1' } });
});
afterAll(async () => {
  await model?.dispose();
  await rm(dir, { recursive: true, force: true });
});

async function corrupt(name: string, change: (path: string) => Promise<void>): Promise<string> {
  const copy = join(dir, name);
  await cp(bundle, copy, { recursive: true });
  await change(copy);
  return copy;
}

async function rewriteWeights(path: string, edit: (tensors: Record<string, { shape: number[]; data: Float32Array }>) => void): Promise<void> {
  const file = await openSafetensors(join(path, BUNDLE_FILES.weights));
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const name of file.names) tensors[name] = { shape: file.info(name).shape, data: await file.read(name) };
  await file.close();
  edit(tensors);
  await writeSafetensors(join(path, BUNDLE_FILES.weights), tensors);
}

describe('LMM-VQA bundle', () => {
  it('writes model.json (architecture lmm-vqa), weights, spatial tower, decoder, adapter and tokenizer, nothing temporary', async () => {
    expect((await readdir(bundle)).sort()).toEqual(['adapter', 'decoder', 'model.json', 'model.safetensors', 'spatial_tower.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    expect((await readdir(dir)).sort()).toEqual(['lmm']);
    expect(await readBundleArchitecture(bundle)).toBe('lmm-vqa');
    const manifest = await readLmmVqaBundleManifest(bundle);
    expect(manifest.architecture).toBe('lmm-vqa');
    expect(manifest.config).toEqual(model.config);
    expect(manifest.dims).toEqual({ model: 16, spatialTokens: model.spatialEncoder!.numTokens(), temporalTokens: 2, vocabulary: 96 });
    expect(manifest.versions.test).toBe('1');
    const st = await openSafetensors(join(bundle, BUNDLE_FILES.weights));
    expect(st.names.some((n) => n.startsWith('spatial_projector.'))).toBe(true);
    expect(st.names).toContain('temporal_encoder.projector.weight');
    expect(st.names).toContain('level_head.proj.kernel');
    await st.close();
  });

  it('round trip gives identical level logits, level scores and answer logits, without leaking', async () => {
    const before = tf.memory().numTensors;
    const loaded = await loadLmmVqaBundle(bundle);
    expect(loaded.architecture).toBe('lmm-vqa');
    expect(loaded.dir).toBe(bundle);
    expect(await outputs(loaded.model)).toEqual(await outputs(model));
    await loaded.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('keeps config.views; a model.json from before the option reads as the paper’s resized views', async () => {
    expect(model.config.views).toBe('resized');
    const edit = (change: (json: { config: Record<string, unknown> }) => void) => async (path: string) => {
      const json = JSON.parse(await readFile(join(path, BUNDLE_FILES.manifest), 'utf8')) as { config: Record<string, unknown> };
      change(json);
      await writeFile(join(path, BUNDLE_FILES.manifest), JSON.stringify(json));
    };
    const older = await corrupt('older-views', edit((json) => delete json.config.views));
    expect((await readLmmVqaBundleManifest(older)).config.views).toBe('resized');
    const native = await corrupt('native-views', edit((json) => (json.config.views = 'native')));
    expect((await readLmmVqaBundleManifest(native)).config.views).toBe('native');
    const bad = await corrupt('bad-views', edit((json) => (json.config.views = 'crop')));
    await expect(readLmmVqaBundleManifest(bad)).rejects.toThrow(/model.json.config.views: Invalid enum value. Expected 'resized' \| 'native', received 'crop'/);
  });

  it('is refused by the CP-LLM loader with a pointer to loadLmmVqaBundle, and the other way round', async () => {
    const error = await loadBundle(bundle).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelError);
    expect((error as ModelError).code).toBe('E_BUNDLE_CONFIG');
    expect((error as Error).message).toMatch(/architecture is 'lmm-vqa', not 'cp-llm'; load it with loadLmmVqaBundle/);
    const cpDir = join(dir, 'cp');
    const { CpLlm } = await import('./cp-llm.js');
    const cpModel = await CpLlm.create(cpLlmPreset('micro'), { tokenizer: presetTokenizer('micro') });
    await saveBundle(cpModel, cpDir);
    await cpModel.dispose();
    await expect(loadLmmVqaBundle(cpDir)).rejects.toThrow(/architecture is 'cp-llm', not 'lmm-vqa'; load it with loadBundle/);
    await rm(cpDir, { recursive: true });
  });

  it('names a missing tensor, a misshapen one and an unexpected one', async () => {
    const missing = await corrupt('missing', (p) => rewriteWeights(p, (t) => delete t['level_head.proj.bias']));
    const error = await loadLmmVqaBundle(missing).catch((e: unknown) => e);
    expect((error as ModelError).code).toBe('E_BUNDLE_TENSOR');
    expect((error as Error).message).toBe("model.safetensors: missing tensor 'level_head.proj.bias' (expected shape [5])");
    const shape = await corrupt('shape', (p) =>
      rewriteWeights(p, (t) => {
        t['temporal_encoder.projector.weight'] = { shape: [16, 8], data: new Float32Array(128) };
      }),
    );
    await expect(loadLmmVqaBundle(shape)).rejects.toThrow("model.safetensors: tensor 'temporal_encoder.projector.weight' has shape [16, 8], expected [16, 16]");
    const extra = await corrupt('extra', (p) =>
      rewriteWeights(p, (t) => {
        t['level_head.extra'] = { shape: [1], data: new Float32Array(1) };
      }),
    );
    await expect(loadLmmVqaBundle(extra)).rejects.toThrow("model.safetensors: unexpected tensor 'level_head.extra'");
    const tower = await corrupt('tower', (p) => writeSafetensors(join(p, BUNDLE_FILES.spatialTower), { x: { shape: [1], data: new Float32Array(1) } }));
    const towerError = await loadLmmVqaBundle(tower).catch((e: unknown) => e);
    expect((towerError as ModelError).code).toBe('E_BUNDLE_TENSOR');
    expect((towerError as Error).message).toMatch(/^spatial_tower\.safetensors: checkpoint: no ViT .* patch embedding found/);
  });

  it('names the bad field of model.json', async () => {
    const edit = (name: string, change: (json: { config: { temporal: Record<string, unknown>; prompt: unknown } }) => void): Promise<string> =>
      corrupt(name, async (p) => {
        const json = JSON.parse(await readFile(join(p, 'model.json'), 'utf8')) as { config: { temporal: Record<string, unknown>; prompt: unknown } };
        change(json);
        await writeFile(join(p, 'model.json'), JSON.stringify(json));
      });
    const frames = await edit('frames', (j) => (j.config.temporal.numFrames = 5));
    await expect(loadLmmVqaBundle(frames)).rejects.toThrow('model.json: config.temporal.numFrames: 5 is not a multiple of tubeletFrames 2');
    const prompt = await edit('prompt', (j) => (j.config.prompt = 3));
    const error = await loadLmmVqaBundle(prompt).catch((e: unknown) => e);
    expect((error as ModelError).code).toBe('E_BUNDLE_CONFIG');
    expect((error as Error).message).toMatch(/^model\.json\.config\.prompt: /);
  });
});
