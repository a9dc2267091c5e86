import { initBackend, tf, type BackendName } from '@vqlm/runtime';

/** Test helpers; the test model is `cpLlmPreset('micro')` with `presetTokenizer('micro')` (src/presets.ts). */

/** Selects the tfjs backend of the tests: `VQLM_TEST_BACKEND`, default wasm (the CI backend). */
export async function useTestBackend(): Promise<void> {
  const backend = (process.env.VQLM_TEST_BACKEND ?? 'wasm') as BackendName;
  await initBackend({ backend, log: () => undefined });
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
