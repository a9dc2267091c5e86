import { DEFAULT_LORA_CONFIG, GEMMA_LINEAR_MODULES, validateGemmaConfig, type GemmaConfig, type LoraConfig } from '@vqlm/decoder-lora';
import { PIXEL_INPUTS, validateVitConfig, vitConfig, type PixelInputKind, type VitConfig } from '@vqlm/encoders';
import { TOKEN_POOLINGS, type TokenPooling } from '@vqlm/heads';
import { z } from 'zod';
import { ModelError } from './errors.js';

/**
 * Configuration of a {@link CpLlm}. Paper symbols: M key frames per video, K pixel patches per
 * frame, D model width (= the decoder's hidden size), Th / Tl context / pixel tokens per frame.
 */
export interface CpLlmConfig {
  /** M: key frames per video (paper 8). */
  readonly m: number;
  /** K: pixel patches per key frame (paper 8). */
  readonly k: number;
  /** Side of the context view (paper 448, SigLIP's input). */
  readonly contextSize: number;
  /** Side of one pixel patch (paper 224); equals `pixelVit.imageSize`. */
  readonly patchSize: number;
  /** Box `[short, long]` the frame is fitted into, aspect kept, before the patches are cut (paper 540×1080). */
  readonly pixelFit: readonly [number, number];
  /**
   * Whether a frame smaller than `pixelFit` is scaled up into it (the paper's fixed box; default
   * true). False keeps small frames at their native resolution, so compression artefacts are seen
   * at the scale they were made.
   */
  readonly pixelUpscale: boolean;
  /**
   * What the pixel ViT sees of a patch: `rgb` (CP-LLM, default) or `highpass` (the pixels minus
   * their 3×3 local mean; `@vqlm/encoders` `PIXEL_INPUTS`), for pixel encoders trained from scratch.
   */
  readonly pixelInput: PixelInputKind;
  /** The frozen context tower (paper SigLIP So400m/14 at 448). */
  readonly contextVit: VitConfig;
  /** The trainable pixel ViT (paper VideoPrism; here a ViT, default ViT-B/16). */
  readonly pixelVit: VitConfig;
  /** The language decoder (Gemma); D = `decoder.hiddenSize`. */
  readonly decoder: GemmaConfig;
  /** LoRA on the decoder (paper rank 4 on q/k/v). */
  readonly lora: LoraConfig;
  /** Quality head: hidden width (null = D) and token pooling. */
  readonly head: { readonly hidden: number | null; readonly pooling: TokenPooling };
  /** Text prompts after the visual tokens: one video, and a pair. */
  readonly prompts: { readonly describe: string; readonly compare: string };
  /** Longest generated description, in tokens. */
  readonly maxDescriptionTokens: number;
  /**
   * Text a single video's description starts with, or null (default: the decoder writes it all).
   * `{level}` stands for the quality level of the video's score (`bad` … `excellent`): the decoder
   * reads the filled-in lead after its start token and continues it, so the description agrees
   * with the score. Set by `vqlm-train`'s describer phase (`describer.lead`), which trains the
   * decoder to continue it. Pair comparisons have no lead.
   */
  readonly describeLead: string | null;
  /** Seed of every random initialiser. */
  readonly seed: number;
  /**
   * Which branches feed the head and the decoder: `both` (CP-LLM), or `context` / `pixel` only
   * (the Table 4 ablations; the other branch's tokens are zeros and its encoder is not run).
   */
  readonly branches: CpLlmBranches;
}

/** The config fields that fix the views sampled from a video: models that agree on them score the same views (ensembles). */
export const CP_LLM_VIEW_FIELDS = ['m', 'k', 'contextSize', 'patchSize', 'pixelFit', 'pixelUpscale'] as const;

/** One string per distinct set of {@link CP_LLM_VIEW_FIELDS} values: members with equal keys share their views. */
export function viewKey(config: CpLlmConfig): string {
  return JSON.stringify(CP_LLM_VIEW_FIELDS.map((field) => config[field]));
}

/** Branches of {@link CpLlmConfig.branches}. */
export const CP_LLM_BRANCHES = ['both', 'context', 'pixel'] as const;
export type CpLlmBranches = (typeof CP_LLM_BRANCHES)[number];

/** What {@link createCpLlmConfig} needs: the decoder config; everything else has the paper's default. */
export type CpLlmConfigInit = Partial<Omit<CpLlmConfig, 'decoder' | 'lora' | 'head' | 'prompts'>> & {
  readonly decoder: GemmaConfig;
  readonly lora?: Partial<LoraConfig>;
  readonly head?: Partial<CpLlmConfig['head']>;
  readonly prompts?: Partial<CpLlmConfig['prompts']>;
};

/** CP-LLM's settings (arXiv 2505.16025 §3–4) other than the decoder. */
export const CP_LLM_DEFAULTS = Object.freeze({
  m: 8,
  k: 8,
  contextSize: 448,
  patchSize: 224,
  pixelFit: Object.freeze([540, 1080] as const),
  maxDescriptionTokens: 48,
  describeLead: null,
  seed: 0,
  prompts: Object.freeze({
    describe: 'describe the quality of this video.',
    compare: 'compare the quality of these two videos.',
  }),
});

const positiveInt = z.number().int().positive();

/** zod schema of a ViT config (shared by the CP-LLM and LMM-VQA bundle schemas). */
export const vitConfigSchema = z.object({
  imageSize: positiveInt,
  patchSize: positiveInt,
  channels: positiveInt,
  hiddenSize: positiveInt,
  numLayers: positiveInt,
  numHeads: positiveInt,
  mlpDim: positiveInt,
  layerNormEps: z.number().positive(),
  gelu: z.enum(['exact', 'tanh']),
  classToken: z.boolean(),
});

/** zod schema of a Gemma decoder config. */
export const gemmaConfigSchema = z.object({
  modelType: z.enum(['gemma', 'gemma2']),
  vocabSize: positiveInt,
  hiddenSize: positiveInt,
  intermediateSize: positiveInt,
  numHiddenLayers: positiveInt,
  numAttentionHeads: positiveInt,
  numKeyValueHeads: positiveInt,
  headDim: positiveInt,
  rmsNormEps: z.number().positive(),
  ropeTheta: z.number().positive(),
  activation: z.enum(['gelu_tanh', 'gelu_exact']),
  queryPreAttnScalar: z.number().positive(),
  attnLogitSoftcapping: z.number().positive().nullable(),
  finalLogitSoftcapping: z.number().positive().nullable(),
  slidingWindow: positiveInt.nullable(),
  maxPositionEmbeddings: positiveInt,
  bosTokenId: z.number().int().nonnegative().nullable(),
  eosTokenId: z.number().int().nonnegative().nullable(),
  padTokenId: z.number().int().nonnegative().nullable(),
});

/** zod schema of a LoRA config. */
export const loraConfigSchema = z.object({
  r: positiveInt,
  alpha: z.number().positive(),
  dropout: z.number().min(0).lt(1),
  targetModules: z.array(z.enum(Object.keys(GEMMA_LINEAR_MODULES) as [string, ...string[]])).min(1),
});

/** zod schema of a complete {@link CpLlmConfig} (as stored in a bundle's `model.json`). */
export const cpLlmConfigSchema = z.object({
  m: positiveInt,
  k: positiveInt,
  contextSize: positiveInt,
  patchSize: positiveInt,
  pixelFit: z.tuple([positiveInt, positiveInt]),
  pixelUpscale: z.boolean().default(true),
  pixelInput: z.enum(PIXEL_INPUTS).default('rgb'),
  contextVit: vitConfigSchema,
  pixelVit: vitConfigSchema,
  decoder: gemmaConfigSchema,
  lora: loraConfigSchema,
  head: z.object({ hidden: positiveInt.nullable(), pooling: z.enum(TOKEN_POOLINGS as unknown as [string, ...string[]]) }),
  prompts: z.object({ describe: z.string().min(1), compare: z.string().min(1) }),
  maxDescriptionTokens: positiveInt,
  describeLead: z.string().trim().min(1).nullable().default(null),
  seed: z.number().int().nonnegative(),
  branches: z.enum(CP_LLM_BRANCHES).default('both'),
});

/** What is wrong with a describe lead template (`CpLlmConfig.describeLead`), or null: only `{level}` can be filled in. */
export function describeLeadProblem(lead: string): string | null {
  const unknown = [...lead.matchAll(/\{([^}]*)\}/g)].map((m) => m[1]).find((name) => name !== 'level');
  return unknown === undefined ? null : `only {level} can be filled in, got {${unknown}}`;
}

/** `a.b[0]: message; …` for every zod issue, with `where` in front. */
export function zodIssues(where: string, error: z.ZodError): string {
  return error.issues.map((issue) => `${where}${issue.path.length ? `.${issue.path.join('.')}` : ''}: ${issue.message}`).join('; ');
}

/**
 * Validates a complete config (shape with zod, then the cross-field rules). Throws
 * {@link ModelError} `code` (default `E_MODEL_CONFIG`) with a message that names the field.
 */
export function validateCpLlmConfig(value: unknown, where = 'config', code: 'E_MODEL_CONFIG' | 'E_BUNDLE_CONFIG' = 'E_MODEL_CONFIG'): CpLlmConfig {
  const parsed = cpLlmConfigSchema.safeParse(value);
  if (!parsed.success) throw new ModelError(code, zodIssues(where, parsed.error));
  const config = parsed.data as unknown as CpLlmConfig;
  const fail = (field: string, message: string): never => {
    throw new ModelError(code, `${where}.${field}: ${message}`);
  };
  if (config.pixelVit.imageSize !== config.patchSize) {
    fail('pixelVit.imageSize', `must equal patchSize ${config.patchSize}, got ${config.pixelVit.imageSize}`);
  }
  if (config.contextSize % config.contextVit.patchSize !== 0) {
    fail('contextSize', `${config.contextSize} is not a multiple of contextVit.patchSize ${config.contextVit.patchSize}`);
  }
  const leadProblem = config.describeLead === null ? null : describeLeadProblem(config.describeLead);
  if (leadProblem !== null) fail('describeLead', leadProblem);
  if (config.pixelFit[0] > config.pixelFit[1]) fail('pixelFit', `expected [short, long], got [${config.pixelFit.join(', ')}]`);
  for (const [field, vit] of [['contextVit', config.contextVit], ['pixelVit', config.pixelVit]] as const) {
    try {
      validateVitConfig(vit);
    } catch (error) {
      fail(field, (error as Error).message);
    }
  }
  try {
    validateGemmaConfig(config.decoder);
  } catch (error) {
    fail('decoder', (error as Error).message);
  }
  return config;
}

/**
 * A {@link CpLlmConfig} with the paper's defaults for every field not given: M = 8, K = 8,
 * 448² context view (SigLIP So400m/14 tower), 224² patches from a frame fitted into 540×1080
 * (ViT-B/16 pixel encoder), LoRA rank 4 (alpha 4) on q/k/v, a 2-layer MLP head of width D.
 * @throws ModelError `E_MODEL_CONFIG` naming the bad field.
 */
export function createCpLlmConfig(init: CpLlmConfigInit): CpLlmConfig {
  if (typeof init !== 'object' || init === null) throw new ModelError('E_MODEL_CONFIG', 'config: expected an object');
  const patchSize = init.patchSize ?? init.pixelVit?.imageSize ?? CP_LLM_DEFAULTS.patchSize;
  return validateCpLlmConfig({
    m: init.m ?? CP_LLM_DEFAULTS.m,
    k: init.k ?? CP_LLM_DEFAULTS.k,
    contextSize: init.contextSize ?? CP_LLM_DEFAULTS.contextSize,
    patchSize,
    pixelFit: init.pixelFit ?? CP_LLM_DEFAULTS.pixelFit,
    pixelUpscale: init.pixelUpscale ?? true,
    pixelInput: init.pixelInput ?? 'rgb',
    contextVit: init.contextVit ?? vitConfig('siglip-so400m-448'),
    pixelVit: init.pixelVit ?? vitConfig('base', { imageSize: patchSize }),
    decoder: init.decoder,
    lora: { ...DEFAULT_LORA_CONFIG, ...init.lora },
    head: { hidden: init.head?.hidden ?? null, pooling: init.head?.pooling ?? 'mean' },
    prompts: { ...CP_LLM_DEFAULTS.prompts, ...init.prompts },
    maxDescriptionTokens: init.maxDescriptionTokens ?? CP_LLM_DEFAULTS.maxDescriptionTokens,
    describeLead: init.describeLead ?? CP_LLM_DEFAULTS.describeLead,
    seed: init.seed ?? CP_LLM_DEFAULTS.seed,
    branches: init.branches ?? 'both',
  });
}
