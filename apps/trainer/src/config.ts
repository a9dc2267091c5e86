import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { PIXEL_INPUTS } from '@vqlm/encoders';
import { CP_LLM_DEFAULTS, describeLeadProblem, lmmVqaConfigSchema } from '@vqlm/models';
import { z } from 'zod';
import { TrainerError } from './errors.js';

const positiveInt = z.number().int().positive();
const VIT_PRESETS = ['micro', 'tiny', 'small', 'base', 'siglip-so400m-224', 'siglip-so400m-448'] as const;

/** A ViT by preset name plus any field to change (see `@vqlm/encoders` `vitConfig`). */
const vitSchema = z
  .object({
    preset: z.string().min(1),
    imageSize: positiveInt.optional(),
    patchSize: positiveInt.optional(),
    hiddenSize: positiveInt.optional(),
    numLayers: positiveInt.optional(),
    numHeads: positiveInt.optional(),
    mlpDim: positiveInt.optional(),
    gelu: z.enum(['exact', 'tanh']).optional(),
    classToken: z.boolean().optional(),
  })
  .strict();

/** The decoder: a user's Gemma checkpoint, or a small random one trained from scratch. */
const decoderSchema = z
  .object({
    /** Directory of a Hugging Face Gemma checkpoint (config.json + safetensors); with `tokenizer`. */
    checkpoint: z.string().min(1).optional(),
    /** A `tokenizer.json` (with its tokenizer_config.json beside it); default: a WordPiece vocabulary built from the training descriptions. */
    tokenizer: z.string().min(1).optional(),
    /** Vocabulary size of the built tokenizer and the random decoder. */
    vocabSize: positiveInt.default(512),
    hiddenSize: positiveInt.default(64),
    intermediateSize: positiveInt.default(128),
    numHiddenLayers: positiveInt.default(2),
    numAttentionHeads: positiveInt.default(4),
    numKeyValueHeads: positiveInt.default(1),
    headDim: positiveInt.default(16),
  })
  .strict();

/** What each part does during training. The context tower is always frozen (its features are cached). */
const freezeSchema = z
  .object({
    contextProjector: z.boolean().default(false),
    pixelEncoder: z.boolean().default(false),
    head: z.boolean().default(false),
    /** LoRA adapters (the paper trains them). */
    lora: z.boolean().default(false),
    /** The decoder's base weights: frozen in the paper (pretrained Gemma); train them when the decoder starts from random weights. */
    decoderBase: z.boolean().default(true),
  })
  .strict();

/** LMM-VQA's own parts (`model.lmm`); `m`, `decoder` and `lora` are shared with CP-LLM. */
const lmmSchema = z
  .object({
    /** The frozen spatial encoder over the M key frames (paper: a pretrained ViT; here random unless trained elsewhere). */
    spatialVit: vitSchema.default({ preset: 'base' }),
    /** The trainable SlowFast-style temporal encoder (any field of `@vqlm/encoders` `TEMPORAL_ENCODER_DEFAULTS`). */
    temporal: lmmVqaConfigSchema.shape.temporal.omit({ layerNormEps: true }).partial().strict().default({}),
    /** How inputs are cut from the frames: `resized` (the paper's: whole frames scaled) or `native` (central squares at the video's resolution). */
    views: lmmVqaConfigSchema.shape.views,
  })
  .strict();

/** The model settings of a training config (`model`). */
const modelSchema = z
  .object({
    /** `cp-llm` (absent: the default) or `lmm-vqa` (arXiv 2408.14008; its parts under `lmm`). */
    architecture: z.enum(['cp-llm', 'lmm-vqa']).optional(),
    /** LMM-VQA's spatial and temporal encoders (only with `architecture: 'lmm-vqa'`; defaults filled in then). */
    lmm: lmmSchema.optional(),
    /** Paper: M = 8 key frames. */
    m: positiveInt.default(CP_LLM_DEFAULTS.m),
    /** Paper: K = 8 pixel patches per key frame. */
    k: positiveInt.default(CP_LLM_DEFAULTS.k),
    /** Paper: 448 (SigLIP's input). */
    contextSize: positiveInt.default(CP_LLM_DEFAULTS.contextSize),
    /** Paper: 224. */
    patchSize: positiveInt.default(CP_LLM_DEFAULTS.patchSize),
    /** Paper: 540×1080. */
    pixelFit: z.tuple([positiveInt, positiveInt]).default([...CP_LLM_DEFAULTS.pixelFit]),
    /** Scale frames smaller than `pixelFit` up into it (paper: a fixed box); false keeps them at native resolution. */
    pixelUpscale: z.boolean().default(true),
    /** What the pixel ViT sees: `rgb` (paper) or `highpass` (pixels minus their 3×3 mean; see @vqlm/encoders `PIXEL_INPUTS`). */
    pixelInput: z.enum(PIXEL_INPUTS).default('rgb'),
    /** Paper: SigLIP So400m/14 at 448, frozen. Here a random frozen ViT unless `contextTowerOnnx` is given. */
    contextVit: vitSchema.default({ preset: 'siglip-so400m-448' }),
    /** An ONNX vision tower (e.g. a user's SigLIP export) instead of `contextVit` (LMM-VQA: instead of its spatial ViT; `model.lmm.spatialVit` then gives the tower's input size and width). */
    contextTowerOnnx: z.string().min(1).optional(),
    /** Paper: VideoPrism; here a ViT (default ViT-B/16). */
    pixelVit: vitSchema.default({ preset: 'base' }),
    /** Which branches feed the head and the decoder (Table 4 ablations: context-only, pixel-only). */
    branches: z.enum(['both', 'context', 'pixel']).default('both'),
    decoder: decoderSchema.default({}),
    /** Paper: LoRA rank 4 on q, k, v. */
    lora: z
      .object({
        r: positiveInt.default(4),
        alpha: z.number().positive().default(4),
        dropout: z.number().min(0).lt(1).default(0),
        targetModules: z.array(z.string().min(1)).min(1).default(['q_proj', 'k_proj', 'v_proj']),
      })
      .strict()
      .default({}),
    /** Paper: a 2-layer MLP of width D (`hidden` null). */
    head: z.object({ hidden: positiveInt.nullable().default(null) }).strict().default({}),
    maxDescriptionTokens: positiveInt.default(CP_LLM_DEFAULTS.maxDescriptionTokens),
  })
  .strict();

/** A group of ensemble members with other model settings (`ensemble.groups`). */
const ensembleGroupSchema = z
  .object({
    /** Names the members' run directories (`<name>-seed-<n>`) and the bundle's `memberInfo`. */
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lowercase letters, digits and dashes'),
    members: z.number().int().min(1).max(16),
    /** `model` fields that replace the base config's for this group (validated like `model`). */
    model: z.record(z.string(), z.unknown()),
  })
  .strict();

/** The training config of `vqlm-train` (JSON). Paper = CP-LLM, arXiv 2505.16025. */
export const trainConfigSchema = z
  .object({
    /** Run name (plots, logs). */
    name: z.string().min(1).default('cp-llm'),
    /** Seed of every initialiser, the sampler and the split. */
    seed: z.number().int().nonnegative().default(0),
    data: z
      .object({
        /** Manifest (JSONL or CSV of `@vqlm/datasets`), e.g. from `vqlm corpus build`. Relative paths are relative to the config file. */
        manifest: z.string().min(1),
        /** Share of sources per split when the manifest has no `split` column (split by source). */
        ratios: z.object({ train: z.number().min(0), val: z.number().min(0), test: z.number().min(0) }).strict().default({ train: 0.8, val: 0.1, test: 0.1 }),
        /** Seed of that split (default `seed`; the members of an ensemble share their base's). */
        splitSeed: z.number().int().nonnegative().optional(),
        /** Only these recipe kinds (default all). */
        kinds: z.array(z.string().min(1)).optional(),
      })
      .strict(),
    model: modelSchema.default({}),
    train: z
      .object({
        /** Paper: Adam. */
        optimizer: z.literal('adam').default('adam'),
        /** Paper: 1e-4. */
        lr: z.number().positive().default(1e-4),
        /** Learning rate over the run: `constant` (paper) or `cosine` (from `lr` down to 0 at the last step); see `learningRateAt`. */
        lrSchedule: z.enum(['constant', 'cosine']).default('constant'),
        /** Steps of linear warm-up from lr/warmupSteps to lr before the schedule (0 = none). */
        warmupSteps: z.number().int().min(0).default(0),
        beta1: z.number().min(0).lt(1).default(0.9),
        beta2: z.number().min(0).lt(1).default(0.999),
        epsilon: z.number().positive().default(1e-8),
        /** Items per step (a pair counts as one). */
        batchSize: positiveInt.default(16),
        epochs: positiveInt.default(5),
        /** Items per epoch (default: the number of training entries). */
        epochSize: positiveInt.optional(),
        /** Share of pairs among the items: 0 = "single", 1 = "pair", in between = "mix" (paper's best). */
        pairRatio: z.number().min(0).max(1).default(0.5),
        /** Allowed ladder-level difference within a pair. */
        levelDifference: z.object({ min: positiveInt, max: positiveInt }).strict().optional(),
        /** Paper: equal weights. `level` (LMM-VQA only, default 1): the level head's cross-entropy; LMM-VQA uses `mse` and `ce` too, not `rank`. */
        lossWeights: z.object({ mse: z.number().min(0).default(1), rank: z.number().min(0).default(1), ce: z.number().min(0).default(1), level: z.number().min(0).optional() }).strict().default({}),
        /** Margin of the ranking hinge in score units. Paper: none (0); see `rankingHinge` for why one helps a model trained from scratch. */
        rankMargin: z.number().min(0).default(0),
        freeze: freezeSchema.default({}),
        /** Write a checkpoint every this many steps (and on SIGINT/SIGTERM and at the end). */
        checkpointEvery: positiveInt.default(100),
        /** Checkpoints kept on disk (the newest). */
        keepCheckpoints: positiveInt.default(2),
      })
      .strict()
      .default({}),
    eval: z
      .object({
        /** Evaluate on the validation split every this many epochs (and after the last). */
        everyEpochs: positiveInt.default(1),
        /** Level (CRF) differences of the flip-rate table; default CP-LLM's 2, 4, 6, 8, 10, 20. */
        flipDiffs: z.array(z.number().positive()).min(1).default([2, 4, 6, 8, 10, 20]),
        /** Sample descriptions written to the log at each evaluation. */
        descriptions: z.number().int().min(0).default(2),
      })
      .strict()
      .default({}),
    describer: z
      .object({
        /**
         * Steps of the describer phase, after the main training (0: none; CP-LLM only). It trains
         * the decoder alone (encoders and head frozen, so scores do not change) on single videos:
         * after the lead, the text of `target`. An ensemble's first member (the one that
         * describes) runs it.
         */
        steps: z.number().int().min(0).default(0),
        /** Adam learning rate of the phase (constant). */
        lr: z.number().positive().default(1e-3),
        /** Single videos per step. */
        batchSize: positiveInt.default(16),
        /**
         * Text the description starts with, or null. `{level}` is the video's quality level: the
         * target's in training, the score's when scoring (the bundle's `describeLead`), so the
         * description agrees with the score. The decoder reads the lead and learns what follows.
         */
        lead: z.string().trim().min(1).nullable().default('its quality is {level}:'),
        /**
         * What follows the lead: `description` (the entry's description, as in the main phase),
         * `recipe` (how a corpus variant was made, `@vqlm/datasets` `describeRecipe`: "it was
         * re-encoded with H.264 at CRF 31.") or `distortion` (the same without its parameter: "it was
         * re-encoded with H.264."). With `recipe` / `distortion`, entries without a recipe are left out.
         */
        target: z.enum(['description', 'recipe', 'distortion']).default('description'),
      })
      .strict()
      .default({}),
    ensemble: z
      .object({
        /**
         * Models trained with seeds `seed`, `seed + 1`, …, each a full run under
         * `<output.dir>/members/seed-<n>`; the bundle averages their calibrated scores. 1: one model.
         */
        members: z.number().int().min(1).max(16).default(1),
        /**
         * More members with other model settings (e.g. a pixel-only group with more patches): each
         * group trains `members` models with seeds `seed`, `seed + 1`, … under
         * `<output.dir>/members/<name>-seed-<n>`, its `model` fields replacing the base's (top-level
         * fields, whole). Every member must use the same M (the key frames are decoded once).
         */
        groups: z.array(ensembleGroupSchema).max(8).default([]),
      })
      .strict()
      .default({}),
    output: z
      .object({
        /** Run directory (checkpoints, log.jsonl, plot, bundle). Relative to the config file. */
        dir: z.string().min(1).default('runs/cp-llm'),
        /** Curves plot: `svg` or `png`. */
        plot: z.enum(['svg', 'png']).default('svg'),
        /** Also export the scoring path and the decoder to ONNX in the final bundle (CP-LLM and LMM-VQA; see `@vqlm/models` `saveBundle`). */
        onnx: z.boolean().default(true),
      })
      .strict()
      .default({}),
  })
  .strict();

/** A validated training config with every default filled in and paths made absolute. */
export type TrainConfig = z.infer<typeof trainConfigSchema>;
/** What a config file may contain (defaults not yet applied). */
export type TrainConfigInput = z.input<typeof trainConfigSchema>;

export { VIT_PRESETS as TRAINER_VIT_PRESETS };

function issues(where: string, error: z.ZodError): string {
  return error.issues.map((issue) => `${where}${issue.path.length ? `.${issue.path.join('.')}` : ''}: ${issue.message}`).join('; ');
}

/**
 * Validates a config object and fills in the defaults; relative paths are resolved against
 * `baseDir` (the config file's directory).
 * @throws TrainerError `E_CONFIG` naming every bad field.
 */
export function parseTrainConfig(value: unknown, baseDir = process.cwd(), where = 'config'): TrainConfig {
  const parsed = trainConfigSchema.safeParse(value);
  if (!parsed.success) throw new TrainerError('E_CONFIG', issues(where, parsed.error));
  const config = parsed.data;
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
  const { decoder } = config.model;
  if (decoder.checkpoint && !decoder.tokenizer) throw new TrainerError('E_CONFIG', `${where}.model.decoder.tokenizer: required with a decoder checkpoint`);
  const level = config.train.levelDifference;
  if (level && level.max < level.min) throw new TrainerError('E_CONFIG', `${where}.train.levelDifference: max ${level.max} < min ${level.min}`);
  const ratios = config.data.ratios;
  if (Math.abs(ratios.train + ratios.val + ratios.test - 1) > 1e-9) throw new TrainerError('E_CONFIG', `${where}.data.ratios: must sum to 1`);
  const lead = config.describer.lead;
  const leadProblem = lead === null ? null : describeLeadProblem(lead);
  if (leadProblem !== null) throw new TrainerError('E_CONFIG', `${where}.describer.lead: ${leadProblem}`);
  const vits = [['contextVit', config.model.contextVit], ['pixelVit', config.model.pixelVit], ...(config.model.lmm ? [['lmm.spatialVit', config.model.lmm.spatialVit] as const] : [])] as const;
  for (const [name, vit] of vits) {
    if (!(VIT_PRESETS as readonly string[]).includes(vit.preset)) {
      throw new TrainerError('E_CONFIG', `${where}.model.${name}.preset: unknown ViT preset "${vit.preset}" (known: ${VIT_PRESETS.join(', ')})`);
    }
  }
  const resolved: TrainConfig = {
    ...config,
    data: { ...config.data, manifest: abs(config.data.manifest) },
    model: resolveModelPaths(config.model, abs),
    output: { ...config.output, dir: abs(config.output.dir) },
  };
  if (config.model.architecture === 'lmm-vqa') return lmmVqaConfig(resolved, value, where);
  if (config.model.lmm !== undefined) throw new TrainerError('E_CONFIG', `${where}.model.lmm: only for model.architecture 'lmm-vqa'`);
  if (config.train.lossWeights.level !== undefined) throw new TrainerError('E_CONFIG', `${where}.train.lossWeights.level: only for model.architecture 'lmm-vqa' (CP-LLM's parts are mse, rank, ce)`);
  const names = new Set<string>();
  const groups = config.ensemble.groups.map((group, i) => {
    const at = `${where}.ensemble.groups[${i}]`;
    if (names.has(group.name)) throw new TrainerError('E_CONFIG', `${at}.name: "${group.name}" is used by an earlier group`);
    names.add(group.name);
    // The group's model is the base's with its fields replaced, checked like a whole config.
    const raw = value as { model?: Record<string, unknown> };
    const merged = { ...raw, model: { ...(raw.model ?? {}), ...group.model }, ensemble: { members: 1 } };
    const model: TrainConfig['model'] = parseTrainConfig(merged, baseDir, at).model;
    if (model.m !== config.model.m) throw new TrainerError('E_CONFIG', `${at}.model.m: ${model.m}, but the base has ${config.model.m}; every member must see the same key frames`);
    return { ...group, model };
  });
  return { ...resolved, ensemble: { ...config.ensemble, groups } };
}

/**
 * The LMM-VQA side of {@link parseTrainConfig} (on the resolved config): single videos only (`train.pairRatio` 0 unless
 * set otherwise, which is refused), one model; `model.lmm` and
 * `lossWeights.level` filled in.
 */
function lmmVqaConfig(config: TrainConfig, value: unknown, where: string): TrainConfig {
  const raw = value as { train?: { pairRatio?: unknown }; model?: { branches?: unknown } };
  const refuse = (field: string, why: string): never => {
    throw new TrainerError('E_CONFIG', `${where}.${field}: ${why} (model.architecture is 'lmm-vqa')`);
  };
  if (raw.train?.pairRatio !== undefined && raw.train.pairRatio !== 0) refuse('train.pairRatio', 'LMM-VQA trains on single videos; leave it out or set 0');
  if (raw.model?.branches !== undefined && raw.model.branches !== 'both') refuse('model.branches', "the context / pixel branches are CP-LLM's");
  if (config.ensemble.members > 1 || config.ensemble.groups.length > 0) refuse('ensemble', 'ensembles are CP-LLM only; train one model');
  if (config.describer.steps > 0) refuse('describer.steps', "the describer phase is CP-LLM's (LMM-VQA's answer is its description); set 0");
  return {
    ...config,
    model: { ...config.model, lmm: config.model.lmm ?? lmmSchema.parse({}) },
    train: { ...config.train, pairRatio: 0, lossWeights: { ...config.train.lossWeights, level: config.train.lossWeights.level ?? 1 } },
  };
}

function resolveModelPaths(model: TrainConfig['model'], abs: (p: string) => string): TrainConfig['model'] {
  const { decoder } = model;
  return {
    ...model,
    ...(model.contextTowerOnnx ? { contextTowerOnnx: abs(model.contextTowerOnnx) } : {}),
    decoder: {
      ...decoder,
      ...(decoder.checkpoint ? { checkpoint: abs(decoder.checkpoint) } : {}),
      ...(decoder.tokenizer ? { tokenizer: abs(decoder.tokenizer) } : {}),
    },
  };
}

/** Members of an ensemble: `ensemble.members` plus those of every group (1: one model). */
export function ensembleSize(config: TrainConfig): number {
  return config.ensemble.members + config.ensemble.groups.reduce((n, g) => n + g.members, 0);
}

/**
 * The full model settings of an ensemble group: the base's with the group's fields replaced
 * (`parseTrainConfig` has checked and resolved them).
 */
export function groupModel(config: TrainConfig, group: TrainConfig['ensemble']['groups'][number]): TrainConfig['model'] {
  const parsed = modelSchema.safeParse({ ...config.model, ...group.model });
  if (!parsed.success) throw new TrainerError('E_CONFIG', issues(`ensemble.groups (${group.name}).model`, parsed.error));
  return parsed.data;
}

/**
 * Reads and validates a JSON config file.
 * @throws TrainerError `E_CONFIG` naming the file and the bad fields.
 */
export async function loadTrainConfig(file: string, overrides: (config: unknown) => unknown = (c) => c): Promise<TrainConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new TrainerError('E_CONFIG', `${file}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new TrainerError('E_CONFIG', `${file}: not JSON (${(error as Error).message})`);
  }
  return parseTrainConfig(overrides(value), dirname(resolve(file)), file);
}
