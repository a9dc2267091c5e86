/**
 * A test-sized CP-LLM bundle for the model commands (score, compare, describe,
 * eval): random seeded weights, M = 2, K = 2, 32² views, D = 16. Built in the
 * test, saved to a temp dir; callers remove it with the dir.
 */
import { join } from 'node:path';
import { buildWordPieceTokenizer, createGemmaConfig } from '@vqlm/decoder-lora';
import { vitConfig } from '@vqlm/encoders';
import { CpLlm, createCpLlmConfig, saveBundle } from '@vqlm/models';
import { initBackend, type BackendName } from '@vqlm/runtime';

/** Selects the tests' tfjs backend (`VQLM_TEST_BACKEND`, default wasm, the CI backend). */
export async function useTestBackend(): Promise<void> {
  await initBackend({ backend: (process.env.VQLM_TEST_BACKEND ?? 'wasm') as BackendName, log: () => undefined });
}

/** Writes a tiny random CP-LLM bundle to `<dir>/bundle` and returns its path. */
export async function makeTinyBundle(dir: string, seed = 3): Promise<string> {
  await useTestBackend();
  const config = createCpLlmConfig({
    m: 2,
    k: 2,
    contextSize: 32,
    patchSize: 32,
    pixelFit: [32, 64],
    contextVit: vitConfig('micro', { hiddenSize: 24, numLayers: 1, numHeads: 2, mlpDim: 32, classToken: false, gelu: 'tanh' }),
    pixelVit: vitConfig('micro', { numLayers: 1, hiddenSize: 16, numHeads: 2, mlpDim: 32 }),
    decoder: createGemmaConfig({ vocabSize: 96, hiddenSize: 16, intermediateSize: 32, numHiddenLayers: 1, numAttentionHeads: 2, numKeyValueHeads: 1, headDim: 8 }),
    head: { hidden: 8 },
    maxDescriptionTokens: 4,
    seed,
  });
  const tokenizer = buildWordPieceTokenizer(
    ['describe the quality of this video.', 'compare the quality of these two videos.', 'the video is sharp and clean.', 'heavy blocking and blur; the first video is better.'],
    { vocabSize: 96 },
  );
  const model = await CpLlm.create(config, { tokenizer });
  const bundle = join(dir, 'bundle');
  try {
    await saveBundle(model, bundle, { calibration: { kind: 'linear', slope: 2, intercept: 3 } });
  } finally {
    await model.dispose();
  }
  return bundle;
}
