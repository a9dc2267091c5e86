import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRng, expectNoTensorLeak, openSafetensors, tf } from '@vqlm/runtime';
import { DecoderError } from './decoder-error.js';
import type { GemmaDecoder } from './gemma-decoder.js';
import { parsePeftAdapterConfig, resolveLoraConfig } from './lora.js';
import { loadLoraAdapter, saveLoraAdapter } from './lora-io.js';
import { maxAbsDiff, readWeight, tempDir, tinyDecoder, tinyGemma2Config, useCpuBackend } from './__fixtures__/tiny.js';

/** Gives every B a random value so that the adapters change the output. */
function randomizeB(decoder: GemmaDecoder, seed: number): void {
  const rng = createRng(seed);
  for (const adapter of decoder.loraAdapters().values()) {
    const values = tf.tensor(Float32Array.from({ length: adapter.b.size }, () => rng.normal() * 0.3), adapter.b.shape);
    adapter.b.assign(values);
    values.dispose();
  }
}

function logits(decoder: GemmaDecoder, training = false): Float32Array {
  const prefix = tf.tidy(() => tf.randomNormal<tf.Rank.R3>([2, 3, 32], 0, 1, 'float32', 7));
  const out = decoder.forward({ prefixEmbeddings: prefix, tokenIds: [[2, 5, 9, 11], [2, 6, 10, 12]], training });
  const data = out.dataSync() as Float32Array;
  tf.dispose([out, prefix]);
  return data;
}

describe('LoRA', () => {
  let decoder: GemmaDecoder | null = null;
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    await useCpuBackend();
    tmp = await tempDir();
  });
  afterAll(() => tmp.remove());
  afterEach(() => {
    decoder?.dispose();
    decoder = null;
  });

  it('defaults to rank 4 on q, k, v; A is kaiming-uniform, B is zero; only adapters are variables', () => {
    decoder = tinyDecoder();
    const config = decoder.addLora();
    expect(config).toEqual({ r: 4, alpha: 4, dropout: 0, targetModules: ['q_proj', 'k_proj', 'v_proj'] });
    const vars = decoder.trainableVariables();
    expect(vars).toHaveLength(2 * 3 * 2);
    const q = decoder.loraAdapters().get('model.layers.0.self_attn.q_proj')!;
    expect(q.a.shape).toEqual([4, 32]);
    expect(q.b.shape).toEqual([32, 4]);
    const k = decoder.loraAdapters().get('model.layers.1.self_attn.k_proj')!;
    expect(k.b.shape).toEqual([16, 4]);
    const a = q.a.dataSync();
    const bound = 1 / Math.sqrt(32);
    expect(Math.max(...a.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...a.map(Math.abs))).toBeGreaterThan(bound * 0.5);
    expect(Math.max(...q.b.dataSync().map(Math.abs))).toBe(0);
    for (const tensor of decoder.storedWeights().values()) expect(tensor instanceof tf.Variable).toBe(false);
    expect(vars.every((v) => v instanceof tf.Variable && v.trainable)).toBe(true);
  });

  it('with B = 0 equals the base model', () => {
    decoder = tinyDecoder();
    const base = logits(decoder);
    decoder.addLora({ r: 8, alpha: 16, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'down_proj'] });
    expect(maxAbsDiff(logits(decoder), base)).toBe(0);
  });

  it('merged equals unmerged (1e-5), and unmerge restores the base weights', async () => {
    decoder = tinyDecoder(tinyGemma2Config());
    const baseQ = readWeight(decoder, 'model.layers.0.self_attn.q_proj.weight').data;
    decoder.addLora({ r: 4, alpha: 8, targetModules: ['q_proj', 'k_proj', 'v_proj', 'gate_proj'] });
    randomizeB(decoder, 3);
    const unmerged = logits(decoder);
    const d = decoder;
    await expectNoTensorLeak(() => d.mergeLora());
    expect(decoder.merged).toBe(true);
    expect(maxAbsDiff(readWeight(decoder, 'model.layers.0.self_attn.q_proj.weight').data, baseQ)).toBeGreaterThan(1e-3);
    const merged = logits(decoder);
    expect(maxAbsDiff(merged, unmerged)).toBeLessThan(1e-5);
    decoder.unmergeLora();
    expect(maxAbsDiff(readWeight(decoder, 'model.layers.0.self_attn.q_proj.weight').data, baseQ)).toBeLessThan(1e-6);
    expect(maxAbsDiff(logits(decoder), unmerged)).toBeLessThan(1e-5);
    expect(() => decoder!.unmergeLora()).toThrow(/unmergeLora: adapters are not merged/);
  });

  it('applies dropout on the adapter input in training forwards only', () => {
    decoder = tinyDecoder();
    decoder.addLora({ dropout: 0.5 });
    randomizeB(decoder, 4);
    const evalA = logits(decoder);
    expect(maxAbsDiff(logits(decoder), evalA)).toBe(0);
    expect(maxAbsDiff(logits(decoder, true), evalA)).toBeGreaterThan(1e-4);
  });

  it('saves adapters alone with PEFT names and adapter_config.json, and loads them back', async () => {
    decoder = tinyDecoder();
    decoder.addLora({ r: 2, alpha: 4, dropout: 0.1, targetModules: ['q_proj', 'v_proj'] }, 11);
    randomizeB(decoder, 5);
    const before = logits(decoder);
    const dir = join(tmp.dir, 'adapter');
    await saveLoraAdapter(dir, decoder, { baseModel: 'tiny' });
    const config = JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8'));
    expect(config).toMatchObject({ peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 2, lora_alpha: 4, lora_dropout: 0.1, target_modules: ['q_proj', 'v_proj'], bias: 'none' });
    const file = await openSafetensors(join(dir, 'adapter_model.safetensors'));
    expect(file.names).toHaveLength(2 * 2 * 2);
    expect(file.names).toContain('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight');
    expect(file.info('base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight').shape).toEqual([16, 2]);
    await file.close();

    const fresh = tinyDecoder();
    expect(maxAbsDiff(logits(fresh), before)).toBeGreaterThan(1e-4);
    const loaded = await loadLoraAdapter(dir, fresh);
    expect(loaded).toEqual({ r: 2, alpha: 4, dropout: 0.1, targetModules: ['q_proj', 'v_proj'] });
    expect(maxAbsDiff(logits(fresh), before)).toBe(0);
    fresh.dispose();
  });

  it('loading an adapter outside tf.tidy leaks no tensor', async () => {
    decoder = tinyDecoder();
    decoder.addLora({ r: 2, alpha: 4, targetModules: ['q_proj', 'k_proj', 'v_proj'] }, 3);
    const dir = join(tmp.dir, 'adapter-leak');
    await saveLoraAdapter(dir, decoder);
    const fresh = tinyDecoder();
    const before = tf.memory().numTensors;
    await loadLoraAdapter(dir, fresh);
    // 2 layers × 3 modules × (A, B) variables, nothing else
    expect(tf.memory().numTensors - before).toBe(2 * 3 * 2);
    fresh.removeLora();
    expect(tf.memory().numTensors).toBe(before);
    fresh.dispose();
  });

  it('names a missing adapter tensor and leaves no adapter attached', async () => {
    decoder = tinyDecoder();
    decoder.addLora({ targetModules: ['q_proj'] });
    const dir = join(tmp.dir, 'adapter-q');
    await saveLoraAdapter(dir, decoder);
    const config = JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8'));
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(dir, 'adapter_config.json'), JSON.stringify({ ...config, target_modules: ['q_proj', 'o_proj'] }));
    const other = tinyDecoder();
    await expect(loadLoraAdapter(dir, other)).rejects.toThrow(/adapter is missing tensor 'base_model\.model\.model\.layers\.0\.self_attn\.o_proj\.lora_A\.weight'/);
    expect(other.loraConfig).toBeNull();
    other.dispose();
  });

  it('rejects bad LoRA configs by field', () => {
    expect(() => resolveLoraConfig({ r: 0 })).toThrow(DecoderError);
    expect(() => resolveLoraConfig({ r: 0 })).toThrow(/lora 'r' must be a positive integer, got 0/);
    expect(() => resolveLoraConfig({ dropout: 1 })).toThrow(/lora 'dropout' must be in \[0, 1\), got 1/);
    expect(() => resolveLoraConfig({ targetModules: ['qkv' as never] })).toThrow(/unknown module 'qkv'/);
    expect(() => parsePeftAdapterConfig({ peft_type: 'IA3' })).toThrow(/'peft_type' must be 'LORA', got "IA3"/);
  });

  it('refuses merge without adapters and saving without adapters', async () => {
    decoder = tinyDecoder();
    expect(() => decoder!.mergeLora()).toThrow(/mergeLora: no LoRA adapters attached/);
    await expect(saveLoraAdapter(join(tmp.dir, 'none'), decoder)).rejects.toThrow(/saveLoraAdapter: the decoder has no LoRA adapters/);
  });
});
