import { matMul, tf } from '@vqlm/runtime';
import { DecoderError } from './decoder-error.js';
import { GEMMA_LINEAR_MODULES, type GemmaLinearName } from './gemma-weights.js';

/** LoRA hyper-parameters (PEFT semantics: `scaling = alpha / r`). */
export interface LoraConfig {
  /** Rank r of the update `B·A`. */
  r: number;
  /** `lora_alpha`; the update is scaled by `alpha / r`. */
  alpha: number;
  /** Dropout probability on the adapter's input, applied only in training forwards. */
  dropout: number;
  /** Linear modules to adapt in every layer. CP-LLM: `['q_proj', 'k_proj', 'v_proj']`. */
  targetModules: GemmaLinearName[];
}

/** CP-LLM's adapter: rank 4 on q, k and v (alpha = r, no dropout). */
export const DEFAULT_LORA_CONFIG: Readonly<LoraConfig> = Object.freeze({
  r: 4,
  alpha: 4,
  dropout: 0,
  targetModules: ['q_proj', 'k_proj', 'v_proj'] as GemmaLinearName[],
});

/** Fills and checks a partial LoRA config. @throws DecoderError `INVALID_ARGUMENT` naming the field. */
export function resolveLoraConfig(init: Partial<LoraConfig> = {}): LoraConfig {
  const config: LoraConfig = { ...DEFAULT_LORA_CONFIG, ...init, targetModules: [...(init.targetModules ?? DEFAULT_LORA_CONFIG.targetModules)] };
  if (!Number.isInteger(config.r) || config.r <= 0) {
    throw new DecoderError('INVALID_ARGUMENT', `lora 'r' must be a positive integer, got ${config.r}`);
  }
  if (!Number.isFinite(config.alpha) || config.alpha <= 0) {
    throw new DecoderError('INVALID_ARGUMENT', `lora 'alpha' must be a positive number, got ${config.alpha}`);
  }
  if (!(config.dropout >= 0 && config.dropout < 1)) {
    throw new DecoderError('INVALID_ARGUMENT', `lora 'dropout' must be in [0, 1), got ${config.dropout}`);
  }
  if (config.targetModules.length === 0) {
    throw new DecoderError('INVALID_ARGUMENT', "lora 'targetModules' must name at least one module");
  }
  for (const name of config.targetModules) {
    if (!(name in GEMMA_LINEAR_MODULES)) {
      throw new DecoderError(
        'INVALID_ARGUMENT',
        `lora 'targetModules' has unknown module '${String(name)}'; expected one of ${Object.keys(GEMMA_LINEAR_MODULES).join(', ')}`,
      );
    }
  }
  return config;
}

/** Source of uniform numbers in [0, 1) (e.g. `createRng(seed)` of `@vqlm/runtime`). */
export interface UniformSource {
  next(): number;
}

/**
 * The adapter of one linear module `W [out, in]`: `lora_A [r, in]` (kaiming-uniform, as PEFT:
 * U(-1/√in, 1/√in)) and `lora_B [out, r]` (zeros). Both are tfjs variables; the base weight is not.
 */
export class LoraAdapter {
  readonly modulePath: string;
  readonly a: tf.Variable;
  readonly b: tf.Variable;
  readonly scaling: number;
  readonly dropout: number;

  constructor(modulePath: string, outFeatures: number, inFeatures: number, config: LoraConfig, rng: UniformSource) {
    this.modulePath = modulePath;
    this.scaling = config.alpha / config.r;
    this.dropout = config.dropout;
    const bound = 1 / Math.sqrt(inFeatures);
    const aData = new Float32Array(config.r * inFeatures);
    for (let i = 0; i < aData.length; i += 1) aData[i] = (rng.next() * 2 - 1) * bound;
    const safeName = modulePath.replace(/\./g, '/');
    // tf.variable copies its initial value: dispose the initial tensors so that
    // creating an adapter outside tf.tidy (e.g. when loading one) leaks nothing.
    const initialA = tf.tensor2d(aData, [config.r, inFeatures]);
    const initialB = tf.zeros([outFeatures, config.r]);
    this.a = tf.variable(initialA, true, `${safeName}/lora_A_${variableId}`);
    this.b = tf.variable(initialB, true, `${safeName}/lora_B_${variableId}`);
    initialA.dispose();
    initialB.dispose();
    variableId += 1;
  }

  /** `scaling · B·A`, shape `[out, in]` (the update a merge adds to W). */
  delta(): tf.Tensor2D {
    return tf.tidy(() => tf.mul(tf.matMul(this.b, this.a), this.scaling));
  }

  /**
   * The adapter's contribution for inputs `x [N, in]`: `scaling · dropout(x) · Aᵀ · Bᵀ`, shape `[N, out]`.
   * @param dropoutSeed seed of the dropout mask when training (dropout > 0), else ignored.
   */
  apply(x: tf.Tensor2D, training: boolean, dropoutSeed: number): tf.Tensor2D {
    return tf.tidy(() => {
      const input = training && this.dropout > 0 ? tf.dropout(x, this.dropout, undefined, dropoutSeed) : x;
      const low = matMul(input, tf.transpose(this.a));
      return tf.mul<tf.Tensor2D>(matMul(low, tf.transpose(this.b)), this.scaling);
    });
  }

  dispose(): void {
    this.a.dispose();
    this.b.dispose();
  }
}

let variableId = 0;

/** PEFT's name of an adapter tensor: `base_model.model.<module>.lora_A.weight`. */
export function peftTensorName(modulePath: string, which: 'A' | 'B'): string {
  return `base_model.model.${modulePath}.lora_${which}.weight`;
}

/** The `adapter_config.json` PEFT writes for a LoRA on a causal LM. */
export function toPeftAdapterConfig(config: LoraConfig, baseModel: string | null = null): Record<string, unknown> {
  return {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: baseModel,
    r: config.r,
    lora_alpha: config.alpha,
    lora_dropout: config.dropout,
    target_modules: [...config.targetModules],
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    modules_to_save: null,
    use_rslora: false,
    use_dora: false,
    init_lora_weights: true,
  };
}

/** Reads a PEFT `adapter_config.json` object. @throws DecoderError naming the unsupported field. */
export function parsePeftAdapterConfig(json: unknown): LoraConfig {
  if (typeof json !== 'object' || json === null) {
    throw new DecoderError('INVALID_CONFIG', 'adapter_config.json must be a JSON object');
  }
  const c = json as Record<string, unknown>;
  if (c.peft_type !== 'LORA') {
    throw new DecoderError('INVALID_CONFIG', `adapter_config.json field 'peft_type' must be 'LORA', got ${JSON.stringify(c.peft_type)}`);
  }
  if (c.bias !== undefined && c.bias !== 'none') {
    throw new DecoderError('INVALID_CONFIG', `adapter_config.json field 'bias' must be 'none', got ${JSON.stringify(c.bias)}`);
  }
  if (c.use_rslora === true || c.use_dora === true) {
    throw new DecoderError('INVALID_CONFIG', 'adapter_config.json: rsLoRA and DoRA adapters are not supported');
  }
  let targets = c.target_modules;
  if (typeof targets === 'string') targets = [targets];
  if (!Array.isArray(targets)) {
    throw new DecoderError('INVALID_CONFIG', `adapter_config.json field 'target_modules' must be a list, got ${JSON.stringify(targets)}`);
  }
  try {
    return resolveLoraConfig({
      r: c.r as number,
      alpha: (c.lora_alpha ?? c.r) as number,
      dropout: (c.lora_dropout ?? 0) as number,
      targetModules: targets as GemmaLinearName[],
    });
  } catch (error) {
    if (error instanceof DecoderError) throw new DecoderError('INVALID_CONFIG', `adapter_config.json: ${error.message}`);
    throw error;
  }
}
