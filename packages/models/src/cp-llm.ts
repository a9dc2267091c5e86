import { GemmaDecoder, TextTokenizer, generate, initGemmaWeights, type TokenizerFiles } from '@vqlm/decoder-lora';
import { PixelEncoder, TfjsContextEncoder, ViT, type ContextEncodeOptions, type ContextEncoder, type U8Batch } from '@vqlm/encoders';
import { QUALITY_LEVELS, QualityHead, type QualityLevel } from '@vqlm/heads';
import { createRng, tf } from '@vqlm/runtime';
import { createCpLlmConfig, validateCpLlmConfig, type CpLlmConfig, type CpLlmConfigInit } from './config.js';
import { ModelError, shapeText } from './errors.js';
import type { OnnxDecoder } from './onnx-decoder.js';
import type { FloatBatch, OnnxScoringPath } from './onnx-scorer.js';

/** One input of CP-LLM (Fig. 4a) for a batch of B videos. */

/** A stage of {@link CpLlm.scoreViews} reported to `onStage`. */
export type ScoreStage = 'context' | 'pixel' | 'head';

/** Options of {@link CpLlm.scoreViews}. */
export interface ScoreViewsOptions extends ContextEncodeOptions {
  /** Called after each stage with its wall time in ms (the stage's result is waited for first). */
  readonly onStage?: (stage: ScoreStage, ms: number) => void;
}

export interface CpLlmViews {
  /** Frozen context features `[B, M, Th, F]` from {@link CpLlm.encodeContext} (cacheable; no gradient). */
  readonly contextFeatures: tf.Tensor;
  /** Pixel patches `[B, M, K, P, P, 3]`, values 0..255 (uint8 bytes or a float tensor). */
  readonly pixel: U8Batch | tf.Tensor;
}

/** Input of {@link CpLlm.forward}. */
export interface CpLlmForwardInput {
  /** The first (or only) video of each row. */
  readonly first: CpLlmViews;
  /**
   * The second video of a pair. Absent or null: the first input is duplicated into the second
   * slot and its copy is hidden from the decoder (`prefixMask` false), as CP-LLM does for a
   * single video.
   */
  readonly second?: CpLlmViews | null;
  /** `[B]`: false hides that row's second input (a single video in a mixed batch). Default all true when `second` is given. */
  readonly secondVisible?: readonly boolean[];
  /** Decoder input tokens `[B, T]` (a start token then the description); logits at t predict token t + 1. */
  readonly targetTokenIds: number[][];
  /** Training forward (LoRA dropout on). Default false. */
  readonly training?: boolean;
}

/** Scores of one input. */
export interface CpLlmScores {
  /** Raw per-key-frame scores `[B, M]`. */
  readonly frameScores: tf.Tensor2D;
  /** Raw video scores `[B]`: the mean over the M key frames. */
  readonly videoScores: tf.Tensor1D;
}

/** Output of {@link CpLlm.forward}; the caller disposes the tensors ({@link disposeCpLlmOutput}). */
export interface CpLlmOutput {
  readonly first: CpLlmScores;
  /** Scores of the second input, or null when it was absent (rows whose second input is hidden score zero tokens: ignore them). */
  readonly second: CpLlmScores | null;
  /** Decoder logits `[B, T, V]` for the target tokens. */
  readonly logits: tf.Tensor3D;
}

/** Disposes every tensor of a {@link CpLlmOutput}. */
export function disposeCpLlmOutput(output: CpLlmOutput): void {
  tf.dispose([output.first.frameScores, output.first.videoScores, output.logits]);
  if (output.second) tf.dispose([output.second.frameScores, output.second.videoScores]);
}

/** The parts of a {@link CpLlm}; the model owns them after construction. */
export interface CpLlmParts {
  /** Frozen context tower + trainable projector to D. */
  readonly contextEncoder: ContextEncoder;
  /** Trainable pixel encoder to D. */
  readonly pixelEncoder: PixelEncoder;
  /** The 2-layer MLP quality head. */
  readonly head: QualityHead;
  /** The decoder, with LoRA adapters attached. */
  readonly decoder: GemmaDecoder;
  /** The tokenizer's files (`tokenizer.json` + config). */
  readonly tokenizer: TokenizerFiles;
}

/** Options of {@link CpLlm.create}. */
export interface CreateCpLlmOptions {
  /** Tokenizer files (e.g. from `buildWordPieceTokenizer`, or a Gemma `tokenizer.json`). */
  readonly tokenizer: TokenizerFiles;
  /** A base decoder (e.g. `loadGemmaCheckpoint` of a user's Gemma); default random weights from `config.seed`. Owned by the model. */
  readonly decoder?: GemmaDecoder;
  /** A context encoder (e.g. an `OnnxContextEncoder` over SigLIP); default a frozen tfjs ViT from `config.contextVit`. Owned by the model. */
  readonly contextEncoder?: ContextEncoder;
  /**
   * Make the fresh random decoder's base weights trainable too (default false: only LoRA trains,
   * as with a pretrained Gemma). For small decoders trained from scratch, like `vqlm-tiny`.
   * Ignored when `decoder` is given.
   */
  readonly trainDecoderBase?: boolean;
}

/** n-gram size {@link CpLlm.describeViews} blocks from repeating by default. */
export const DESCRIBE_NO_REPEAT_NGRAM = 4;

/** Options of {@link CpLlm.describeViews}. */
export interface DescribeOptions {
  /** Longest description in tokens (default the config's `maxDescriptionTokens`). */
  readonly maxNewTokens?: number;
  /** Never write an n-gram of this many tokens twice (default {@link DESCRIBE_NO_REPEAT_NGRAM}; 0 = off). */
  readonly noRepeatNgramSize?: number;
  /** CTRL repetition penalty on tokens already written (default 1 = off). */
  readonly repetitionPenalty?: number;
  /**
   * The quality level of the video's score, filled into the config's `describeLead` (needed when
   * it has `{level}`; `Scorer.score` / `describe` pass the level of the score they return).
   */
  readonly level?: QualityLevel;
  /** Text the description starts with, instead of the config's `describeLead` (null: none). Single videos only. */
  readonly lead?: string | null;
}

/**
 * The lead text of a single video's description: `options.lead` when given, else the config's
 * `describeLead` with `{level}` filled in (null when there is none).
 * @throws ModelError `E_MODEL_ARG` when the lead needs a level and `options.level` is not one of `QUALITY_LEVELS`.
 */
export function describeLeadText(config: Pick<CpLlmConfig, 'describeLead'>, options: Pick<DescribeOptions, 'level' | 'lead'> = {}): string | null {
  if (options.lead !== undefined) return options.lead === null || options.lead.trim() === '' ? null : options.lead.trim();
  const template = config.describeLead;
  if (template === null || template === undefined) return null;
  if (!template.includes('{level}')) return template;
  const level: unknown = options.level;
  if (!(QUALITY_LEVELS as readonly unknown[]).includes(level)) {
    throw new ModelError(
      'E_MODEL_ARG',
      `options.level: this model starts a description with "${template}" (config.describeLead); expected the level of the video's score, one of ${QUALITY_LEVELS.join(', ')}, got ${level === undefined ? 'none' : JSON.stringify(level)}`,
    );
  }
  return template.split('{level}').join(level as QualityLevel);
}

/** A key-frame input of one video for scoring, as `@vqlm/video-io` `sampleViews` returns it. */
export interface VideoViews {
  /** Context view `[M, S, S, 3]`, uint8. */
  readonly context: U8Batch;
  /** Pixel view `[M, K, P, P, 3]`, uint8. */
  readonly pixel: U8Batch;
}

function dimsOf(input: U8Batch | tf.Tensor): readonly number[] {
  return input instanceof tf.Tensor ? input.shape : input.dims;
}

/**
 * CP-LLM (arXiv 2505.16025): a frozen context encoder (whole frame at 448², + trainable
 * projector), a trainable pixel encoder (K native-resolution 224² patches), a 2-layer MLP quality
 * head scoring each of the M key frames from both token sets, and a Gemma decoder with LoRA that
 * reads `[context₁, pixel₁, context₂, pixel₂, prompt]` with prefix-LM attention and writes a
 * description. Symbols: B batch, M key frames, K patches, Th / Tl context / pixel tokens per frame,
 * F context tower width, D model width (decoder hidden size), T target tokens, V vocabulary.
 */
export class CpLlm {
  readonly config: CpLlmConfig;
  readonly contextEncoder: ContextEncoder;
  readonly pixelEncoder: PixelEncoder;
  readonly head: QualityHead;
  readonly decoder: GemmaDecoder;
  readonly tokenizer: TextTokenizer;
  private disposed = false;
  private onnxScoring: OnnxScoringPath | null = null;
  private onnxDecoder: OnnxDecoder | null = null;

  /**
   * Assembles a model from parts and checks that they agree with the config (D, Th, sizes).
   * @throws ModelError `E_MODEL_CONFIG` naming the part that disagrees.
   */
  constructor(config: CpLlmConfig, parts: CpLlmParts) {
    this.config = validateCpLlmConfig(config);
    const d = config.decoder.hiddenSize;
    const check = (ok: boolean, message: string): void => {
      if (!ok) throw new ModelError('E_MODEL_CONFIG', message);
    };
    check(parts.contextEncoder.outputDim === d, `contextEncoder.outputDim: expected D = ${d}, got ${parts.contextEncoder.outputDim}`);
    check(parts.contextEncoder.imageSize === config.contextSize, `contextEncoder.imageSize: expected ${config.contextSize}, got ${parts.contextEncoder.imageSize}`);
    check(parts.pixelEncoder.outputDim === d, `pixelEncoder.outputDim: expected D = ${d}, got ${parts.pixelEncoder.outputDim}`);
    check(parts.pixelEncoder.patchSize === config.patchSize, `pixelEncoder.patchSize: expected ${config.patchSize}, got ${parts.pixelEncoder.patchSize}`);
    check(parts.head.config.dim === d, `head.config.dim: expected D = ${d}, got ${parts.head.config.dim}`);
    check(parts.decoder.config.hiddenSize === d, `decoder.config.hiddenSize: expected ${d}, got ${parts.decoder.config.hiddenSize}`);
    this.tokenizer = new TextTokenizer(parts.tokenizer);
    check(this.tokenizer.vocabSize <= config.decoder.vocabSize, `tokenizer: ${this.tokenizer.vocabSize} ids do not fit the decoder's vocabulary of ${config.decoder.vocabSize}`);
    check(this.tokenizer.bosTokenId !== null, 'tokenizer: no bos_token in tokenizer_config.json');
    this.contextEncoder = parts.contextEncoder;
    this.pixelEncoder = parts.pixelEncoder;
    this.head = parts.head;
    this.decoder = parts.decoder;
  }

  /**
   * A model with fresh seeded weights (LoRA A random, B zero), or around a given decoder /
   * context encoder.
   * @param config a complete config or the init of {@link createCpLlmConfig}
   */
  static async create(config: CpLlmConfig | CpLlmConfigInit, options: CreateCpLlmOptions): Promise<CpLlm> {
    const full = createCpLlmConfig(config);
    const d = full.decoder.hiddenSize;
    const seed = full.seed;
    const contextEncoder =
      options.contextEncoder ??
      (await TfjsContextEncoder.create({ vit: new ViT(full.contextVit, { trainable: false, seed: seed + 11 }), imageSize: full.contextSize, outputDim: d, seed: seed + 12 }));
    const pixelEncoder = new PixelEncoder({ vit: full.pixelVit, outputDim: d, input: full.pixelInput, seed: seed + 13 });
    const head = new QualityHead({ dim: d, hidden: full.head.hidden ?? d, pooling: full.head.pooling, seed: seed + 14 });
    const decoder = options.decoder ?? new GemmaDecoder(full.decoder, initGemmaWeights(full.decoder, createRng(seed + 15)), { trainBase: options.trainDecoderBase ?? false });
    // tidy: scratch tensors of the adapters' initialisation are freed with the scope (variables survive tidy).
    tf.tidy(() => {
      decoder.addLora(full.lora, seed + 16);
    });
    try {
      return new CpLlm(full, { contextEncoder, pixelEncoder, head, decoder, tokenizer: options.tokenizer });
    } catch (error) {
      await contextEncoder.dispose();
      pixelEncoder.dispose();
      head.dispose();
      decoder.dispose();
      throw error;
    }
  }

  /**
   * Runs {@link scoreViews} after the context tower through ONNX Runtime: the pixel encoder and
   * the quality head exported from this model's weights ({@link pixelEncoderToOnnx},
   * {@link qualityHeadToOnnx}). The model owns the path afterwards. `forward` (training) stays
   * on tfjs; `describeViews` runs its decoder in ONNX Runtime after {@link attachOnnxDecoder}.
   * @throws ModelError `E_MODEL_ARG` when the path was made for other branches or sizes.
   */
  async attachOnnxScoring(path: OnnxScoringPath): Promise<void> {
    this.assertLive();
    const dims = { model: this.dim, contextTokens: this.contextEncoder.numTokens, contextFeatures: this.contextEncoder.featureDim, pixelTokens: this.pixelEncoder.numTokens };
    if (path.branches !== this.config.branches || JSON.stringify(path.dims) !== JSON.stringify(dims)) {
      throw new ModelError('E_MODEL_ARG', `path: made for branches '${path.branches}' and dims ${JSON.stringify(path.dims)}, this model has '${this.config.branches}' and ${JSON.stringify(dims)}`);
    }
    await this.onnxScoring?.dispose();
    this.onnxScoring = path;
  }

  /**
   * Runs the decoder of {@link describeViews} in ONNX Runtime: an export of this model's decoder
   * ({@link decoderToOnnx}, LoRA folded in). With the ONNX scoring path attached, the prefix's
   * pixel tokens come from its pixel encoder; the context projector and the prompt stay on tfjs.
   * The model owns the decoder afterwards. Training (`forward`) is unaffected.
   * @throws ModelError `E_MODEL_ARG` when the export is of a decoder of another size.
   */
  async attachOnnxDecoder(decoder: OnnxDecoder): Promise<void> {
    this.assertLive();
    const mine = this.decoder.config;
    const theirs = decoder.config;
    if (theirs.hiddenSize !== mine.hiddenSize || theirs.vocabSize !== mine.vocabSize || theirs.numHiddenLayers !== mine.numHiddenLayers) {
      throw new ModelError('E_MODEL_ARG', `decoder: an export of a decoder with D = ${theirs.hiddenSize}, V = ${theirs.vocabSize}, ${theirs.numHiddenLayers} layers; this model's has D = ${mine.hiddenSize}, V = ${mine.vocabSize}, ${mine.numHiddenLayers} layers`);
    }
    await this.onnxDecoder?.dispose();
    this.onnxDecoder = decoder;
  }

  /** Whether {@link describeViews} runs the decoder through ONNX Runtime. */
  get usesOnnxDecoder(): boolean {
    return this.onnxDecoder !== null;
  }

  /** Whether {@link scoreViews} runs the pixel encoder and the head through ONNX Runtime. */
  get usesOnnxScoring(): boolean {
    return this.onnxScoring !== null;
  }

  /** D: model width. */
  get dim(): number {
    return this.config.decoder.hiddenSize;
  }

  /** Every trainable variable: context projector, pixel encoder, quality head, LoRA adapters. */
  trainableVariables(): tf.Variable[] {
    this.assertLive();
    return [...this.contextEncoder.trainableVariables(), ...this.pixelEncoder.trainableVariables(), ...this.head.trainableVariables, ...this.decoder.trainableVariables()];
  }

  /**
   * Frozen context features of a batch (from the feature cache where given).
   * @param frames context views `[B, M, S, S, 3]`, uint8, S = `contextSize`
   * @returns `[B, M, Th, F]`, float32, no gradient
   */
  async encodeContext(frames: U8Batch, options: ContextEncodeOptions = {}): Promise<tf.Tensor> {
    this.assertLive();
    const s = this.config.contextSize;
    const dims = frames?.dims ?? [];
    if (dims.length !== 5 || dims[2] !== s || dims[3] !== s || dims[4] !== 3 || dims[0] < 1 || dims[1] < 1) {
      throw new ModelError('E_MODEL_ARG', `frames: expected shape [B, M, ${s}, ${s}, 3], got ${shapeText(dims)}`);
    }
    const [b, m] = dims;
    const features = await this.contextEncoder.features({ data: frames.data, dims: [b * m, s, s, 3] }, options);
    const out = tf.reshape(features, [b, m, this.contextEncoder.numTokens, this.contextEncoder.featureDim]);
    features.dispose();
    return out;
  }

  /**
   * Context and pixel tokens of one input: `[B, M, Th, D]` and `[B, M, Tl, D]`. `pixelTokens`, when
   * given (from the ONNX pixel encoder), are used instead of running the tfjs pixel encoder.
   */
  private tokens(name: string, views: CpLlmViews, batch: number | null, pixelTokens?: tf.Tensor): { context: tf.Tensor; pixel: tf.Tensor } {
    const { contextSize: _s, patchSize: p, k } = this.config;
    const features = views?.contextFeatures;
    const th = this.contextEncoder.numTokens;
    const f = this.contextEncoder.featureDim;
    if (!(features instanceof tf.Tensor) || features.rank !== 4 || features.shape[2] !== th || features.shape[3] !== f || (batch !== null && features.shape[0] !== batch)) {
      throw new ModelError('E_MODEL_ARG', `${name}.contextFeatures: expected shape [${batch ?? 'B'}, M, ${th}, ${f}], got ${features instanceof tf.Tensor ? shapeText(features.shape) : String(features)}`);
    }
    const [b, m] = features.shape;
    const pixelDims = views.pixel ? dimsOf(views.pixel) : [];
    const expected = [b, m, k, p, p, 3];
    if (pixelDims.length !== 6 || expected.some((n, i) => pixelDims[i] !== n)) {
      throw new ModelError('E_MODEL_ARG', `${name}.pixel: expected shape ${shapeText(expected)}, got ${shapeText(pixelDims)}`);
    }
    const branches = this.config.branches;
    let pixel: tf.Tensor;
    if (branches === 'context') {
      pixel = tf.zeros([b, m, this.pixelEncoder.numTokens, this.dim]);
    } else if (pixelTokens) {
      pixel = tf.reshape(pixelTokens, [b, m, this.pixelEncoder.numTokens, this.dim]);
    } else {
      const flatPixel = views.pixel instanceof tf.Tensor ? tf.reshape(views.pixel, [b * m, k, p, p, 3]) : { data: views.pixel.data, dims: [b * m, k, p, p, 3] };
      pixel = tf.reshape(this.pixelEncoder.forward(flatPixel), [b, m, this.pixelEncoder.numTokens, this.dim]);
    }
    const context = branches === 'pixel' ? tf.zeros([b, m, th, this.dim]) : tf.reshape(this.contextEncoder.project(tf.reshape(features, [b * m, th, f])), [b, m, th, this.dim]);
    return { context, pixel };
  }

  /**
   * Tokens of the second inputs. Rows whose second input is hidden (single videos) are not
   * encoded: the decoder never sees them, so they get zero tokens (their `second` scores are
   * meaningless), which saves the encoders' work on the duplicated copy.
   */
  private secondTokens(views: CpLlmViews, b: number, visible: readonly boolean[]): { context: tf.Tensor; pixel: tf.Tensor } {
    const rows = visible.flatMap((v, i) => (v ? [i] : []));
    if (rows.length === b) return this.tokens('second', views, b);
    const features = views?.contextFeatures;
    const pixelDims = views?.pixel ? dimsOf(views.pixel) : [];
    if (!(features instanceof tf.Tensor) || features.rank !== 4 || features.shape[0] !== b || pixelDims.length !== 6 || pixelDims[0] !== b) {
      return this.tokens('second', views, b); // reports the shape error
    }
    const m = features.shape[1] as number;
    const zeros = (n: number): tf.Tensor => tf.zeros([1, m, n, this.dim]);
    if (rows.length === 0) {
      return { context: tf.tile(zeros(this.contextEncoder.numTokens), [b, 1, 1, 1]), pixel: tf.tile(zeros(this.pixelEncoder.numTokens), [b, 1, 1, 1]) };
    }
    const index = tf.tensor1d(rows, 'int32');
    const rowFeatures = tf.gather(features, index);
    let rowPixel: U8Batch | tf.Tensor;
    if (views.pixel instanceof tf.Tensor) {
      rowPixel = tf.gather(views.pixel, index);
    } else {
      const source = views.pixel.data;
      const size = pixelDims.slice(1).reduce((x, y) => x * y, 1);
      const data = new Uint8Array(rows.length * size);
      rows.forEach((row, i) => data.set(source.subarray(row * size, (row + 1) * size), i * size));
      rowPixel = { data, dims: [rows.length, ...pixelDims.slice(1)] };
    }
    const tokens = this.tokens('second', { contextFeatures: rowFeatures, pixel: rowPixel }, rows.length);
    // Row r of the batch takes row slot[r] of [tokens of the visible rows; one zero row].
    const slot = tf.tensor1d(visible.map((v, i) => (v ? rows.indexOf(i) : rows.length)), 'int32');
    return {
      context: tf.gather(tf.concat([tokens.context, zeros(this.contextEncoder.numTokens)], 0), slot),
      pixel: tf.gather(tf.concat([tokens.pixel, zeros(this.pixelEncoder.numTokens)], 0), slot),
    };
  }

  private scores(context: tf.Tensor, pixel: tf.Tensor): CpLlmScores {
    const frameScores = this.head.frameScores(context, pixel) as tf.Tensor2D;
    return { frameScores, videoScores: tf.mean<tf.Tensor1D>(frameScores, 1) };
  }

  /** `[B, M·Th + M·Tl, D]`: one input's visual tokens for the decoder. */
  private visual(tokens: { context: tf.Tensor; pixel: tf.Tensor }): tf.Tensor3D {
    const [b, m, th] = tokens.context.shape;
    const tl = tokens.pixel.shape[2] as number;
    return tf.concat<tf.Tensor3D>([tf.reshape(tokens.context, [b, m * th, this.dim]), tf.reshape(tokens.pixel, [b, m * tl, this.dim])], 1);
  }

  /**
   * Prefix embeddings and mask `[context₁, pixel₁, context₂, pixel₂, prompt]` (Fig. 4a). A row
   * whose second input is hidden gets the single-video prompt; prompts are right-padded with
   * hidden positions to one length.
   */
  private prefix(first: tf.Tensor3D, second: tf.Tensor3D, secondVisible: readonly boolean[]): { embeddings: tf.Tensor3D; mask: boolean[][] } {
    const [b, n1] = first.shape;
    const n2 = second.shape[1];
    const prompts = secondVisible.map((visible) => this.tokenizer.encode(visible ? this.config.prompts.compare : this.config.prompts.describe));
    const width = Math.max(...prompts.map((ids) => ids.length));
    const pad = this.tokenizer.padTokenId ?? 0;
    const promptIds = prompts.map((ids) => [...ids, ...new Array<number>(width - ids.length).fill(pad)]);
    const parts: tf.Tensor3D[] = [first, second];
    if (width > 0) parts.push(this.decoder.embedTokens(promptIds));
    const mask = prompts.map((ids, row) => [
      ...new Array<boolean>(n1).fill(true),
      ...new Array<boolean>(n2).fill(secondVisible[row]),
      ...Array.from({ length: width }, (_, i) => i < ids.length),
    ]);
    if (mask.length !== b) throw new ModelError('E_MODEL_ARG', `secondVisible: expected shape [${b}], got [${secondVisible.length}]`);
    return { embeddings: tf.concat<tf.Tensor3D>(parts, 1), mask };
  }

  private visibility(b: number, hasSecond: boolean, secondVisible: readonly boolean[] | undefined): boolean[] {
    if (!hasSecond) return new Array<boolean>(b).fill(false);
    if (secondVisible === undefined) return new Array<boolean>(b).fill(true);
    const rows: unknown = secondVisible;
    if (!Array.isArray(rows) || rows.length !== b) {
      throw new ModelError('E_MODEL_ARG', `secondVisible: expected shape [${b}], got ${Array.isArray(rows) ? `[${rows.length}]` : String(rows)}`);
    }
    return rows.map((v) => v !== false);
  }

  /**
   * CP-LLM's forward (Fig. 4a) for a batch of single videos or pairs.
   * @returns per-frame scores `[B, M]` and video scores `[B]` of each input, and decoder logits `[B, T, V]`
   * @throws ModelError `E_MODEL_ARG` naming the argument and both shapes.
   */
  forward(input: CpLlmForwardInput): CpLlmOutput {
    this.assertLive();
    const ids = input?.targetTokenIds;
    if (!Array.isArray(ids) || ids.length === 0 || ids.some((row) => !Array.isArray(row) || row.length === 0 || row.length !== ids[0].length)) {
      throw new ModelError('E_MODEL_ARG', `targetTokenIds: expected a non-empty rectangular [B, T] array, got ${Array.isArray(ids) ? `rows of lengths [${ids.map((r) => (Array.isArray(r) ? r.length : -1)).join(', ')}]` : String(ids)}`);
    }
    const b = ids.length;
    const hasSecond = input.second !== undefined && input.second !== null;
    const visible = this.visibility(b, hasSecond, input.secondVisible);
    return tf.tidy(() => {
      const firstTokens = this.tokens('first', input.first, b);
      const secondTokens = hasSecond ? this.secondTokens(input.second, b, visible) : null;
      if (secondTokens && secondTokens.context.shape[1] !== firstTokens.context.shape[1]) {
        throw new ModelError('E_MODEL_ARG', `second.contextFeatures: expected M = ${firstTokens.context.shape[1]} as in first, got ${shapeText(secondTokens.context.shape)}`);
      }
      const first = this.scores(firstTokens.context, firstTokens.pixel);
      const second = secondTokens ? this.scores(secondTokens.context, secondTokens.pixel) : null;
      const firstVisual = this.visual(firstTokens);
      const secondVisual = secondTokens ? this.visual(secondTokens) : firstVisual;
      const { embeddings, mask } = this.prefix(firstVisual, secondVisual, visible);
      const logits = this.decoder.forward({ prefixEmbeddings: embeddings, prefixMask: mask, tokenIds: ids, training: input.training ?? false });
      return { first, second, logits } as unknown as tf.TensorContainer;
    }) as unknown as CpLlmOutput;
  }

  /**
   * Raw per-key-frame scores of a batch without running the decoder (for evaluation on cached
   * views). Runs inside your `tf.tidy` or dispose the result.
   * @returns `[B, M]`
   * @throws ModelError `E_MODEL_ARG` naming the view and both shapes.
   */
  frameScores(views: CpLlmViews): tf.Tensor2D {
    this.assertLive();
    return tf.tidy(() => {
      const tokens = this.tokens('views', views, null);
      return this.head.frameScores(tokens.context, tokens.pixel) as tf.Tensor2D;
    });
  }

  private checkViews(name: string, views: VideoViews): { context: U8Batch; pixel: U8Batch } {
    const { contextSize: s, patchSize: p, k } = this.config;
    const context = views?.context?.dims ?? [];
    if (context.length !== 4 || context[0] < 1 || context[1] !== s || context[2] !== s || context[3] !== 3) {
      throw new ModelError('E_MODEL_ARG', `${name}.context: expected shape [M, ${s}, ${s}, 3], got ${shapeText(context)}`);
    }
    const expected = [context[0], k, p, p, 3];
    const pixel = views.pixel?.dims ?? [];
    if (pixel.length !== 5 || expected.some((n, i) => pixel[i] !== n)) {
      throw new ModelError('E_MODEL_ARG', `${name}.pixel: expected shape ${shapeText(expected)}, got ${shapeText(pixel)}`);
    }
    return {
      context: { data: views.context.data, dims: [1, ...context] },
      pixel: { data: views.pixel.data, dims: [1, ...pixel] },
    };
  }

  /**
   * Raw per-frame scores of one video (no decoder run).
   * @param views context `[M, S, S, 3]` and pixel `[M, K, P, P, 3]` views, uint8
   * @param options feature cache keys, and `onStage` to time the context encoder (frozen tower +
   *   projector), pixel encoder and head; each stage is waited for before the next starts when
   *   `onStage` is given (otherwise nothing is synchronised)
   * @returns M raw frame scores (map to MOS with the bundle's calibration)
   */
  async scoreViews(views: VideoViews, options: ScoreViewsOptions = {}): Promise<number[]> {
    this.assertLive();
    const batch = this.checkViews('views', views);
    if (this.onnxScoring) return this.scoreViewsOnnx(this.onnxScoring, batch, options);
    const { onStage } = options;
    const { patchSize: p, k, branches } = this.config;
    const m = batch.context.dims[1];
    const th = this.contextEncoder.numTokens;
    const f = this.contextEncoder.featureDim;
    const tl = this.pixelEncoder.numTokens;
    const done = async (stage: ScoreStage, start: number, tensor: tf.Tensor): Promise<void> => {
      if (!onStage) return;
      await tensor.data();
      onStage(stage, performance.now() - start);
    };
    let start = performance.now();
    let context: tf.Tensor;
    if (branches === 'pixel') {
      // A pixel-only model's context tokens are zeros: the frozen tower is not run.
      context = tf.zeros([1, m, th, this.dim]);
    } else {
      const features = await this.encodeContext(batch.context, options);
      try {
        context = tf.tidy(() => tf.reshape(this.contextEncoder.project(tf.reshape(features, [m, th, f])), [1, m, th, this.dim]));
      } finally {
        features.dispose();
      }
    }
    let pixel: tf.Tensor | null = null;
    try {
      await done('context', start, context);
      start = performance.now();
      if (branches === 'context') pixel = tf.zeros([1, m, tl, this.dim]);
      else pixel = tf.tidy(() => tf.reshape(this.pixelEncoder.forward({ data: batch.pixel.data, dims: [m, k, p, p, 3] }), [1, m, tl, this.dim]));
      await done('pixel', start, pixel);
      start = performance.now();
      const tokens = pixel;
      const scores = tf.tidy(() => this.head.frameScores(context, tokens));
      const values = Array.from(await scores.data());
      scores.dispose();
      onStage?.('head', performance.now() - start);
      return values;
    } finally {
      context.dispose();
      pixel?.dispose();
    }
  }

  /** Pixel tokens `[M, Tl, D]` of one input's patches `[1, M, K, P, P, 3]` from the exported pixel encoder. */
  private async onnxPixelTokens(path: OnnxScoringPath, patches: U8Batch): Promise<FloatBatch> {
    const { patchSize: p, k } = this.config;
    const m = patches.dims[1];
    const nchw = tf.tidy(() => tf.transpose(this.pixelEncoder.vitInput({ data: patches.data, dims: [m, k, p, p, 3] }, 'pixel'), [0, 3, 1, 2]));
    try {
      return await path.pixelTokens({ data: (await nchw.data()) as Float32Array, dims: nchw.shape });
    } finally {
      nchw.dispose();
    }
  }

  /** {@link scoreViews} with the pixel encoder and the head in ONNX Runtime (stages are always awaited). */
  private async scoreViewsOnnx(path: OnnxScoringPath, batch: { context: U8Batch; pixel: U8Batch }, options: ScoreViewsOptions): Promise<number[]> {
    const { onStage } = options;
    const { branches } = this.config;
    const m = batch.context.dims[1];
    let start = performance.now();
    let context: FloatBatch | null = null;
    if (branches !== 'pixel') {
      const features = await this.encodeContext(batch.context, options);
      try {
        context = { data: (await features.data()) as Float32Array, dims: [m, this.contextEncoder.numTokens, this.contextEncoder.featureDim] };
      } finally {
        features.dispose();
      }
    }
    onStage?.('context', performance.now() - start);
    start = performance.now();
    const pixel = branches === 'context' ? null : await this.onnxPixelTokens(path, batch.pixel);
    onStage?.('pixel', performance.now() - start);
    start = performance.now();
    const scores = await path.frameScores(context, pixel);
    onStage?.('head', performance.now() - start);
    return scores;
  }

  /**
   * A greedy (deterministic) description of one video, or of a pair when `second` is given.
   * @param options `maxNewTokens` (default the config's `maxDescriptionTokens`); `noRepeatNgramSize`
   *   (default {@link DESCRIBE_NO_REPEAT_NGRAM}: no 4-token sequence is written twice, which keeps a
   *   small decoder out of loops; 0 turns it off) and `repetitionPenalty` (default 1, off), as in
   *   `@vqlm/decoder-lora` `generate`; `level` (the quality level of the video's score, for a
   *   config `describeLead` with `{level}`) or `lead` (explicit lead text). A single video's
   *   description starts with the lead, which the decoder reads after its start token and continues.
   * @returns the lead (as given) and the decoded text after it
   * @throws ModelError `E_MODEL_ARG` when the model's lead needs a level that was not given.
   */
  async describeViews(first: VideoViews, second: VideoViews | null = null, options: DescribeOptions = {}): Promise<string> {
    this.assertLive();
    const a = this.checkViews('first', first);
    const b = second ? this.checkViews('second', second) : null;
    const lead = b ? null : describeLeadText(this.config, options);
    const leadIds = lead === null ? [] : this.tokenizer.encode(lead);
    const featuresA = await this.encodeContext(a.context);
    const featuresB = b ? await this.encodeContext(b.context) : null;
    // With the ONNX scoring path, the pixel tokens of the prefix come from its pixel encoder too.
    const path = this.config.branches === 'context' ? null : this.onnxScoring;
    const onnxTokens = async (patches: U8Batch): Promise<tf.Tensor | undefined> => {
      if (!path) return undefined;
      const out = await this.onnxPixelTokens(path, patches);
      return tf.tensor(out.data, [1, ...out.dims]);
    };
    const pixelA = await onnxTokens(a.pixel);
    const pixelB = b ? await onnxTokens(b.pixel) : undefined;
    let embeddings: tf.Tensor3D | null = null;
    let mask: boolean[][] = [];
    try {
      embeddings = tf.tidy(() => {
        const visualA = this.visual(this.tokens('first', { contextFeatures: featuresA, pixel: a.pixel }, 1, pixelA));
        if (!b || !featuresB) {
          const single = this.describePrefix(visualA);
          mask = [new Array<boolean>(single.shape[1]).fill(true)];
          return single;
        }
        const visualB = this.visual(this.tokens('second', { contextFeatures: featuresB, pixel: b.pixel }, 1, pixelB));
        const prefix = this.prefix(visualA, visualB, [true]);
        mask = prefix.mask;
        return prefix.embeddings;
      });
      const eos = this.tokenizer.eosTokenId;
      const generation = {
        startTokenIds: [[this.tokenizer.bosTokenId!, ...leadIds]],
        maxNewTokens: options.maxNewTokens ?? this.config.maxDescriptionTokens,
        stopTokens: eos === null ? [] : [eos],
        temperature: 0,
        noRepeatNgramSize: options.noRepeatNgramSize ?? DESCRIBE_NO_REPEAT_NGRAM,
        repetitionPenalty: options.repetitionPenalty ?? 1,
      };
      const prefix = embeddings;
      const result = this.onnxDecoder
        ? await this.onnxDecoder.generate({ prefixEmbeddings: { data: (await prefix.data()) as Float32Array, dims: prefix.shape }, prefixMask: mask }, generation)
        : generate(this.decoder, { ...generation, prefixEmbeddings: prefix, prefixMask: mask });
      const written = this.tokenizer.decode(result.tokens[0], { skipSpecialTokens: true }).trim();
      // The lead as given (a tokenizer may not give its spacing and case back).
      return lead === null ? written : `${lead}${written ? ` ${written}` : ''}`;
    } finally {
      tf.dispose([featuresA, ...(featuresB ? [featuresB] : []), ...(pixelA ? [pixelA] : []), ...(pixelB ? [pixelB] : [])]);
      embeddings?.dispose();
    }
  }

  /**
   * `[B, M·Th + M·Tl + prompt, D]`: the decoder prefix of single videos from their visual tokens
   * ({@link visualTokens}) and the describe prompt, every position visible. {@link forward}'s
   * single-video rows carry a hidden copy of the video too; a hidden prefix position is as if
   * absent for the decoder (rotary positions stay contiguous), so this prefix gives the same logits
   * with half the positions. {@link describeViews} uses it; inside a gradient tape the prompt's
   * embeddings are trained as in {@link forward}.
   */
  describePrefix(visual: tf.Tensor3D): tf.Tensor3D {
    this.assertLive();
    if (!(visual instanceof tf.Tensor) || visual.rank !== 3 || visual.shape[2] !== this.dim) {
      throw new ModelError('E_MODEL_ARG', `visual: expected shape [B, N, ${this.dim}], got ${visual instanceof tf.Tensor ? shapeText(visual.shape) : String(visual)}`);
    }
    const prompt = this.tokenizer.encode(this.config.prompts.describe);
    if (prompt.length === 0) return tf.clone(visual);
    return tf.tidy(() => tf.concat<tf.Tensor3D>([visual, tf.tile(this.decoder.embedTokens([prompt]), [visual.shape[0], 1, 1])], 1));
  }

  /**
   * `[B, M·Th + M·Tl, D]`: the visual tokens one input puts into the decoder prefix (projected
   * context tokens, then pixel tokens), for a batch of cached views. With the encoders frozen they
   * are a constant of the video, so a decoder-only phase (`vqlm-train`'s describer) computes them
   * once. Runs on tfjs; dispose the result.
   * @throws ModelError `E_MODEL_ARG` naming the view and both shapes.
   */
  visualTokens(views: CpLlmViews): tf.Tensor3D {
    this.assertLive();
    return tf.tidy(() => this.visual(this.tokens('views', views, null)));
  }

  private assertLive(): void {
    if (this.disposed) throw new ModelError('E_DISPOSED', 'CpLlm used after dispose()');
  }

  /** Frees every part. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.onnxScoring?.dispose();
    this.onnxScoring = null;
    await this.onnxDecoder?.dispose();
    this.onnxDecoder = null;
    this.pixelEncoder.dispose();
    this.head.dispose();
    this.decoder.dispose();
    await this.contextEncoder.dispose();
  }
}
