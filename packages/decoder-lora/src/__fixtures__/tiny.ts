import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng, initBackend, tf } from '@vqlm/runtime';
import { createGemmaConfig, type GemmaConfig, type GemmaConfigInit } from '../gemma-config.js';
import { GemmaDecoder } from '../gemma-decoder.js';
import { initGemmaWeights } from '../gemma-weights.js';

/** Tests run on the tfjs cpu backend (present everywhere). */
export async function useCpuBackend(): Promise<void> {
  await initBackend({ backend: 'cpu', log: () => {} });
}

/** D=32, 2 layers, 4 query heads over 2 KV heads (GQA), hd=8, V=64. */
export function tinyConfig(overrides: Partial<GemmaConfigInit> = {}): GemmaConfig {
  return createGemmaConfig({
    vocabSize: 64,
    hiddenSize: 32,
    intermediateSize: 64,
    numHiddenLayers: 2,
    numAttentionHeads: 4,
    numKeyValueHeads: 2,
    headDim: 8,
    ...overrides,
  });
}

/** Gemma 2 flavour: four norms per layer, soft-capping, query_pre_attn_scalar, sliding window. */
export function tinyGemma2Config(overrides: Partial<GemmaConfigInit> = {}): GemmaConfig {
  return tinyConfig({
    modelType: 'gemma2',
    attnLogitSoftcapping: 5,
    finalLogitSoftcapping: 3,
    queryPreAttnScalar: 16,
    slidingWindow: 6,
    ...overrides,
  });
}

/** A random decoder; std 0.2 (and random norm weights) so logits are far from uniform. */
export function tinyDecoder(config: GemmaConfig = tinyConfig(), seed = 1, embeddingStd = 0.2): GemmaDecoder {
  const rng = createRng(seed);
  const weights = initGemmaWeights(config, rng, 0.2);
  for (const [name, tensor] of weights) {
    if (name === 'model.embed_tokens.weight' && embeddingStd !== 0.2) {
      weights.set(name, tf.tidy(() => tf.mul(tensor, embeddingStd / 0.2)));
      tensor.dispose();
    } else if (tensor.rank === 1) {
      const data = new Float32Array(tensor.size).map(() => rng.normal() * 0.1);
      weights.set(name, tf.tensor1d(data));
      tensor.dispose();
    }
  }
  return new GemmaDecoder(config, weights);
}

/** A fresh temporary directory and its remover. */
export async function tempDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'vqlm-decoder-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Largest absolute difference between two float arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i += 1) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** Base weight `name` of a decoder in HF layout, read back to the CPU. */
export function readWeight(decoder: GemmaDecoder, name: string): { shape: number[]; data: Float32Array } {
  const tensor = decoder.weight(name);
  const result = { shape: tensor.shape, data: tensor.dataSync() as Float32Array };
  tensor.dispose();
  return result;
}

/** Every base weight of a decoder in HF layout. */
export function readWeights(decoder: GemmaDecoder): Map<string, Float32Array> {
  return new Map(decoder.weightNames().map((n) => [n, readWeight(decoder, n).data]));
}
