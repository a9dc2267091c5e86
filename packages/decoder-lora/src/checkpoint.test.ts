import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng, expectNoTensorLeak, tf, writeSafetensors } from '@vqlm/runtime';
import { loadGemmaCheckpoint, saveGemmaCheckpoint } from './checkpoint.js';
import { DecoderError } from './decoder-error.js';
import { parseGemmaConfig, toHfGemmaConfig } from './gemma-config.js';
import { expectedGemmaTensors } from './gemma-weights.js';
import { maxAbsDiff, readWeight, tempDir, tinyGemma2Config, useCpuBackend } from './__fixtures__/tiny.js';

/** bf16 rounding of a float32 (round to nearest even), as the writer stores it. */
function bf16(value: number): number {
  const f = new Float32Array([value]);
  const u = new Uint32Array(f.buffer);
  u[0] = ((u[0] + 0x7fff + ((u[0] >>> 16) & 1)) >>> 16) << 16;
  return f[0];
}

describe('Gemma checkpoints (HF naming, bf16)', () => {
  const config = tinyGemma2Config();
  const rng = createRng(21);
  const data = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, shape] of expectedGemmaTensors(config)) {
    data.set(name, { shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal() * 0.1) });
  }
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    await useCpuBackend();
    tmp = await tempDir();
  });
  afterAll(() => tmp.remove());

  async function writeSingle(dir: string, tensors: Map<string, { shape: number[]; data: Float32Array }>): Promise<void> {
    await writeFile(join(dir, 'config.json'), JSON.stringify({ ...toHfGemmaConfig(config), torch_dtype: 'bfloat16' }));
    await writeSafetensors(join(dir, 'model.safetensors'), Object.fromEntries(tensors), { dtype: 'BF16' });
  }

  it('loads a single-file bf16 checkpoint: config, every tensor, shapes and values', async () => {
    const dir = join(tmp.dir, 'single');
    await (await import('node:fs/promises')).mkdir(dir);
    await writeSingle(dir, data);
    const decoder = await loadGemmaCheckpoint(dir);
    expect(decoder.config).toEqual(config);
    const q = readWeight(decoder, 'model.layers.1.self_attn.q_proj.weight');
    expect(q.shape).toEqual([32, 32]);
    expect(readWeight(decoder, 'model.layers.0.self_attn.k_proj.weight').shape).toEqual([16, 32]);
    expect(readWeight(decoder, 'model.layers.0.pre_feedforward_layernorm.weight').shape).toEqual([32]);
    expect(readWeight(decoder, 'model.embed_tokens.weight').shape).toEqual([64, 32]);
    expect(decoder.weightNames().sort()).toEqual([...data.keys()].sort());
    for (const [name, { data: values }] of data) {
      expect(maxAbsDiff(readWeight(decoder, name).data, values.map(bf16))).toBe(0);
    }
    for (const tensor of decoder.storedWeights().values()) expect(tensor).not.toBeInstanceOf(tf.Variable);
    await expectNoTensorLeak(() => {
      const logits = decoder.forward({ tokenIds: [[1, 2, 3]] });
      expect(logits.shape).toEqual([1, 3, 64]);
      logits.dispose();
    });
    decoder.dispose();
  });

  it('loads a sharded checkpoint (index json) to the same weights, from the directory or the index file', async () => {
    const single = await loadGemmaCheckpoint(join(tmp.dir, 'single', 'model.safetensors'));
    const dir = join(tmp.dir, 'sharded');
    const files = await saveGemmaCheckpoint(dir, single, { dtype: 'BF16', maxShardBytes: 8000 });
    expect(files.length).toBeGreaterThan(3);
    expect(files.at(-1)).toMatch(/model\.safetensors\.index\.json$/);
    for (const source of [dir, join(dir, 'model.safetensors.index.json')]) {
      const sharded = await loadGemmaCheckpoint(source);
      for (const name of single.weightNames()) {
        expect(maxAbsDiff(readWeight(sharded, name).data, readWeight(single, name).data)).toBe(0);
      }
      sharded.dispose();
    }
    single.dispose();
  });

  it('names a missing tensor', async () => {
    const dir = join(tmp.dir, 'missing');
    await (await import('node:fs/promises')).mkdir(dir);
    const partial = new Map(data);
    partial.delete('model.layers.1.mlp.down_proj.weight');
    await writeSingle(dir, partial);
    await expect(loadGemmaCheckpoint(dir)).rejects.toThrow(DecoderError);
    await expect(loadGemmaCheckpoint(dir)).rejects.toThrow(/missing tensor 'model\.layers\.1\.mlp\.down_proj\.weight' \(expected shape \[32, 64\]\)/);
  });

  it('names a misshapen tensor with both shapes', async () => {
    const dir = join(tmp.dir, 'misshapen');
    await (await import('node:fs/promises')).mkdir(dir);
    const bad = new Map(data);
    bad.set('model.layers.0.self_attn.v_proj.weight', { shape: [32, 32], data: new Float32Array(32 * 32) });
    await writeSingle(dir, bad);
    await expect(loadGemmaCheckpoint(dir)).rejects.toThrow(/tensor 'model\.layers\.0\.self_attn\.v_proj\.weight' has shape \[32, 32\], expected \[16, 32\]/);
  });

  it('reports a missing checkpoint directory', async () => {
    await expect(loadGemmaCheckpoint(join(tmp.dir, 'nope'))).rejects.toThrow(/checkpoint path '.*nope' does not exist/);
  });
});

describe('parseGemmaConfig', () => {
  it('reads Gemma 1 fields with HF defaults (head_dim, MQA, tanh GELU)', () => {
    const c = parseGemmaConfig({
      model_type: 'gemma', vocab_size: 256000, hidden_size: 2048, intermediate_size: 16384, num_hidden_layers: 18,
      num_attention_heads: 8, num_key_value_heads: 1, head_dim: 256, rms_norm_eps: 1e-6, rope_theta: 10000, hidden_act: 'gelu',
    });
    expect(c).toMatchObject({ modelType: 'gemma', numKeyValueHeads: 1, headDim: 256, activation: 'gelu_tanh', queryPreAttnScalar: 256, attnLogitSoftcapping: null, slidingWindow: null });
  });

  it('reads Gemma 2 soft-capping, query_pre_attn_scalar and sliding window', () => {
    const c = parseGemmaConfig({
      model_type: 'gemma2', vocab_size: 256000, hidden_size: 2304, intermediate_size: 9216, num_hidden_layers: 26,
      num_attention_heads: 8, num_key_value_heads: 4, head_dim: 256, hidden_activation: 'gelu_pytorch_tanh',
      query_pre_attn_scalar: 256, attn_logit_softcapping: 50, final_logit_softcapping: 30, sliding_window: 4096,
    });
    expect(c).toMatchObject({ modelType: 'gemma2', attnLogitSoftcapping: 50, finalLogitSoftcapping: 30, slidingWindow: 4096, numKeyValueHeads: 4 });
  });

  it('rejects bad fields by name', () => {
    expect(() => parseGemmaConfig({ model_type: 'llama' })).toThrow(/'model_type' must be 'gemma' or 'gemma2', got "llama"/);
    expect(() => parseGemmaConfig({ vocab_size: 10, hidden_size: -1 })).toThrow(/'hidden_size' must be a positive integer, got -1/);
    expect(() =>
      parseGemmaConfig({ vocab_size: 10, hidden_size: 8, intermediate_size: 8, num_hidden_layers: 1, num_attention_heads: 3, num_key_value_heads: 2, head_dim: 4 }),
    ).toThrow(DecoderError);
  });
});
