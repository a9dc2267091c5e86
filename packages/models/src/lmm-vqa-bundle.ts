import { writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { loadGemmaCheckpoint, loadLoraAdapter, loadTokenizer, saveGemmaCheckpoint, saveLoraAdapter, saveTokenizer, validateGemmaConfig, type GemmaDecoder } from '@vqlm/decoder-lora';
import { OnnxContextEncoder, loadVitWeights, saveVitWeights, validateVitConfig } from '@vqlm/encoders';
import { tf, writeSafetensors } from '@vqlm/runtime';
import { z } from 'zod';
import { BUNDLE_FILES, BUNDLE_FORMAT_VERSION, PACKAGE_VERSION, loadBundleTensors, manifestArchitecture, readManifestJson, wrapBundleError as wrap, writeBundleDir, writeBundleFile, bundleExportsFor } from './bundle-io.js';
import { gemmaConfigSchema, loraConfigSchema, vitConfigSchema, zodIssues } from './config.js';
import { ModelError } from './errors.js';
import { LMM_VQA_VIEWS, LmmVqa, type LmmVqaConfig } from './lmm-vqa.js';
import { OnnxLmmVqaPath, lmmVqaToOnnx, type LmmVqaOnnxFiles } from './lmm-vqa-onnx.js';

const positiveInt = z.number().int().positive();

/** zod schema of a complete {@link LmmVqaConfig} (as stored in an LMM-VQA bundle's `model.json`). */
export const lmmVqaConfigSchema = z.object({
  m: positiveInt,
  spatialVit: vitConfigSchema,
  temporal: z.object({
    numFrames: positiveInt,
    imageSize: positiveInt,
    tubeletFrames: positiveInt,
    patchSize: positiveInt,
    hiddenSize: positiveInt,
    numLayers: positiveInt,
    numHeads: positiveInt,
    mlpDim: positiveInt,
    layerNormEps: z.number().positive(),
  }),
  decoder: gemmaConfigSchema,
  lora: loraConfigSchema,
  prompt: z.string().min(1),
  /** Absent in bundles written before the option existed: the paper's `resized`. */
  views: z.enum(LMM_VQA_VIEWS).default('resized'),
  seed: z.number().int().nonnegative(),
});

/** zod schema of an LMM-VQA bundle's `model.json`. */
export const lmmVqaBundleManifestSchema = z.object({
  format: z.literal('vqlm-model-bundle'),
  formatVersion: z.literal(BUNDLE_FORMAT_VERSION),
  architecture: z.literal('lmm-vqa'),
  config: lmmVqaConfigSchema,
  dims: z.object({
    /** D: decoder width. */
    model: positiveInt,
    /** Tokens per key frame from the spatial tower. */
    spatialTokens: positiveInt,
    /** T/t: temporal tokens per clip. */
    temporalTokens: positiveInt,
    /** V: decoder vocabulary. */
    vocabulary: positiveInt,
  }),
  files: z.object({
    weights: z.string().min(1),
    /** The frozen spatial ViT's safetensors, or a user's ONNX vision tower (`{ kind: 'onnx', path }`, absolute or relative to the bundle). */
    spatialTower: z.union([z.string().min(1), z.object({ kind: z.literal('onnx'), path: z.string().min(1) }).strict()]),
    decoder: z.string().min(1),
    adapter: z.string().min(1),
    tokenizer: z.string().min(1),
    /** ONNX exports of the whole scoring path (`saveBundle(…, { onnx: true })`, `exportBundleOnnx`). */
    onnx: z
      .object({ spatialEncoder: z.string().min(1), temporalEncoder: z.string().min(1), decoder: z.string().min(1), levelHead: z.string().min(1) })
      .strict()
      .optional(),
  }),
  versions: z.record(z.string(), z.string()),
});

/** Parsed `model.json` of an LMM-VQA bundle. */
export type LmmVqaBundleManifest = Omit<z.infer<typeof lmmVqaBundleManifestSchema>, 'config'> & { config: LmmVqaConfig };

/** Options of {@link saveLmmVqaBundle}. */
export interface SaveLmmVqaBundleOptions {
  /** Point at this Gemma checkpoint directory (absolute, or relative to the bundle) instead of copying the base decoder. */
  readonly decoderPath?: string;
  /** The ONNX file of the model's `spatialTower` (absolute, or relative to the bundle); required for a model with one, which has no tfjs ViT to save. */
  readonly spatialTowerOnnx?: string;
  /** Extra entries for `versions` (e.g. the trainer's). */
  readonly versions?: Readonly<Record<string, string>>;
  /**
   * Also export the scoring path to ONNX (`files.onnx`: spatial encoder, temporal encoder, decoder
   * with its hidden states, level head), so the bundle scores and answers in ONNX Runtime. Skipped
   * for a decoder above `MAX_ONNX_DECODER_BYTES` and for a model with a user's spatial tower
   * (`lmmVqaOnnxBlocker`). Default false.
   */
  readonly onnx?: boolean;
}

/** Options of {@link loadLmmVqaBundle}. */
export interface LoadLmmVqaBundleOptions {
  /** `tfjs` (default), `onnx` (requires `files.onnx`) or `auto` (ONNX Runtime when the bundle has the exports). */
  readonly engine?: 'auto' | 'tfjs' | 'onnx';
}

/** A loaded LMM-VQA bundle; the caller disposes `model`. */
export interface LoadedLmmVqaBundle {
  readonly architecture: 'lmm-vqa';
  readonly model: LmmVqa;
  readonly manifest: LmmVqaBundleManifest;
  readonly dir: string;
}

/**
 * Trainable weights of an LMM-VQA model under their bundle names (`spatial_projector.*`,
 * `temporal_encoder.*`, `temporal_encoder.projector.*`, `level_head.*`); the tensors are the
 * model's own. LoRA goes to `adapter/`, the frozen spatial tower to `spatial_tower.safetensors`.
 */
export function lmmVqaBundleWeights(model: LmmVqa): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (const [name, t] of model.spatialProjector.params.entries()) out.set(`spatial_projector.${name}`, t);
  for (const [name, t] of model.temporalEncoder.params.entries()) out.set(`temporal_encoder.${name}`, t);
  for (const [name, t] of model.temporalEncoder.projector.params.entries()) out.set(`temporal_encoder.projector.${name}`, t);
  for (const [name, t] of Object.entries(model.levelHead.getWeights())) out.set(`level_head.${name}`, t);
  return out;
}

/**
 * Writes an LMM-VQA bundle atomically: `model.json` (`architecture: 'lmm-vqa'`),
 * `model.safetensors` (trainable weights, {@link lmmVqaBundleWeights}), `spatial_tower.safetensors`
 * (frozen spatial ViT, HF names), `decoder/` (base Gemma, HF layout) unless `decoderPath` is given,
 * `adapter/` (LoRA, PEFT format) and `tokenizer.json`. No calibration: LMM-VQA's level scores are
 * on 1–5 already.
 * @throws ModelError `E_MODEL_ARG` for a model that is not an LmmVqa, `E_BUNDLE_IO` when writing fails.
 */
export async function saveLmmVqaBundle(model: LmmVqa, dir: string, options: SaveLmmVqaBundleOptions = {}): Promise<void> {
  if (!(model instanceof LmmVqa)) throw new ModelError('E_MODEL_ARG', `model: expected an LmmVqa, got ${String(model)}`);
  if (model.spatialEncoder === null && options.spatialTowerOnnx === undefined) {
    throw new ModelError('E_MODEL_ARG', "spatialTowerOnnx: the model's spatial tower is a user's ONNX file, not a tfjs ViT; give the path of that file");
  }
  if (model.spatialEncoder !== null && options.spatialTowerOnnx !== undefined) {
    throw new ModelError('E_MODEL_ARG', "spatialTowerOnnx: the model's spatial tower is its tfjs ViT (saved with the bundle); a model with a user's tower is made with LmmVqa's spatialTower option");
  }
  const config = model.config;
  const vit = model.spatialEncoder;
  await writeBundleDir(dir, async (tmp) => {
    await writeSafetensors(join(tmp, BUNDLE_FILES.weights), Object.fromEntries(lmmVqaBundleWeights(model)), { metadata: { format: 'vqlm-lmm-vqa' } });
    if (vit !== null) await saveVitWeights(vit, join(tmp, BUNDLE_FILES.spatialTower));
    if (options.decoderPath === undefined) await saveGemmaCheckpoint(join(tmp, BUNDLE_FILES.decoder), model.decoder);
    await saveLoraAdapter(join(tmp, BUNDLE_FILES.adapter), model.decoder);
    await saveTokenizer(tmp, model.tokenizer.files);
    const onnx = options.onnx ? await writeLmmVqaOnnx(model, tmp) : null;
    const manifest = {
      format: 'vqlm-model-bundle',
      formatVersion: BUNDLE_FORMAT_VERSION,
      architecture: 'lmm-vqa',
      config,
      dims: {
        model: config.decoder.hiddenSize,
        spatialTokens: model.spatialTokens,
        temporalTokens: model.temporalEncoder.numTokens,
        vocabulary: config.decoder.vocabSize,
      },
      files: {
        weights: BUNDLE_FILES.weights,
        spatialTower: options.spatialTowerOnnx === undefined ? BUNDLE_FILES.spatialTower : { kind: 'onnx', path: options.spatialTowerOnnx },
        decoder: options.decoderPath ?? BUNDLE_FILES.decoder,
        adapter: BUNDLE_FILES.adapter,
        tokenizer: BUNDLE_FILES.tokenizer,
        ...(onnx ? { onnx } : {}),
      },
      versions: { bundle: String(BUNDLE_FORMAT_VERSION), '@vqlm/models': PACKAGE_VERSION, tfjs: tf.version_core, ...options.versions },
    };
    await writeFile(join(tmp, BUNDLE_FILES.manifest), `${JSON.stringify(manifest, null, 2)}\n`);
  });
}

/**
 * Writes `model`'s ONNX exports (`lmmVqaToOnnx`) into the bundle directory `dir`, each file
 * atomically.
 * @returns the manifest's `files.onnx`, or null when the decoder is too large for one ONNX file
 */
export async function writeLmmVqaOnnx(model: LmmVqa, dir: string): Promise<LmmVqaOnnxFiles<string> | null> {
  const exported = await lmmVqaToOnnx(model);
  if (exported === null) return null;
  const files = { spatialEncoder: BUNDLE_FILES.onnxSpatialEncoder, temporalEncoder: BUNDLE_FILES.onnxTemporalEncoder, decoder: BUNDLE_FILES.onnxDecoder, levelHead: BUNDLE_FILES.onnxLevelHead };
  for (const key of Object.keys(files) as (keyof typeof files)[]) await writeBundleFile(join(dir, files[key]), exported[key]);
  return files;
}

/**
 * Reads and validates an LMM-VQA bundle's `model.json`, including the cross-field rules of its
 * towers and decoder.
 * @throws ModelError `E_BUNDLE_IO` (missing), `E_BUNDLE_CONFIG` naming the bad field, or saying that the bundle is not an LMM-VQA one.
 */
export async function readLmmVqaBundleManifest(dir: string): Promise<LmmVqaBundleManifest> {
  const json = await readManifestJson(dir);
  const architecture = manifestArchitecture(json);
  if (architecture !== 'lmm-vqa') {
    throw new ModelError('E_BUNDLE_CONFIG', `${join(dir, BUNDLE_FILES.manifest)}: architecture is '${architecture}', not 'lmm-vqa'; load it with loadBundle (cp-llm) or loadEnsembleBundle (cp-llm-ensemble)`);
  }
  const parsed = lmmVqaBundleManifestSchema.safeParse(json);
  if (!parsed.success) throw new ModelError('E_BUNDLE_CONFIG', zodIssues('model.json', parsed.error));
  const config = parsed.data.config as unknown as LmmVqaConfig;
  const fail = (field: string, message: string): never => {
    throw new ModelError('E_BUNDLE_CONFIG', `model.json: config.${field}: ${message}`);
  };
  const t = config.temporal;
  if (t.numFrames % t.tubeletFrames !== 0) fail('temporal.numFrames', `${t.numFrames} is not a multiple of tubeletFrames ${t.tubeletFrames}`);
  if (t.imageSize % t.patchSize !== 0) fail('temporal.imageSize', `${t.imageSize} is not a multiple of patchSize ${t.patchSize}`);
  if (t.hiddenSize % t.numHeads !== 0) fail('temporal.numHeads', `${t.numHeads} does not divide hiddenSize ${t.hiddenSize}`);
  try {
    validateVitConfig(config.spatialVit);
  } catch (error) {
    fail('spatialVit', (error as Error).message);
  }
  try {
    validateGemmaConfig(config.decoder);
  } catch (error) {
    fail('decoder', (error as Error).message);
  }
  if (parsed.data.dims.model !== config.decoder.hiddenSize) fail('decoder.hiddenSize', `${config.decoder.hiddenSize} differs from dims.model ${parsed.data.dims.model}`);
  return { ...parsed.data, config };
}

/**
 * Loads an LMM-VQA bundle written by {@link saveLmmVqaBundle} (or `saveBundle` with an LmmVqa):
 * validates `model.json`, then every tensor's name and shape before any weight is assigned.
 * @throws ModelError `E_BUNDLE_CONFIG` / `E_BUNDLE_TENSOR` / `E_BUNDLE_IO` naming the field, tensor or file.
 */
export async function loadLmmVqaBundle(dir: string, options: LoadLmmVqaBundleOptions = {}): Promise<LoadedLmmVqaBundle> {
  const root = resolve(dir);
  const manifest = await readLmmVqaBundleManifest(root);
  const { config, files } = manifest;
  const onnxFiles = bundleExportsFor(root, options.engine, files.onnx);
  const at = (path: string): string => (isAbsolute(path) ? path : join(root, path));
  let tokenizer;
  try {
    tokenizer = await loadTokenizer(at(files.tokenizer));
  } catch (error) {
    throw wrap(files.tokenizer, error);
  }
  let decoder: GemmaDecoder;
  try {
    decoder = await loadGemmaCheckpoint(at(files.decoder), { config: config.decoder });
  } catch (error) {
    throw wrap(files.decoder, error);
  }
  const towerFile = typeof files.spatialTower === 'string' ? null : files.spatialTower.path;
  if (towerFile !== null && onnxFiles) throw new ModelError('E_BUNDLE_CONFIG', "model.json: files.onnx: a bundle with a user's spatial tower (files.spatialTower.kind 'onnx') scores in tfjs; its exports cannot hold that tower");
  let spatialTower: OnnxContextEncoder | undefined;
  if (towerFile !== null) {
    try {
      spatialTower = await OnnxContextEncoder.create({ model: at(towerFile), imageSize: config.spatialVit.imageSize, outputDim: config.decoder.hiddenSize, seed: config.seed + 22 });
    } catch (error) {
      decoder.dispose();
      throw wrap(towerFile, error);
    }
  }
  let model: LmmVqa;
  try {
    model = new LmmVqa(config, { tokenizer: tokenizer.files, decoder, spatialTower });
  } catch (error) {
    decoder.dispose();
    await spatialTower?.dispose();
    throw wrap(towerFile ?? files.tokenizer, error);
  }
  try {
    if (model.spatialTokens !== manifest.dims.spatialTokens || model.temporalEncoder.numTokens !== manifest.dims.temporalTokens) {
      throw new ModelError(
        'E_BUNDLE_CONFIG',
        `model.json: dims: the ${towerFile === null ? 'config' : 'spatial tower and config'} give [spatialTokens, temporalTokens] = [${model.spatialTokens}, ${model.temporalEncoder.numTokens}], dims say [${manifest.dims.spatialTokens}, ${manifest.dims.temporalTokens}]`,
      );
    }
    const vit = model.spatialEncoder;
    if (vit !== null && typeof files.spatialTower === 'string') {
      try {
        await loadVitWeights(vit, at(files.spatialTower));
      } catch (error) {
        throw wrap(files.spatialTower, error);
      }
    }
    try {
      const lora = await loadLoraAdapter(at(files.adapter), model.decoder);
      if (lora.r !== config.lora.r || lora.targetModules.join() !== config.lora.targetModules.join()) {
        throw new ModelError('E_BUNDLE_TENSOR', `${files.adapter}: adapter has r = ${lora.r} on [${lora.targetModules.join(', ')}], model.json says r = ${config.lora.r} on [${config.lora.targetModules.join(', ')}]`);
      }
    } catch (error) {
      throw wrap(files.adapter, error);
    }
    await loadLmmVqaWeights(model, at(files.weights), files.weights);
    if (onnxFiles) {
      const paths = { spatialEncoder: at(onnxFiles.spatialEncoder), temporalEncoder: at(onnxFiles.temporalEncoder), decoder: at(onnxFiles.decoder), levelHead: at(onnxFiles.levelHead) };
      await model.attachOnnx(await OnnxLmmVqaPath.create(paths, config));
    }
    return { architecture: 'lmm-vqa', model, manifest, dir: root };
  } catch (error) {
    await model.dispose();
    throw error;
  }
}

async function loadLmmVqaWeights(model: LmmVqa, path: string, label: string): Promise<void> {
  await loadBundleTensors(path, label, lmmVqaBundleWeights(model), {
    headPrefix: 'level_head.',
    assign: (name, value) => {
      if (name.startsWith('spatial_projector.')) model.spatialProjector.params.set(name.slice('spatial_projector.'.length), value);
      else if (name.startsWith('temporal_encoder.projector.')) model.temporalEncoder.projector.params.set(name.slice('temporal_encoder.projector.'.length), value);
      else model.temporalEncoder.params.set(name.slice('temporal_encoder.'.length), value);
    },
    setHead: (head) => model.levelHead.setWeights(head),
  });
}
