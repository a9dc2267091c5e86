import { tf } from './tf.js';

let registered: Promise<void> | undefined;

/**
 * Registers tfjs's gradient functions (`tf.grads`, `optimizer.minimize` need
 * them). `@tensorflow/tfjs-core` alone does not register any: its Node build
 * leaves that to the `@tensorflow/tfjs` union package, whose Node bundle
 * registers every gradient config when loaded (its ESM sources cannot be
 * loaded by Node directly). Called by {@link initBackend}; idempotent.
 */
export function registerGradients(): Promise<void> {
  registered ??= (async () => {
    if (tf.getGradient('GatherV2') !== undefined && tf.getGradient('Add') !== undefined) return;
    await import('@tensorflow/tfjs');
  })();
  return registered;
}
