/**
 * A test-sized CP-LLM bundle for the model commands (score, compare, describe,
 * eval, flip-rate): the `micro` preset of `@vqlm/models` (random seeded
 * weights). Built in the test, saved to a temp dir; callers remove it with the dir.
 */
import { join } from 'node:path';
import { CpLlm, cpLlmPreset, presetTokenizer, saveBundle } from '@vqlm/models';
import { initBackend, type BackendName } from '@vqlm/runtime';

/** Selects the tests' tfjs backend (`VQLM_TEST_BACKEND`, default wasm, the CI backend). */
export async function useTestBackend(): Promise<void> {
  await initBackend({ backend: (process.env.VQLM_TEST_BACKEND ?? 'wasm') as BackendName, log: () => undefined });
}

/** Writes a `micro` CP-LLM bundle to `<dir>/<name>` (default `bundle`) and returns its path. */
export async function makeTinyBundle(dir: string, seed = 3, name = 'bundle'): Promise<string> {
  await useTestBackend();
  const model = await CpLlm.create(cpLlmPreset('micro', { seed }), { tokenizer: presetTokenizer('micro') });
  const bundle = join(dir, name);
  try {
    await saveBundle(model, bundle, { calibration: { kind: 'linear', slope: 2, intercept: 3 } });
  } finally {
    await model.dispose();
  }
  return bundle;
}
