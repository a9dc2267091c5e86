import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSafetensors, tf, writeSafetensors } from '@vqlm/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytes, useTestBackend } from './__fixtures__/tiny.js';
import { cpLlmPreset, presetTokenizer } from './presets.js';
import { TfjsContextEncoder, exportVitToOnnx } from '@vqlm/encoders';
import { BUNDLE_FILES, loadBundle, readBundleManifest, saveBundle } from './bundle.js';
import { readBundleArchitecture } from './bundle-io.js';
import { CpLlm, disposeCpLlmOutput } from './cp-llm.js';
import { ModelError } from './errors.js';

let dir: string;
let bundle: string;
let model: CpLlm;

/** Moves every trainable variable away from its initial value (LoRA B is zero at init). */
function perturb(m: CpLlm, seed: number): void {
  m.trainableVariables().forEach((v, i) => {
    const noise = tf.randomNormal(v.shape, 0, 0.05, 'float32', seed + i);
    const next = tf.add(v, noise);
    v.assign(next);
    tf.dispose([noise, next]);
  });
}

async function outputs(m: CpLlm): Promise<number[][]> {
  const contextFeatures = await m.encodeContext({ data: bytes(2 * 32 * 32 * 3, 4), dims: [1, 2, 32, 32, 3] });
  const pixel = { data: bytes(2 * 2 * 32 * 32 * 3, 6), dims: [1, 2, 2, 32, 32, 3] };
  const out = m.forward({ first: { contextFeatures, pixel }, targetTokenIds: [[2, 20, 21]] });
  const result = [Array.from(await out.first.frameScores.data()), Array.from(await out.logits.data())];
  disposeCpLlmOutput(out);
  contextFeatures.dispose();
  return result;
}

beforeAll(async () => {
  await useTestBackend();
  dir = await mkdtemp(join(tmpdir(), 'vqlm-models-bundle-'));
  bundle = join(dir, 'tiny');
  model = await CpLlm.create(cpLlmPreset('micro'), { tokenizer: presetTokenizer('micro') });
  perturb(model, 7);
  await saveBundle(model, bundle, { calibration: { kind: 'linear', slope: 2, intercept: 3 } });
});
afterAll(async () => {
  await model?.dispose();
  await rm(dir, { recursive: true, force: true });
});

/** A copy of the bundle with one file changed. */
async function corrupt(name: string, change: (path: string) => Promise<void>): Promise<string> {
  const copy = join(dir, name);
  const { cp } = await import('node:fs/promises');
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

describe('model bundle', () => {
  it('writes model.json, weights, the PEFT adapter and tokenizer.json, and nothing temporary', async () => {
    expect((await readdir(bundle)).sort()).toEqual(['adapter', 'context_tower.safetensors', 'decoder', 'model.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    expect((await readdir(join(bundle, 'adapter'))).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    expect((await readdir(dir)).filter((n) => n.includes('tmp'))).toEqual([]);
    const manifest = await readBundleManifest(bundle);
    expect(manifest.architecture).toBe('cp-llm');
    expect(manifest.config.m).toBe(2);
    expect(manifest.dims).toMatchObject({ model: 16, contextFeatures: 24, vocabulary: 96 });
    expect(manifest.versions.bundle).toBe('1');
    expect(manifest.versions['@vqlm/models']).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('round trip gives identical scores and logits, and the calibration back', async () => {
    const before = await outputs(model);
    const loaded = await loadBundle(bundle);
    try {
      const after = await outputs(loaded.model);
      expect(after[0]).toEqual(before[0]);
      expect(after[1]).toEqual(before[1]);
      expect(loaded.calibration).toEqual({ kind: 'linear', slope: 2, intercept: 3 });
    } finally {
      await loaded.model.dispose();
    }
    // Saving over an existing bundle replaces it atomically.
    await saveBundle(model, bundle, { calibration: { kind: 'linear', slope: 2, intercept: 3 } });
    expect((await readdir(dir)).filter((n) => n.includes('tmp'))).toEqual([]);
  });

  it('points at a user ONNX context tower; scores match the tfjs tower within 1e-4', async () => {
    const onnx = join(dir, 'siglip-like.onnx');
    await exportVitToOnnx((model.contextEncoder as TfjsContextEncoder).vit, onnx, { imageSize: 32 });
    const path = join(dir, 'onnx-bundle');
    await saveBundle(model, path, { contextTowerOnnx: onnx });
    expect(await readdir(path)).not.toContain(BUNDLE_FILES.contextTower);
    expect((await readBundleManifest(path)).files.contextTower).toEqual({ kind: 'onnx', path: onnx });
    const loaded = await loadBundle(path);
    try {
      expect(loaded.model.contextEncoder).not.toBeInstanceOf(TfjsContextEncoder);
      const [tfjsFrames, tfjsLogits] = await outputs(model);
      const [onnxFrames, onnxLogits] = await outputs(loaded.model);
      expect(Math.max(...onnxFrames.map((v, i) => Math.abs(v - tfjsFrames[i])))).toBeLessThan(1e-4);
      expect(Math.max(...onnxLogits.map((v, i) => Math.abs(v - tfjsLogits[i])))).toBeLessThan(1e-4);
    } finally {
      await loaded.model.dispose();
    }
  });

  it('names a missing tensor', async () => {
    const path = await corrupt('missing', (p) => rewriteWeights(p, (t) => delete t['quality_head.fc1.bias']));
    const error = await loadBundle(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelError);
    expect((error as ModelError).code).toBe('E_BUNDLE_TENSOR');
    expect((error as Error).message).toMatch(/model\.safetensors: missing tensor 'quality_head\.fc1\.bias' \(expected shape \[8\]\)/);
  });

  it('names a tensor of the wrong shape with both shapes', async () => {
    const path = await corrupt('shape', (p) =>
      rewriteWeights(p, (t) => {
        t['pixel_encoder.projector.weight'] = { shape: [16, 8], data: new Float32Array(128) };
      }),
    );
    await expect(loadBundle(path)).rejects.toThrow(/model\.safetensors: tensor 'pixel_encoder\.projector\.weight' has shape \[16, 8\], expected \[16, 16\]/);
  });

  it('names a missing LoRA adapter tensor', async () => {
    const path = await corrupt('adapter', async (p) => {
      const file = join(p, 'adapter', 'adapter_model.safetensors');
      const st = await openSafetensors(file);
      const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
      for (const name of st.names.slice(1)) tensors[name] = { shape: st.info(name).shape, data: await st.read(name) };
      const dropped = st.names[0];
      await st.close();
      await writeSafetensors(file, tensors);
      await writeFile(join(p, 'dropped.txt'), dropped);
    });
    const dropped = await readFile(join(path, 'dropped.txt'), 'utf8');
    const error = await loadBundle(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelError);
    expect((error as ModelError).code).toBe('E_BUNDLE_TENSOR');
    expect((error as Error).message).toContain(`adapter: adapter is missing tensor '${dropped}'`);
  });

  it('names the bad field of model.json', async () => {
    const path = await corrupt('config', async (p) => {
      const json = JSON.parse(await readFile(join(p, 'model.json'), 'utf8')) as { config: { m: number } };
      json.config.m = -1;
      await writeFile(join(p, 'model.json'), JSON.stringify(json));
    });
    const before = tf.memory().numTensors;
    const error = await loadBundle(path).catch((e: unknown) => e);
    expect(tf.memory().numTensors).toBe(before);
    expect(error).toBeInstanceOf(ModelError);
    expect((error as ModelError).code).toBe('E_BUNDLE_CONFIG');
    expect((error as Error).message).toMatch(/model\.json\.config\.m: /);
    const broken = await corrupt('json', (p) => writeFile(join(p, 'model.json'), '{ not json'));
    await expect(loadBundle(broken)).rejects.toThrow(/model\.json: not valid JSON/);
    await expect(loadBundle(join(dir, 'nowhere'))).rejects.toThrow(/cannot read model\.json \(ENOENT\)/);
  });

  it('loads a bundle whose model.json has no architecture (older writers) as CP-LLM', async () => {
    const path = await corrupt('no-architecture', async (p) => {
      const json = JSON.parse(await readFile(join(p, 'model.json'), 'utf8')) as { architecture?: string };
      delete json.architecture;
      delete (json as { config?: { describeLead?: unknown } }).config?.describeLead;
      await writeFile(join(p, 'model.json'), JSON.stringify(json));
    });
    expect(await readBundleArchitecture(path)).toBe('cp-llm');
    const loaded = await loadBundle(path);
    expect(loaded.manifest.architecture).toBe('cp-llm');
    expect(loaded.model.config.describeLead).toBeNull();
    expect(await outputs(loaded.model)).toEqual(await outputs(model));
    await loaded.model.dispose();
    const unknown = await corrupt('arch', async (p) => {
      const json = JSON.parse(await readFile(join(p, 'model.json'), 'utf8')) as { architecture?: string };
      json.architecture = 'gpt';
      await writeFile(join(p, 'model.json'), JSON.stringify(json));
    });
    await expect(loadBundle(unknown)).rejects.toThrow(/model\.json\.architecture: expected 'cp-llm', 'lmm-vqa' or 'cp-llm-ensemble', got "gpt"/);
  });
});
