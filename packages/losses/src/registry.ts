import type { tf } from '@vqlm/runtime';
import { LossError } from './errors.js';
import type { LossSpec } from './loss-spec.js';
import { maskedMse } from './masked-mse.js';
import { monotonicityLoss } from './monotonicity-loss.js';
import { plccLoss } from './plcc-loss.js';
import { rankingHinge } from './ranking-hinge.js';
import { tokenCrossEntropy } from './token-cross-entropy.js';

type Inputs = Readonly<Record<string, tf.Tensor>>;

function defineLoss(
  name: string,
  reference: string,
  inputs: readonly string[],
  optionalInputs: readonly string[],
  run: (x: Inputs) => tf.Scalar,
): LossSpec {
  return Object.freeze({
    name,
    reference,
    inputs: Object.freeze([...inputs]),
    optionalInputs: Object.freeze([...optionalInputs]),
    compute(x: Inputs): tf.Scalar {
      for (const key of inputs) {
        if (x[key] === undefined) {
          throw new LossError('E_LOSS_ARG', `${name}: missing input '${key}' (needs ${inputs.join(', ')})`);
        }
      }
      for (const key of Object.keys(x)) {
        if (!inputs.includes(key) && !optionalInputs.includes(key)) {
          const accepted = [...inputs, ...optionalInputs].join(', ');
          throw new LossError('E_LOSS_ARG', `${name}: unknown input '${key}' (accepts ${accepted})`);
        }
      }
      return run(x);
    },
  });
}

/**
 * The losses this package ships, as data. Input names:
 * - `rankingHinge`: `q1`, `q2`, `qHat1`, `qHat2` (all [B]);
 * - `maskedMse`: `pred`, `target`, `mask` ([B]);
 * - `tokenCrossEntropy`: `logits` [B, T, V], `targets` [B, T] int32, optional
 *   `paddingMask` [B, T] (ignore index −100);
 * - `plccLoss`, `monotonicityLoss`: `pred`, `target` ([B]).
 */
export const builtinLosses: readonly LossSpec[] = Object.freeze([
  defineLoss('rankingHinge', 'CP-LLM Eq. 1', ['q1', 'q2', 'qHat1', 'qHat2'], [], (x) =>
    rankingHinge(x.q1, x.q2, x.qHat1, x.qHat2),
  ),
  defineLoss('maskedMse', 'CP-LLM Eq. 2', ['pred', 'target', 'mask'], [], (x) => maskedMse(x.pred, x.target, x.mask)),
  defineLoss('tokenCrossEntropy', 'CP-LLM Eq. 3', ['logits', 'targets'], ['paddingMask'], (x) =>
    tokenCrossEntropy(x.logits, x.targets, x.paddingMask === undefined ? {} : { paddingMask: x.paddingMask }),
  ),
  defineLoss('plccLoss', 'FAST-VQA / DOVER PLCC loss', ['pred', 'target'], [], (x) => plccLoss(x.pred, x.target)),
  defineLoss('monotonicityLoss', 'FAST-VQA / DOVER rank loss', ['pred', 'target'], [], (x) =>
    monotonicityLoss(x.pred, x.target),
  ),
]);

/** Name → {@link LossSpec} lookup, filled by explicit `register` calls. */
export class LossRegistry {
  private readonly specs = new Map<string, LossSpec>();

  /**
   * Adds a loss. Throws `E_LOSS_ARG` when the name is already taken.
   * @returns this registry, for chaining
   */
  register(spec: LossSpec): this {
    if (this.specs.has(spec.name)) {
      throw new LossError('E_LOSS_ARG', `LossRegistry.register: a loss named '${spec.name}' is already registered`);
    }
    this.specs.set(spec.name, spec);
    return this;
  }

  /** The loss named `name`; throws `E_LOSS_ARG` listing the known names when there is none. */
  get(name: string): LossSpec {
    const spec = this.specs.get(name);
    if (spec === undefined) {
      throw new LossError('E_LOSS_ARG', `LossRegistry.get: unknown loss '${name}' (known: ${this.names().join(', ')})`);
    }
    return spec;
  }

  /** Whether a loss named `name` is registered. */
  has(name: string): boolean {
    return this.specs.has(name);
  }

  /** Registered names, in registration order. */
  names(): string[] {
    return [...this.specs.keys()];
  }
}

/**
 * A registry holding `specs` (default: {@link builtinLosses}); register your
 * own losses on it.
 */
export function createLossRegistry(specs: readonly LossSpec[] = builtinLosses): LossRegistry {
  const registry = new LossRegistry();
  for (const spec of specs) registry.register(spec);
  return registry;
}
