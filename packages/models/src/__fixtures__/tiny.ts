import { buildWordPieceTokenizer, createGemmaConfig, type TokenizerFiles } from '@vqlm/decoder-lora';
import { vitConfig } from '@vqlm/encoders';
import { initBackend, tf, type BackendName } from '@vqlm/runtime';
import { createCpLlmConfig, type CpLlmConfig } from '../config.js';

/** Selects the tfjs backend of the tests: `VQLM_TEST_BACKEND`, default wasm (the CI backend). */
export async function useTestBackend(): Promise<void> {
  const backend = (process.env.VQLM_TEST_BACKEND ?? 'wasm') as BackendName;
  await initBackend({ backend, log: () => undefined });
}

/** A few sentences for a tiny tokenizer. */
export const TINY_CORPUS = [
  'describe the quality of this video.',
  'compare the quality of these two videos.',
  'the video is sharp and clean.',
  'heavy blocking and blur; the first video is better.',
];

export function tinyTokenizer(): TokenizerFiles {
  return buildWordPieceTokenizer(TINY_CORPUS, { vocabSize: 96 });
}

/** A test-sized CP-LLM: M = 2, K = 2, 32² context and pixel patches, D = 16. */
export function tinyConfig(overrides: Partial<Pick<CpLlmConfig, 'm' | 'k' | 'seed'>> = {}): CpLlmConfig {
  return createCpLlmConfig({
    m: overrides.m ?? 2,
    k: overrides.k ?? 2,
    contextSize: 32,
    patchSize: 32,
    pixelFit: [32, 64],
    contextVit: vitConfig('micro', { hiddenSize: 24, numLayers: 1, numHeads: 2, mlpDim: 32, classToken: false, gelu: 'tanh' }),
    pixelVit: vitConfig('micro', { numLayers: 1, hiddenSize: 16, numHeads: 2, mlpDim: 32 }),
    decoder: createGemmaConfig({ vocabSize: 96, hiddenSize: 16, intermediateSize: 32, numHiddenLayers: 1, numAttentionHeads: 2, numKeyValueHeads: 1, headDim: 8 }),
    head: { hidden: 8 },
    maxDescriptionTokens: 4,
    seed: overrides.seed ?? 3,
  });
}

/** Deterministic pseudo-random bytes. */
export function bytes(count: number, seed: number): Uint8Array {
  const out = new Uint8Array(count);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = (x >>> 0) & 255;
  }
  return out;
}

/** Live tensor count. */
export function liveTensors(): number {
  return tf.memory().numTensors;
}
