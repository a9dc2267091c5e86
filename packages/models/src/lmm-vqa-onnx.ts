import { OnnxGraphBuilder, SIGLIP_NORMALIZATION, addPixelNormalizationToGraph, addVitToGraph, temporalEncoderToOnnx, type PixelInput } from '@vqlm/encoders';
import { QUALITY_LEVELS } from '@vqlm/heads';
import { tf, type OnnxSession } from '@vqlm/runtime';
import { ModelError, shapeText } from './errors.js';
import type { LmmVqa, LmmVqaConfig } from './lmm-vqa.js';
import { MAX_ONNX_DECODER_BYTES, OnnxDecoder, decoderToOnnx, onnxDecoderBytes } from './onnx-decoder.js';
import { dense, expectIo, onnxLabel, openBundleOnnx, type FloatBatch } from './onnx-scorer.js';

/** Names of the inputs and outputs of LMM-VQA's exported encoders and level head. */
export const LMM_VQA_ONNX_NAMES = Object.freeze({
  frames: 'frames',
  spatialTokens: 'spatial_tokens',
  clips: 'clips',
  temporalTokens: 'temporal_tokens',
  hidden: 'hidden',
  levelLogits: 'level_logits',
});

/**
 * LMM-VQA's spatial branch as an ONNX model (opset 17): input `frames [images, S, S, 3]` (raw
 * pixel values 0..255 as float32, normalised in the graph as `LmmVqa` does), the frozen ViT and
 * the trainable projector; output `spatial_tokens [images, Tq, D]`.
 */
export async function lmmSpatialEncoderToOnnx(model: LmmVqa): Promise<Uint8Array> {
  if (model.spatialEncoder === null) throw new ModelError('E_MODEL_ARG', "model: its spatial tower is the user's ONNX file, not a tfjs ViT to export");
  const n = LMM_VQA_ONNX_NAMES;
  const s = model.config.spatialVit.imageSize;
  const d = model.config.decoder.hiddenSize;
  const g = new OnnxGraphBuilder();
  const input = g.input({ name: n.frames, dtype: 'float32', dims: ['images', s, s, 3] });
  const tokens = await addVitToGraph(g, model.spatialEncoder, addPixelNormalizationToGraph(g, input, SIGLIP_NORMALIZATION), { inputLayout: 'nhwc' });
  const proj = model.spatialProjector.params;
  const projected = await dense(g, tokens, 'spatial_projector', proj.get('weight'), proj.get('bias'));
  g.output(projected, { name: n.spatialTokens, dtype: 'float32', dims: ['images', model.spatialEncoder.numTokens(), d] });
  return g.toBytes({ graphName: 'vqlm_lmm_vqa_spatial_encoder', metadata: { 'vqlm.raw_pixels': 'true' } });
}

/** LMM-VQA's level head as an ONNX model: input `hidden [batch, D]` (the decoder state after the question), output `level_logits [batch, 5]`. */
export async function lmmLevelHeadToOnnx(model: LmmVqa): Promise<Uint8Array> {
  const n = LMM_VQA_ONNX_NAMES;
  const weights = model.levelHead.getWeights();
  const g = new OnnxGraphBuilder();
  const input = g.input({ name: n.hidden, dtype: 'float32', dims: ['batch', model.config.decoder.hiddenSize] });
  const logits = await dense(g, input, 'level', weights['proj.kernel'], weights['proj.bias']);
  g.output(logits, { name: n.levelLogits, dtype: 'float32', dims: ['batch', QUALITY_LEVELS.length] });
  return g.toBytes({ graphName: 'vqlm_lmm_vqa_level_head' });
}

/** The ONNX exports of an LMM-VQA model (paths or bytes); `model.json` `files.onnx` of its bundle. */
export interface LmmVqaOnnxFiles<T extends string | Uint8Array = string | Uint8Array> {
  /** {@link lmmSpatialEncoderToOnnx}. */
  readonly spatialEncoder: T;
  /** The temporal encoder with its projector, normalising raw pixels (`@vqlm/encoders` `temporalEncoderToOnnx`). */
  readonly temporalEncoder: T;
  /** The decoder with LoRA folded in and its hidden states as an output ({@link decoderToOnnx} with `hiddenStates`). */
  readonly decoder: T;
  /** {@link lmmLevelHeadToOnnx}. */
  readonly levelHead: T;
}

/**
 * Why an LMM-VQA model cannot have ONNX exports, or null when it can: a decoder above
 * {@link MAX_ONNX_DECODER_BYTES}, or a user's spatial tower (already ONNX; the exported path
 * would have to run it too). Such a model scores in tfjs.
 */
export function lmmVqaOnnxBlocker(model: LmmVqa): string | null {
  if (model.spatialTower !== null) return "its spatial tower is the user's ONNX file (it runs in ONNX Runtime already; the rest runs in tfjs)";
  if (onnxDecoderBytes(model.decoder) > MAX_ONNX_DECODER_BYTES) return "the decoder's weights exceed one ONNX file (2 GiB); LMM-VQA's scoring path runs through its decoder";
  return null;
}

/** Every ONNX export of an LMM-VQA model, or null when {@link lmmVqaOnnxBlocker} says why not (such a model scores in tfjs). */
export async function lmmVqaToOnnx(model: LmmVqa): Promise<LmmVqaOnnxFiles<Uint8Array> | null> {
  if (lmmVqaOnnxBlocker(model) !== null) return null;
  return {
    spatialEncoder: await lmmSpatialEncoderToOnnx(model),
    temporalEncoder: await temporalEncoderToOnnx(model.temporalEncoder, { rawPixels: true, inputName: LMM_VQA_ONNX_NAMES.clips, outputName: LMM_VQA_ONNX_NAMES.temporalTokens }),
    decoder: await decoderToOnnx(model.decoder, { hiddenStates: true }),
    levelHead: await lmmLevelHeadToOnnx(model),
  };
}

/** Pixel values of a {@link PixelInput} as float32 (what the exported encoders read). */
async function pixelValues(input: PixelInput): Promise<Float32Array> {
  return input instanceof tf.Tensor ? Float32Array.from(await input.data()) : Float32Array.from(input.data);
}

/**
 * LMM-VQA's whole scoring path in ONNX Runtime, from exports of a model's tfjs weights: the
 * spatial branch (frozen ViT and projector), the temporal encoder, the decoder (LoRA folded in;
 * the level head reads its hidden state after the question) and the level head. The question's
 * token embeddings are a constant of the decoder, given once ({@link LmmVqa.attachOnnx}).
 */
export class OnnxLmmVqaPath {
  readonly spatialSession: OnnxSession;
  readonly temporalSession: OnnxSession;
  readonly decoder: OnnxDecoder;
  readonly headSession: OnnxSession;
  readonly config: LmmVqaConfig;

  private constructor(spatial: OnnxSession, temporal: OnnxSession, decoder: OnnxDecoder, head: OnnxSession, config: LmmVqaConfig) {
    this.spatialSession = spatial;
    this.temporalSession = temporal;
    this.decoder = decoder;
    this.headSession = head;
    this.config = config;
  }

  /**
   * Opens the exports for a model of `config`, checking each file's inputs and outputs.
   * @throws ModelError `E_BUNDLE_IO` naming the file that cannot be opened or does not fit.
   */
  static async create(files: LmmVqaOnnxFiles, config: LmmVqaConfig): Promise<OnnxLmmVqaPath> {
    const n = LMM_VQA_ONNX_NAMES;
    const opened: { dispose(): Promise<void> }[] = [];
    const open = async (file: string | Uint8Array, what: string, input: string, output: string): Promise<OnnxSession> => {
      const session = await openBundleOnnx(file, what);
      opened.push(session);
      expectIo(session, onnxLabel(file, what), [input], output);
      return session;
    };
    try {
      const spatial = await open(files.spatialEncoder, 'spatial encoder ONNX', n.frames, n.spatialTokens);
      const temporal = await open(files.temporalEncoder, 'temporal encoder ONNX', n.clips, n.temporalTokens);
      const head = await open(files.levelHead, 'level head ONNX', n.hidden, n.levelLogits);
      const decoder = await OnnxDecoder.create(files.decoder, config.decoder);
      opened.push(decoder);
      if (!decoder.hasHiddenStates) {
        throw new ModelError('E_BUNDLE_IO', `${onnxLabel(files.decoder, 'decoder ONNX')}: LMM-VQA's level head reads the decoder's hidden state; export the decoder with decoderToOnnx(decoder, { hiddenStates: true })`);
      }
      return new OnnxLmmVqaPath(spatial, temporal, decoder, head, config);
    } catch (error) {
      await Promise.all(opened.map((s) => s.dispose()));
      throw error;
    }
  }

  /**
   * The decoder prefix `[1, M·Tq + T/t + question, D]`: spatial tokens, temporal tokens, the question.
   * @param frames key frames `[1, M, S, S, 3]`, 0..255; `clip` `[1, T, s, s, 3]`, 0..255 (shapes checked by the model)
   * @param question the question's token embeddings `[question, D]`
   */
  async prefix(frames: PixelInput, clip: PixelInput, question: Float32Array): Promise<FloatBatch> {
    const n = LMM_VQA_ONNX_NAMES;
    const { m, spatialVit, temporal, decoder } = this.config;
    const s = spatialVit.imageSize;
    const d = decoder.hiddenSize;
    const spatial = (await this.spatialSession.run({ [n.frames]: { data: await pixelValues(frames), dims: [m, s, s, 3] } }))[n.spatialTokens];
    const clips = { data: await pixelValues(clip), dims: [1, temporal.numFrames, temporal.imageSize, temporal.imageSize, 3] };
    const temporalTokens = (await this.temporalSession.run({ [n.clips]: clips }))[n.temporalTokens];
    const tq = spatial?.dims[1] ?? 0;
    const nt = temporal.numFrames / temporal.tubeletFrames;
    if (spatial?.dims.join() !== [m, tq, d].join() || tq < 1) throw new ModelError('E_MODEL_ARG', `${n.spatialTokens}: expected shape [${m}, Tq, ${d}], got ${spatial ? shapeText(spatial.dims) : 'nothing'}`);
    if (temporalTokens?.dims.join() !== [1, nt, d].join()) throw new ModelError('E_MODEL_ARG', `${n.temporalTokens}: expected shape [1, ${nt}, ${d}], got ${temporalTokens ? shapeText(temporalTokens.dims) : 'nothing'}`);
    const data = new Float32Array(spatial.data.length + temporalTokens.data.length + question.length);
    data.set(spatial.data, 0);
    data.set(temporalTokens.data, spatial.data.length);
    data.set(question, spatial.data.length + temporalTokens.data.length);
    return { data, dims: [1, data.length / d, d] };
  }

  /** Level logits `[B, 5]` from decoder states `[B, D]`. */
  async levelLogits(hidden: FloatBatch): Promise<Float32Array> {
    const out = (await this.headSession.run({ [LMM_VQA_ONNX_NAMES.hidden]: hidden }))[LMM_VQA_ONNX_NAMES.levelLogits];
    const expected = [hidden.dims[0], QUALITY_LEVELS.length];
    if (out?.dims.join() !== expected.join()) throw new ModelError('E_MODEL_ARG', `${LMM_VQA_ONNX_NAMES.levelLogits}: expected shape ${shapeText(expected)}, got ${out ? shapeText(out.dims) : 'nothing'}`);
    return out.data;
  }

  async dispose(): Promise<void> {
    await Promise.all([this.spatialSession.dispose(), this.temporalSession.dispose(), this.decoder.dispose(), this.headSession.dispose()]);
  }
}
