import { writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { loadGemmaCheckpoint, loadLoraAdapter, loadTokenizer, saveGemmaCheckpoint, saveLoraAdapter, saveTokenizer, type GemmaDecoder } from '@vqlm/decoder-lora';
import { OnnxContextEncoder, TfjsContextEncoder, ViT, vitToOnnx, loadVitWeights, saveVitWeights, type ContextEncoder } from '@vqlm/encoders';
import { IDENTITY_CALIBRATION, parseCalibration, type Calibration } from '@vqlm/heads';
import { tf, writeSafetensors } from '@vqlm/runtime';
import { z } from 'zod';
import { cpLlmConfigSchema, validateCpLlmConfig, zodIssues, type CpLlmConfig } from './config.js';
import { CpLlm } from './cp-llm.js';
import {
  BUNDLE_FILES,
  BUNDLE_FORMAT_VERSION,
  NO_ONNX_EXPORTS,
  PACKAGE_VERSION,
  bundleExportsFor,
  loadBundleTensors,
  manifestArchitecture,
  readManifestJson,
  wrapBundleError as wrap,
  writeBundleDir,
  writeBundleFile,
} from './bundle-io.js';
import { ModelError } from './errors.js';
import { LmmVqa } from './lmm-vqa.js';
import { saveLmmVqaBundle, type SaveLmmVqaBundleOptions } from './lmm-vqa-bundle.js';
import { MAX_ONNX_DECODER_BYTES, OnnxDecoder, decoderToOnnx, onnxDecoderBytes } from './onnx-decoder.js';
import { OnnxScoringPath, pixelEncoderToOnnx, qualityHeadToOnnx } from './onnx-scorer.js';

export { BUNDLE_FILES, BUNDLE_FORMAT_VERSION } from './bundle-io.js';

const towerSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('tfjs-vit'), path: z.string().min(1) }),
  z.object({ kind: z.literal('onnx'), path: z.string().min(1) }),
]);

/**
 * `files.onnx`: the scoring path exported for ONNX Runtime. `head` and (unless the model is
 * context-only) `pixelEncoder` are the trained parts; `contextTower` is the frozen tower
 * (unless the model is pixel-only). `pixelVit` is what writers before the whole path was
 * exported wrote (the pixel ViT alone); it is no longer used: such a bundle scores in tfjs
 * until {@link exportBundleOnnx} re-exports it. `decoder` (optional; bundles written before it
 * describe in tfjs) is the decoder with its LoRA folded in, which writes the descriptions.
 */
const onnxFilesSchema = z.object({
  contextTower: z.string().min(1).optional(),
  pixelEncoder: z.string().min(1).optional(),
  head: z.string().min(1).optional(),
  decoder: z.string().min(1).optional(),
  pixelVit: z.string().min(1).optional(),
});

/** The ONNX files of a bundle's scoring path, and of its decoder. */
export interface OnnxScoringBundleFiles {
  readonly contextTower?: string;
  readonly pixelEncoder?: string;
  readonly head: string;
  /** {@link decoderToOnnx}'s file (absent in bundles written before it: they describe in tfjs). */
  readonly decoder?: string;
}

/** zod schema of `model.json`. */
export const bundleManifestSchema = z.object({
  format: z.literal('vqlm-model-bundle'),
  formatVersion: z.literal(BUNDLE_FORMAT_VERSION),
  /** Absent in bundles of older writers: `cp-llm`. */
  architecture: z.literal('cp-llm').default('cp-llm'),
  config: cpLlmConfigSchema,
  dims: z.object({
    /** D: model width. */
    model: z.number().int().positive(),
    /** Th: context tokens per frame. */
    contextTokens: z.number().int().positive(),
    /** F: context tower width. */
    contextFeatures: z.number().int().positive(),
    /** Tl: pixel tokens per frame. */
    pixelTokens: z.number().int().positive(),
    /** V: decoder vocabulary. */
    vocabulary: z.number().int().positive(),
  }),
  files: z.object({
    weights: z.string().min(1),
    contextTower: towerSchema,
    decoder: z.string().min(1),
    adapter: z.string().min(1),
    tokenizer: z.string().min(1),
    /** ONNX exports of the scoring path (optional; see {@link onnxScoringFiles}). */
    onnx: onnxFilesSchema.optional(),
  }),
  calibration: z.unknown(),
  versions: z.record(z.string(), z.string()),
});

/** Parsed `model.json`. */
export type BundleManifest = Omit<z.infer<typeof bundleManifestSchema>, 'config' | 'calibration'> & { config: CpLlmConfig; calibration: Calibration };

/** Options of {@link saveBundle}. */
export interface SaveBundleOptions {
  /** Maps raw scores to MOS 1–5 (default identity, for an untrained model). */
  readonly calibration?: Calibration;
  /** Point at this Gemma checkpoint directory (absolute, or relative to the bundle) instead of copying the base decoder. */
  readonly decoderPath?: string;
  /** Point at this ONNX context tower (e.g. a user's SigLIP export) instead of saving a tfjs tower; required when the model's context encoder is ONNX. */
  readonly contextTowerOnnx?: string;
  /** Also export the scoring path to ONNX (pixel encoder, quality head, and a tfjs context tower) for ONNX Runtime. */
  readonly onnx?: boolean;
  /** Extra entries for `versions` (e.g. the trainer's). */
  readonly versions?: Readonly<Record<string, string>>;
}

/** Options of {@link loadBundle}. */
export interface LoadBundleOptions {
  /**
   * `tfjs` (default; trainable), `onnx`: the scoring path (context tower, pixel encoder, quality
   * head) runs in ONNX Runtime (needs the exports, see {@link onnxScoringFiles}), or `auto`: `onnx`
   * when the bundle has the exports, else `tfjs`.
   */
  readonly engine?: 'auto' | 'tfjs' | 'onnx';
}

/** A loaded bundle. */
export interface LoadedBundle {
  readonly model: CpLlm;
  readonly calibration: Calibration;
  readonly manifest: BundleManifest;
  readonly dir: string;
}

/** Trainable weights under their bundle names (`context_projector.*`, `pixel_encoder.*`, `quality_head.*`); the tensors are the model's own. */
export function bundleWeights(model: CpLlm): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (const [name, t] of model.contextEncoder.projector.params.entries()) out.set(`context_projector.${name}`, t);
  for (const [name, t] of model.pixelEncoder.vit.params.entries()) out.set(`pixel_encoder.vit.${name}`, t);
  for (const [name, t] of model.pixelEncoder.projector.params.entries()) out.set(`pixel_encoder.projector.${name}`, t);
  for (const [name, t] of model.pixelEncoder.params.entries()) out.set(`pixel_encoder.${name}`, t);
  for (const [name, t] of Object.entries(model.head.getWeights())) out.set(`quality_head.${name}`, t);
  return out;
}

function assignWeight(model: CpLlm, name: string, value: tf.Tensor): void {
  const [group, ...rest] = name.split('.');
  const local = rest.join('.');
  if (group === 'context_projector') model.contextEncoder.projector.params.set(local, value);
  else if (local.startsWith('vit.')) model.pixelEncoder.vit.params.set(local.slice(4), value);
  else if (local.startsWith('projector.')) model.pixelEncoder.projector.params.set(local.slice(10), value);
  else model.pixelEncoder.params.set(local, value);
}

/**
 * Writes a model bundle atomically (into a temporary sibling directory, then renamed over `dir`).
 * An {@link LmmVqa} is written by {@link saveLmmVqaBundle}; a CP-LLM bundle holds `model.json`, `model.safetensors` (trainable weights), `context_tower.safetensors` (frozen
 * tfjs tower, HF names) unless the tower is an ONNX file referenced by path, `decoder/` (base Gemma,
 * HF layout) unless `decoderPath` is given, `adapter/` (LoRA in PEFT format) and `tokenizer.json`.
 * @throws ModelError `E_MODEL_ARG` for an ONNX context encoder without `contextTowerOnnx`, `E_BUNDLE_IO` when writing fails.
 */
export async function saveBundle(model: CpLlm, dir: string, options?: SaveBundleOptions): Promise<void>;
/** Writes an LMM-VQA bundle (see {@link saveLmmVqaBundle}). */
export async function saveBundle(model: LmmVqa, dir: string, options?: SaveLmmVqaBundleOptions): Promise<void>;
export async function saveBundle(model: CpLlm | LmmVqa, dir: string, options: SaveBundleOptions & SaveLmmVqaBundleOptions = {}): Promise<void> {
  if (model instanceof LmmVqa) {
    const unsupported = (['calibration', 'contextTowerOnnx'] as const).find((key) => options[key] !== undefined);
    if (unsupported !== undefined) throw new ModelError('E_MODEL_ARG', `options.${unsupported}: not supported for an LMM-VQA bundle (CP-LLM only${unsupported === 'contextTowerOnnx' ? '; its tower is spatialTowerOnnx' : ''})`);
    return saveLmmVqaBundle(model, dir, { decoderPath: options.decoderPath, versions: options.versions, onnx: options.onnx, spatialTowerOnnx: options.spatialTowerOnnx });
  }
  if (options.spatialTowerOnnx !== undefined) throw new ModelError('E_MODEL_ARG', 'options.spatialTowerOnnx: an LMM-VQA option; a CP-LLM tower is contextTowerOnnx');
  if (!(model instanceof CpLlm)) throw new ModelError('E_MODEL_ARG', `model: expected a CpLlm or an LmmVqa, got ${String(model)}`);
  return saveCpLlmBundle(model, dir, options);
}

async function saveCpLlmBundle(model: CpLlm, dir: string, options: SaveBundleOptions): Promise<void> {
  const encoder = model.contextEncoder;
  if (!(encoder instanceof TfjsContextEncoder) && options.contextTowerOnnx === undefined) {
    throw new ModelError('E_MODEL_ARG', 'contextTowerOnnx: the context encoder is not a tfjs ViT; give the path of its ONNX file');
  }
  const calibration = parseCalibration(options.calibration ?? IDENTITY_CALIBRATION);
  await writeBundleDir(dir, async (tmp) => {
    await writeSafetensors(join(tmp, BUNDLE_FILES.weights), Object.fromEntries(bundleWeights(model)), { metadata: { format: 'vqlm-cp-llm' } });
    let tower: z.infer<typeof towerSchema>;
    if (options.contextTowerOnnx !== undefined) {
      tower = { kind: 'onnx', path: options.contextTowerOnnx };
    } else {
      await saveVitWeights((encoder as TfjsContextEncoder).vit, join(tmp, BUNDLE_FILES.contextTower));
      tower = { kind: 'tfjs-vit', path: BUNDLE_FILES.contextTower };
    }
    const onnx = options.onnx ? await writeOnnxScoring(model, tmp, tower) : undefined;
    if (options.decoderPath === undefined) await saveGemmaCheckpoint(join(tmp, BUNDLE_FILES.decoder), model.decoder);
    await saveLoraAdapter(join(tmp, BUNDLE_FILES.adapter), model.decoder);
    await saveTokenizer(tmp, model.tokenizer.files);
    const manifest = {
      format: 'vqlm-model-bundle',
      formatVersion: BUNDLE_FORMAT_VERSION,
      architecture: 'cp-llm',
      config: model.config,
      dims: {
        model: model.dim,
        contextTokens: encoder.numTokens,
        contextFeatures: encoder.featureDim,
        pixelTokens: model.pixelEncoder.numTokens,
        vocabulary: model.config.decoder.vocabSize,
      },
      files: {
        weights: BUNDLE_FILES.weights,
        contextTower: tower,
        decoder: options.decoderPath ?? BUNDLE_FILES.decoder,
        adapter: BUNDLE_FILES.adapter,
        tokenizer: BUNDLE_FILES.tokenizer,
        ...(onnx ? { onnx } : {}),
      },
      calibration,
      versions: { bundle: String(BUNDLE_FORMAT_VERSION), '@vqlm/models': PACKAGE_VERSION, tfjs: tf.version_core, ...options.versions },
    };
    await writeFile(join(tmp, BUNDLE_FILES.manifest), `${JSON.stringify(manifest, null, 2)}\n`);
  });
}

/**
 * Writes `model`'s scoring path as ONNX files into the bundle directory `dir` (each file
 * atomically): `pixel_encoder.onnx` (unless context-only), `quality_head.onnx`,
 * `context_tower.onnx` from a tfjs tower (a tower that is an ONNX file already is referenced),
 * and the decoder with its LoRA folded in, `decoder.onnx` (unless its weights exceed
 * `MAX_ONNX_DECODER_BYTES`: it then describes in tfjs).
 * @returns the manifest's `files.onnx`
 */
export async function writeOnnxScoring(model: CpLlm, dir: string, tower: { kind: 'tfjs-vit' | 'onnx'; path: string }): Promise<OnnxScoringBundleFiles> {
  const { branches, contextSize } = model.config;
  let contextTower: string | undefined;
  if (branches !== 'pixel') {
    if (tower.kind === 'onnx') {
      contextTower = tower.path;
    } else {
      const vit = (model.contextEncoder as TfjsContextEncoder).vit;
      await writeBundleFile(join(dir, BUNDLE_FILES.onnxContextTower), await vitToOnnx(vit, { imageSize: contextSize }));
      contextTower = BUNDLE_FILES.onnxContextTower;
    }
  }
  let pixelEncoder: string | undefined;
  if (branches !== 'context') {
    await writeBundleFile(join(dir, BUNDLE_FILES.onnxPixelEncoder), await pixelEncoderToOnnx(model));
    pixelEncoder = BUNDLE_FILES.onnxPixelEncoder;
  }
  await writeBundleFile(join(dir, BUNDLE_FILES.onnxHead), await qualityHeadToOnnx(model));
  // A decoder too large for one ONNX file (a multi-billion-parameter Gemma) keeps describing in tfjs.
  const decoder = onnxDecoderBytes(model.decoder) <= MAX_ONNX_DECODER_BYTES ? BUNDLE_FILES.onnxDecoder : undefined;
  if (decoder) await writeBundleFile(join(dir, decoder), await decoderToOnnx(model.decoder));
  return { ...(contextTower ? { contextTower } : {}), ...(pixelEncoder ? { pixelEncoder } : {}), head: BUNDLE_FILES.onnxHead, ...(decoder ? { decoder } : {}) };
}

/**
 * The ONNX files of a bundle's scoring path, or null when it has none (or only the pixel-ViT
 * export of older writers, which is not used).
 */
export function onnxScoringFiles(manifest: Pick<BundleManifest, 'files'>): OnnxScoringBundleFiles | null {
  const onnx = manifest.files.onnx;
  if (!onnx?.head) return null;
  return {
    ...(onnx.contextTower ? { contextTower: onnx.contextTower } : {}),
    ...(onnx.pixelEncoder ? { pixelEncoder: onnx.pixelEncoder } : {}),
    head: onnx.head,
    ...(onnx.decoder ? { decoder: onnx.decoder } : {}),
  };
}

/**
 * Reads and validates a CP-LLM bundle's `model.json` (a missing `architecture` means `cp-llm`).
 * @throws ModelError `E_BUNDLE_IO` (missing), `E_BUNDLE_CONFIG` naming the bad field, or saying that the bundle is an LMM-VQA one.
 */
export async function readBundleManifest(dir: string): Promise<BundleManifest> {
  const json = await readManifestJson(dir);
  const architecture = manifestArchitecture(json);
  if (architecture === 'lmm-vqa') {
    throw new ModelError('E_BUNDLE_CONFIG', `${join(dir, BUNDLE_FILES.manifest)}: architecture is 'lmm-vqa', not 'cp-llm'; load it with loadLmmVqaBundle (the CP-LLM loader and the Scorer read CP-LLM bundles only)`);
  }
  if (architecture === 'cp-llm-ensemble') {
    throw new ModelError('E_BUNDLE_CONFIG', `${join(dir, BUNDLE_FILES.manifest)}: architecture is 'cp-llm-ensemble', a directory of CP-LLM member bundles; score it with createScorer, or load it with loadEnsembleBundle`);
  }
  const parsed = bundleManifestSchema.safeParse(json);
  if (!parsed.success) throw new ModelError('E_BUNDLE_CONFIG', zodIssues('model.json', parsed.error));
  const config = validateCpLlmConfig(parsed.data.config, 'model.json: config', 'E_BUNDLE_CONFIG');
  const onnx = parsed.data.files.onnx;
  if (onnx?.head) {
    if (config.branches !== 'context' && !onnx.pixelEncoder) throw new ModelError('E_BUNDLE_CONFIG', `model.json: files.onnx.pixelEncoder: required with files.onnx.head when config.branches is '${config.branches}'`);
    if (config.branches !== 'pixel' && !onnx.contextTower) throw new ModelError('E_BUNDLE_CONFIG', `model.json: files.onnx.contextTower: required with files.onnx.head when config.branches is '${config.branches}'`);
  }
  let calibration: Calibration;
  try {
    calibration = parseCalibration(parsed.data.calibration ?? IDENTITY_CALIBRATION);
  } catch (error) {
    throw new ModelError('E_BUNDLE_CONFIG', `model.json: calibration: ${(error as Error).message}`, { cause: error });
  }
  return { ...parsed.data, config, calibration };
}

/**
 * Loads a CP-LLM bundle written by {@link saveBundle}: validates `model.json`, then every tensor's
 * name and shape before any weight is assigned. An LMM-VQA bundle is refused with a message
 * pointing at {@link loadLmmVqaBundle}.
 * @throws ModelError `E_BUNDLE_CONFIG` / `E_BUNDLE_TENSOR` / `E_BUNDLE_IO` naming the field, tensor or file.
 */
export async function loadBundle(dir: string, options: LoadBundleOptions = {}): Promise<LoadedBundle> {
  const root = resolve(dir);
  const manifest = await readBundleManifest(root);
  const onnxFiles = bundleExportsFor(
    root,
    options.engine,
    onnxScoringFiles(manifest),
    manifest.files.onnx?.pixelVit
      ? 'model.json: files.onnx holds only the pixel ViT, the export of an older @vqlm/models; export the whole scoring path with exportBundleOnnx (vqlm export-onnx)'
      : NO_ONNX_EXPORTS,
  );
  const { config, files } = manifest;
  const at = (path: string): string => (isAbsolute(path) ? path : join(root, path));
  const d = config.decoder.hiddenSize;

  let tokenizer;
  try {
    tokenizer = await loadTokenizer(at(files.tokenizer));
  } catch (error) {
    throw wrap(files.tokenizer, error);
  }
  let contextEncoder: ContextEncoder;
  try {
    if (files.contextTower.kind === 'onnx' || onnxFiles?.contextTower) {
      const path = onnxFiles?.contextTower ?? files.contextTower.path;
      contextEncoder = await OnnxContextEncoder.create({ model: at(path), imageSize: config.contextSize, outputDim: d });
    } else {
      const vit = new ViT(config.contextVit, { trainable: false });
      try {
        await loadVitWeights(vit, at(files.contextTower.path));
      } catch (error) {
        vit.dispose();
        throw error;
      }
      contextEncoder = await TfjsContextEncoder.create({ vit, imageSize: config.contextSize, outputDim: d });
    }
  } catch (error) {
    throw wrap(files.contextTower.path, error);
  }
  if (contextEncoder.numTokens !== manifest.dims.contextTokens || contextEncoder.featureDim !== manifest.dims.contextFeatures) {
    await contextEncoder.dispose();
    throw new ModelError(
      'E_BUNDLE_TENSOR',
      `${files.contextTower.path}: the context tower gives [Th, F] = [${contextEncoder.numTokens}, ${contextEncoder.featureDim}], model.json dims say [${manifest.dims.contextTokens}, ${manifest.dims.contextFeatures}]`,
    );
  }
  let decoder: GemmaDecoder;
  try {
    decoder = await loadGemmaCheckpoint(at(files.decoder), { config: config.decoder });
  } catch (error) {
    await contextEncoder.dispose();
    throw wrap(files.decoder, error);
  }
  const model = await CpLlm.create(config, { tokenizer: tokenizer.files, decoder, contextEncoder });
  try {
    try {
      const lora = await loadLoraAdapter(at(files.adapter), model.decoder);
      if (lora.r !== config.lora.r || lora.targetModules.join() !== config.lora.targetModules.join()) {
        throw new ModelError('E_BUNDLE_TENSOR', `${files.adapter}: adapter has r = ${lora.r} on [${lora.targetModules.join(', ')}], model.json says r = ${config.lora.r} on [${config.lora.targetModules.join(', ')}]`);
      }
    } catch (error) {
      throw wrap(files.adapter, error);
    }
    await loadTrainableWeights(model, at(files.weights), files.weights);
    if (onnxFiles) {
      const path = await OnnxScoringPath.create({ head: at(onnxFiles.head), ...(onnxFiles.pixelEncoder ? { pixelEncoder: at(onnxFiles.pixelEncoder) } : {}) }, config, manifest.dims);
      await model.attachOnnxScoring(path);
      if (onnxFiles.decoder) {
        try {
          await model.attachOnnxDecoder(await OnnxDecoder.create(at(onnxFiles.decoder), model.decoder.config));
        } catch (error) {
          throw wrap(onnxFiles.decoder, error);
        }
      }
    }
    return { model, calibration: manifest.calibration, manifest, dir: root };
  } catch (error) {
    await model.dispose();
    throw error;
  }
}

async function loadTrainableWeights(model: CpLlm, path: string, label: string): Promise<void> {
  await loadBundleTensors(path, label, bundleWeights(model), {
    headPrefix: 'quality_head.',
    assign: (name, value) => assignWeight(model, name, value),
    setHead: (head) => model.head.setWeights(head),
  });
}
