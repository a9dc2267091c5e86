import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { buildWordPieceTokenizer, createGemmaConfig, loadGemmaCheckpoint, type GemmaDecoder, type TokenizerFiles } from '@vqlm/decoder-lora';
import { OnnxContextEncoder, vitConfig, type ContextEncoder, type VitConfig, type VitPreset } from '@vqlm/encoders';
import { CpLlm, LmmVqa, createCpLlmConfig, createLmmVqaConfig, type CpLlmConfig, type LmmVqaConfig } from '@vqlm/models';
import type { tf } from '@vqlm/runtime';
import type { TrainConfig } from './config.js';
import { TrainerError } from './errors.js';

function vit(spec: TrainConfig['model']['pixelVit'], imageSize?: number): VitConfig {
  const { preset, ...overrides } = spec;
  return vitConfig(preset as VitPreset, { ...(imageSize === undefined ? {} : { imageSize }), ...overrides });
}

/** The tokenizer of a run: the configured `tokenizer.json`, or WordPiece built from the training texts. */
export async function runTokenizer(config: TrainConfig, texts: readonly string[]): Promise<TokenizerFiles> {
  const { tokenizer, vocabSize } = config.model.decoder;
  if (!tokenizer) return buildWordPieceTokenizer(texts, { vocabSize });
  try {
    const tokenizerJson = JSON.parse(await readFile(tokenizer, 'utf8')) as Record<string, unknown>;
    const configFile = join(dirname(tokenizer), 'tokenizer_config.json');
    const tokenizerConfig = JSON.parse(await readFile(configFile, 'utf8').catch(() => '{}')) as Record<string, unknown>;
    return { tokenizerJson, tokenizerConfig };
  } catch (error) {
    throw new TrainerError('E_CONFIG', `model.decoder.tokenizer: cannot read ${tokenizer} (${(error as Error).message})`, { cause: error });
  }
}

function gemmaConfig(config: TrainConfig): ReturnType<typeof createGemmaConfig> {
  const d = config.model.decoder;
  return createGemmaConfig({
    vocabSize: d.vocabSize,
    hiddenSize: d.hiddenSize,
    intermediateSize: d.intermediateSize,
    numHiddenLayers: d.numHiddenLayers,
    numAttentionHeads: d.numAttentionHeads,
    numKeyValueHeads: d.numKeyValueHeads,
    headDim: d.headDim,
  });
}

/** The CP-LLM config a training config describes (for a user's Gemma checkpoint, `decoder` is its config). */
export function modelConfig(config: TrainConfig, decoder?: GemmaDecoder): CpLlmConfig {
  const { model } = config;
  try {
    return createCpLlmConfig({
      m: model.m,
      k: model.k,
      contextSize: model.contextSize,
      patchSize: model.patchSize,
      pixelFit: model.pixelFit,
      pixelUpscale: model.pixelUpscale,
      pixelInput: model.pixelInput,
      contextVit: vit(model.contextVit),
      pixelVit: vit(model.pixelVit, model.patchSize),
      decoder: decoder?.config ?? gemmaConfig(config),
      lora: { ...model.lora, targetModules: model.lora.targetModules as CpLlmConfig['lora']['targetModules'] },
      head: { hidden: model.head.hidden },
      maxDescriptionTokens: model.maxDescriptionTokens,
      // The describer phase teaches the decoder to continue its lead.
      describeLead: config.describer.steps > 0 ? config.describer.lead : null,
      seed: config.seed,
      branches: model.branches,
    });
  } catch (error) {
    throw new TrainerError('E_CONFIG', `model: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Builds the model of a run with fresh seeded weights (the same config and seed always give the
 * same weights, which is what lets a checkpoint store only the trained variables).
 */
export async function createRunModel(config: TrainConfig, tokenizer: TokenizerFiles): Promise<CpLlm> {
  const decoder = config.model.decoder.checkpoint ? await loadGemmaCheckpoint(config.model.decoder.checkpoint) : undefined;
  let contextEncoder: ContextEncoder | undefined;
  const full = modelConfig(config, decoder);
  if (config.model.contextTowerOnnx) {
    contextEncoder = await OnnxContextEncoder.create({ model: config.model.contextTowerOnnx, imageSize: full.contextSize, outputDim: full.decoder.hiddenSize, seed: full.seed + 12 });
  }
  try {
    return await CpLlm.create(full, { tokenizer, decoder, contextEncoder, trainDecoderBase: !decoder && !config.train.freeze.decoderBase });
  } catch (error) {
    decoder?.dispose();
    await contextEncoder?.dispose();
    throw new TrainerError('E_CONFIG', `model: ${(error as Error).message}`, { cause: error });
  }
}

/** The decoder's variables that `freeze` leaves trainable: LoRA adapters, then base weights, in the decoder's order. */
function decoderVariables(decoder: GemmaDecoder, freeze: TrainConfig['train']['freeze']): tf.Variable[] {
  return decoder.trainableVariables().filter((v) => (/\/lora_[AB]_/.test(v.name) ? !freeze.lora : !freeze.decoderBase));
}

/** The variables the optimiser updates, in a fixed order, by the run's `freeze` settings. */
export function trainedVariables(model: CpLlm, config: TrainConfig): tf.Variable[] {
  const freeze = config.train.freeze;
  const vars: tf.Variable[] = [];
  const branches = model.config.branches;
  if (!freeze.contextProjector && branches !== 'pixel') vars.push(...model.contextEncoder.trainableVariables());
  if (!freeze.pixelEncoder && branches !== 'context') vars.push(...model.pixelEncoder.trainableVariables());
  if (!freeze.head) vars.push(...model.head.trainableVariables);
  vars.push(...decoderVariables(model.decoder, freeze));
  return vars;
}

/** The variables of the describer phase: the decoder's that `train.freeze` leaves trainable. */
export function describerVariables(model: CpLlm, config: TrainConfig): tf.Variable[] {
  const vars = decoderVariables(model.decoder, config.train.freeze);
  if (vars.length === 0) throw new TrainerError('E_CONFIG', 'describer.steps: train.freeze leaves no decoder weight to train (lora and decoderBase are frozen)');
  return vars;
}

/** The LMM-VQA config a training config describes (`model.architecture: 'lmm-vqa'`). */
export function lmmModelConfig(config: TrainConfig, decoder?: GemmaDecoder): LmmVqaConfig {
  const { model } = config;
  const lmm = model.lmm;
  if (!lmm) throw new TrainerError('E_CONFIG', "model.lmm: missing (parseTrainConfig fills it in for model.architecture 'lmm-vqa')");
  try {
    return createLmmVqaConfig({
      m: model.m,
      spatialVit: vit(lmm.spatialVit),
      temporal: lmm.temporal,
      views: lmm.views,
      decoder: decoder?.config ?? gemmaConfig(config),
      lora: { ...model.lora, targetModules: model.lora.targetModules as LmmVqaConfig['lora']['targetModules'] },
      seed: config.seed,
    });
  } catch (error) {
    throw new TrainerError('E_CONFIG', `model: ${(error as Error).message}`, { cause: error });
  }
}

/** {@link createRunModel} for LMM-VQA: fresh seeded weights around a user's Gemma or a random decoder. */
export async function createLmmRunModel(config: TrainConfig, tokenizer: TokenizerFiles): Promise<LmmVqa> {
  const decoder = config.model.decoder.checkpoint ? await loadGemmaCheckpoint(config.model.decoder.checkpoint) : undefined;
  let spatialTower: ContextEncoder | undefined;
  try {
    const full = lmmModelConfig(config, decoder);
    if (config.model.contextTowerOnnx) {
      // The user's tower (e.g. SigLIP in ONNX) takes the place of the random tfjs spatial ViT; model.lmm.spatialVit gives its input size and width.
      spatialTower = await OnnxContextEncoder.create({ model: config.model.contextTowerOnnx, imageSize: full.spatialVit.imageSize, outputDim: full.decoder.hiddenSize, seed: full.seed + 22 });
    }
    return new LmmVqa(full, { tokenizer, decoder, trainDecoderBase: !decoder && !config.train.freeze.decoderBase, spatialTower });
  } catch (error) {
    decoder?.dispose();
    await spatialTower?.dispose();
    if (error instanceof TrainerError) throw error;
    throw new TrainerError('E_CONFIG', `model: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * {@link trainedVariables} of an LMM-VQA run. The `freeze` names map onto its parts:
 * `contextProjector` → the spatial projector, `pixelEncoder` → the temporal encoder, `head` → the
 * level head; `lora` and `decoderBase` as for CP-LLM. The spatial ViT is always frozen.
 */
export function lmmTrainedVariables(model: LmmVqa, config: TrainConfig): tf.Variable[] {
  const freeze = config.train.freeze;
  const vars: tf.Variable[] = [];
  if (!freeze.contextProjector) vars.push(...model.spatialProjector.trainableVariables());
  if (!freeze.pixelEncoder) vars.push(...model.temporalEncoder.trainableVariables());
  if (!freeze.head) vars.push(...model.levelHead.trainableVariables);
  vars.push(...decoderVariables(model.decoder, freeze));
  return vars;
}
