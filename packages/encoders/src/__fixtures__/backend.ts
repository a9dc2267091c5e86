import { initBackend, tf, type BackendName } from '@vqlm/runtime';

/** Selects the tfjs backend the tests run on: `VQLM_TEST_BACKEND`, default wasm (the CI training backend). */
export async function useTestBackend(): Promise<void> {
  const backend = (process.env.VQLM_TEST_BACKEND ?? 'wasm') as BackendName;
  await initBackend({ backend, log: () => undefined });
}

/** Max |a − b| over two equally long arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Runs `fn` and fails when the live tensor count changed. */
export async function noLeak<T>(fn: () => Promise<T> | T): Promise<T> {
  const before = tf.memory().numTensors;
  const out = await fn();
  const after = tf.memory().numTensors;
  if (after !== before) throw new Error(`tensor leak: ${before} before, ${after} after`);
  return out;
}
