import { DEFAULT_LORA_CONFIG, GemmaDecoder, TextTokenizer, generate, initGemmaWeights, type GemmaConfig, type LoraConfig, type TokenizerFiles } from '@vqlm/decoder-lora';
import { Projector, TEMPORAL_ENCODER_DEFAULTS, TemporalEncoder, ViT, normalizePixels, SIGLIP_NORMALIZATION, vitConfig, type ContextEncoder, type PixelInput, type TemporalEncoderConfig, type VitConfig } from '@vqlm/encoders';
import { LevelHead, QUALITY_LEVELS, levelFromScore, levelScoreFromLogits, type QualityLevel } from '@vqlm/heads';
import { createRng, tf } from '@vqlm/runtime';
import { ModelError, shapeText } from './errors.js';
import type { OnnxLmmVqaPath } from './lmm-vqa-onnx.js';
import type { FloatBatch } from './onnx-scorer.js';

/**
 * How LMM-VQA's inputs are cut from the decoded frames: `resized` (the paper's) scales each whole
 * frame to the encoder's square; `native` cuts the central square of that size at the video's own
 * resolution (frames larger than 3840×2160 are scaled into that box first, frames smaller than
 * the square are scaled up just enough to hold it), so compression
 * artefacts reach the encoders undiminished, at the cost of seeing only the middle of the picture.
 */
export const LMM_VQA_VIEWS = Object.freeze(['resized', 'native'] as const);

/** One of {@link LMM_VQA_VIEWS}. */
export type LmmVqaViews = (typeof LMM_VQA_VIEWS)[number];

/**
 * Configuration of an {@link LmmVqa}. Symbols: M key frames, S spatial frame side, T clip frames,
 * s clip frame side, t frames per tubelet, D model width (decoder hidden size).
 */
export interface LmmVqaConfig {
  /** M: key frames for the spatial encoder (default 8). */
  readonly m: number;
  /** The frozen spatial encoder (default ViT-B/16 at 224, the CLIP-like tower LMM-VQA uses). */
  readonly spatialVit: VitConfig;
  /** Sizes of the temporal (SlowFast fast-pathway) encoder; `outputDim` is D. */
  readonly temporal: Omit<TemporalEncoderConfig, 'outputDim'>;
  /** The language decoder; D = `decoder.hiddenSize`. */
  readonly decoder: GemmaConfig;
  /** LoRA on the decoder (default rank 4 on q/k/v, as for CP-LLM). */
  readonly lora: LoraConfig;
  /** The question after the visual tokens; the answer gives a score and a level. */
  readonly prompt: string;
  /** How key frames and clip frames are cut from the video ({@link LMM_VQA_VIEWS}; default `resized`, the paper's). */
  readonly views: LmmVqaViews;
  /** Seed of every initialiser. */
  readonly seed: number;
}

/** Init of {@link createLmmVqaConfig}: the decoder, and any field to change. */
export type LmmVqaConfigInit = Partial<Omit<LmmVqaConfig, 'decoder' | 'lora' | 'temporal'>> & {
  readonly decoder: GemmaConfig;
  readonly lora?: Partial<LoraConfig>;
  readonly temporal?: Partial<LmmVqaConfig['temporal']>;
};

/** LMM-VQA's question (arXiv 2408.14008, Fig. 2), asking for a score and a level. */
export const LMM_VQA_PROMPT = 'how would you rate the quality of this video? answer with a score and a level.';

/** A config with defaults filled in; throws `E_MODEL_CONFIG` naming the field. */
export function createLmmVqaConfig(init: LmmVqaConfigInit): LmmVqaConfig {
  const config: LmmVqaConfig = {
    m: init.m ?? 8,
    spatialVit: init.spatialVit ?? vitConfig('base'),
    temporal: { ...TEMPORAL_ENCODER_DEFAULTS, ...init.temporal },
    decoder: init.decoder,
    lora: { ...DEFAULT_LORA_CONFIG, ...init.lora },
    prompt: init.prompt ?? LMM_VQA_PROMPT,
    views: init.views ?? 'resized',
    seed: init.seed ?? 0,
  };
  if (!LMM_VQA_VIEWS.includes(config.views)) throw new ModelError('E_MODEL_CONFIG', `config.views: expected one of ${LMM_VQA_VIEWS.join(', ')}, got ${String(config.views)}`);
  if (!Number.isInteger(config.m) || config.m < 1) throw new ModelError('E_MODEL_CONFIG', `config.m: expected an integer ≥ 1, got ${config.m}`);
  if (typeof config.prompt !== 'string' || config.prompt.length === 0) throw new ModelError('E_MODEL_CONFIG', 'config.prompt: expected a non-empty string');
  if (!config.decoder || typeof config.decoder.hiddenSize !== 'number') throw new ModelError('E_MODEL_CONFIG', 'config.decoder: expected a GemmaConfig');
  return config;
}

/** The answer LMM-VQA is trained to give: `the quality score is 3.42. the quality level is fair.` */
export function lmmVqaAnswer(score: number, level: QualityLevel): string {
  if (!Number.isFinite(score)) throw new ModelError('E_MODEL_ARG', `score: expected a finite number, got ${score}`);
  if (!QUALITY_LEVELS.includes(level)) throw new ModelError('E_MODEL_ARG', `level: expected one of ${QUALITY_LEVELS.join(', ')}, got ${String(level)}`);
  return `the quality score is ${score.toFixed(2)}. the quality level is ${level}.`;
}

/** Reads score and level back from a generated answer; null for whichever is absent. */
export function parseLmmVqaAnswer(text: string): { score: number | null; level: QualityLevel | null } {
  const score = /score is\s*(-?\d+(?:\s*\.\s*\d+)?)/i.exec(text);
  const level = /level is\s*([a-z]+)/i.exec(text);
  const word = level?.[1]?.toLowerCase() as QualityLevel | undefined;
  return {
    score: score?.[1] === undefined ? null : Number(score[1].replace(/\s+/g, '')),
    level: word !== undefined && QUALITY_LEVELS.includes(word) ? word : null,
  };
}

/** Input of {@link LmmVqa.forward}. */
export interface LmmVqaInput {
  /** Key frames `[B, M, S, S, 3]`, values 0..255, S = `spatialVit.imageSize` (not needed with `spatialFeatures`). */
  readonly frames?: PixelInput;
  /**
   * The frozen spatial tower's tokens of the key frames `[B, M, Tq, F]` ({@link LmmVqa.spatialFeatures}),
   * instead of `frames`; required when the tower runs in ONNX Runtime (`spatialTower`).
   */
  readonly spatialFeatures?: tf.Tensor;
  /** Clip `[B, T, s, s, 3]`, values 0..255, for the temporal encoder. */
  readonly clip: PixelInput;
  /** Answer tokens `[B, T']` (a start token, then the answer). */
  readonly targetTokenIds: number[][];
  readonly training?: boolean;
}

/** Output of {@link LmmVqa.forward}; the caller disposes the tensors. */
export interface LmmVqaOutput {
  /** Level logits `[B, 5]` from the decoder state after the question. */
  readonly levelLogits: tf.Tensor2D;
  /** Probability-weighted level score `[B]` on 1–5. */
  readonly levelScores: tf.Tensor1D;
  /** Decoder logits `[B, T', V]` for the answer tokens. */
  readonly logits: tf.Tensor3D;
}

/**
 * LMM-VQA (arXiv 2408.14008): a frozen spatial ViT over M key frames + a trainable projector to
 * D, a trainable SlowFast-style temporal encoder over the clip (to D), and a Gemma decoder with
 * LoRA reading `[spatial tokens, temporal tokens, question]` (prefix-LM) and answering with a
 * score and a level; a level head on the decoder state after the question gives the
 * probability-weighted level score.
 */
export class LmmVqa {
  readonly config: LmmVqaConfig;
  /** The frozen spatial ViT on tfjs; null when a `spatialTower` (a user's ONNX vision tower) takes its place. */
  readonly spatialEncoder: ViT | null;
  /** A user's frozen vision tower (e.g. SigLIP exported to ONNX, `@vqlm/encoders` `OnnxContextEncoder`), or null. */
  readonly spatialTower: ContextEncoder | null;
  readonly spatialProjector: Projector;
  readonly temporalEncoder: TemporalEncoder;
  readonly decoder: GemmaDecoder;
  readonly levelHead: LevelHead;
  readonly tokenizer: TextTokenizer;
  private readonly promptIds: number[];
  private onnx: OnnxLmmVqaPath | null = null;
  private questionEmbeddings: Float32Array | null = null;
  private disposed = false;

  /**
   * A model with fresh seeded weights (or around a given base decoder, owned afterwards).
   * @param options.trainDecoderBase make a fresh decoder's base weights trainable too (for a decoder
   *   trained from scratch; the paper freezes its pretrained language model)
   * @param options.spatialTower a user's frozen vision tower instead of the tfjs ViT (owned
   *   afterwards; its projector becomes the spatial projector). Its input side and width must be
   *   `spatialVit.imageSize` and `spatialVit.hiddenSize`; it runs outside tfjs, so `forward` then
   *   takes `spatialFeatures` ({@link spatialFeatures}) instead of `frames`.
   * @throws ModelError `E_MODEL_CONFIG` naming the tower's size that differs from `spatialVit`.
   */
  constructor(config: LmmVqaConfig, options: { tokenizer: TokenizerFiles; decoder?: GemmaDecoder; trainDecoderBase?: boolean; spatialTower?: ContextEncoder }) {
    this.config = config;
    const d = config.decoder.hiddenSize;
    const seed = config.seed;
    this.tokenizer = new TextTokenizer(options.tokenizer);
    if (this.tokenizer.vocabSize > config.decoder.vocabSize) {
      throw new ModelError('E_MODEL_CONFIG', `tokenizer: ${this.tokenizer.vocabSize} ids do not fit the decoder's vocabulary of ${config.decoder.vocabSize}`);
    }
    this.promptIds = this.tokenizer.encode(config.prompt);
    const tower = options.spatialTower ?? null;
    if (tower !== null) {
      const v = config.spatialVit;
      if (tower.imageSize !== v.imageSize || tower.featureDim !== v.hiddenSize || tower.outputDim !== d) {
        throw new ModelError(
          'E_MODEL_CONFIG',
          `spatialTower: takes ${tower.imageSize}² frames to width ${tower.featureDim}, projected to ${tower.outputDim}; config.spatialVit says ${v.imageSize}² and width ${v.hiddenSize}, and the decoder D = ${d}`,
        );
      }
    }
    this.spatialTower = tower;
    this.spatialEncoder = tower === null ? new ViT(config.spatialVit, { trainable: false, seed: seed + 21 }) : null;
    this.spatialProjector = tower?.projector ?? new Projector(config.spatialVit.hiddenSize, d, { seed: seed + 22 });
    this.temporalEncoder = new TemporalEncoder({ ...config.temporal, outputDim: d, seed: seed + 23 });
    this.levelHead = new LevelHead({ inputDim: d, seed: seed + 24 });
    this.decoder = options.decoder ?? new GemmaDecoder(config.decoder, initGemmaWeights(config.decoder, createRng(seed + 25)), { trainBase: options.trainDecoderBase ?? false });
    tf.tidy(() => {
      this.decoder.addLora(config.lora, seed + 26);
    });
  }

  /**
   * Runs {@link rate} and {@link answer} in ONNX Runtime: exports of this model's weights
   * (`lmmVqaToOnnx`). The question's token embeddings are taken from the tfjs decoder once, here.
   * The model owns the path afterwards; `forward` (training) stays on tfjs.
   * @throws ModelError `E_MODEL_ARG` when the path was made for a model of other sizes.
   */
  async attachOnnx(path: OnnxLmmVqaPath): Promise<void> {
    if (this.disposed) throw new ModelError('E_DISPOSED', 'LmmVqa used after dispose()');
    if (this.spatialTower !== null) throw new ModelError('E_MODEL_ARG', "path: this model's spatial tower is a user's ONNX file, which an exported scoring path does not contain; it scores in tfjs with the tower in ONNX Runtime");
    const fields = ['m', 'spatialVit', 'temporal', 'decoder'] as const;
    const differs = fields.find((field) => JSON.stringify(path.config[field]) !== JSON.stringify(this.config[field]));
    if (differs !== undefined) {
      throw new ModelError('E_MODEL_ARG', `path: made for config.${differs} ${JSON.stringify(path.config[differs])}, this model has ${JSON.stringify(this.config[differs])}`);
    }
    if (this.questionEmbeddings === null) {
      const embedded = this.promptIds.length === 0 ? null : this.decoder.embedTokens([this.promptIds]);
      this.questionEmbeddings = embedded === null ? new Float32Array(0) : ((await embedded.data()) as Float32Array);
      embedded?.dispose();
    }
    await this.onnx?.dispose();
    this.onnx = path;
  }

  /** Whether {@link rate} and {@link answer} run in ONNX Runtime. */
  get usesOnnx(): boolean {
    return this.onnx !== null;
  }

  /** The trainable variables: spatial projector, temporal encoder, level head, LoRA. */
  trainableVariables(): tf.Variable[] {
    return [...this.spatialProjector.trainableVariables(), ...this.temporalEncoder.trainableVariables(), ...this.levelHead.trainableVariables, ...this.decoder.trainableVariables()];
  }

  /**
   * @returns level logits `[B, 5]`, level scores `[B]`, answer logits `[B, T', V]`
   * @throws ModelError `E_MODEL_ARG` naming the argument and both shapes.
   */
  forward(input: LmmVqaInput): LmmVqaOutput {
    if (this.disposed) throw new ModelError('E_DISPOSED', 'LmmVqa used after dispose()');
    const ids = input?.targetTokenIds;
    if (!Array.isArray(ids) || ids.length === 0 || ids.some((row) => !Array.isArray(row) || row.length === 0 || row.length !== ids[0].length)) {
      throw new ModelError('E_MODEL_ARG', 'targetTokenIds: expected a non-empty rectangular [B, T] array');
    }
    const b = ids.length;
    this.checkVisual(input, b);
    const d = this.config.decoder.hiddenSize;
    return tf.tidy(() => {
      const prefix = this.prefix(input, b);
      const training = input.training ?? false;
      const logits = this.decoder.forward({ prefixEmbeddings: prefix, tokenIds: ids, training });
      const p = prefix.shape[1];
      const hidden = this.decoder.hiddenStates({ prefixEmbeddings: prefix, tokenIds: ids, training });
      const afterQuestion = tf.reshape(tf.slice(hidden, [0, p - 1, 0], [b, 1, d]), [b, d]);
      const levelLogits = this.levelHead.logits(afterQuestion) as tf.Tensor2D;
      const levelScores = levelScoreFromLogits(levelLogits) as tf.Tensor1D;
      return { levelLogits, levelScores, logits };
    });
  }

  /**
   * Rates one video: the level head's probability-weighted score (1–5), its level word and the
   * five level probabilities (bad … excellent). The head reads the decoder state after the
   * question, which no answer token can change.
   * @param input key frames `[1, M, S, S, 3]` (or their `spatialFeatures`) and clip `[1, T, s, s, 3]`, values 0..255
   */
  async rate(input: Pick<LmmVqaInput, 'frames' | 'clip' | 'spatialFeatures'>): Promise<{ score: number; level: QualityLevel; probabilities: number[] }> {
    const start = this.tokenizer.bosTokenId ?? 0;
    if (this.onnx !== null) {
      if (this.disposed) throw new ModelError('E_DISPOSED', 'LmmVqa used after dispose()');
      this.checkVisual(input, 1);
      const d = this.config.decoder.hiddenSize;
      const prefix = await this.onnxPrefix(this.onnx, input);
      const p = prefix.dims[1];
      const hidden = await this.onnx.decoder.hiddenStates({ prefixEmbeddings: prefix, tokenIds: [[start]] });
      const logits = await this.onnx.levelLogits({ data: hidden.data.slice((p - 1) * d, p * d), dims: [1, d] });
      const top = Math.max(...logits);
      const weights = Array.from(logits, (v) => Math.exp(v - top));
      const total = weights.reduce((a, b) => a + b, 0);
      const probabilities = weights.map((w) => w / total);
      const score = probabilities.reduce((sum, q, i) => sum + q * (i + 1), 0);
      return { score, level: levelFromScore(score), probabilities };
    }
    const features = await this.towerFeatures(input);
    try {
      const out = this.forward({ frames: input?.frames, clip: input?.clip, spatialFeatures: features ?? input?.spatialFeatures, targetTokenIds: [[start]] });
      const softmax = tf.softmax(out.levelLogits);
      try {
        const score = (await out.levelScores.data())[0];
        const probabilities = Array.from(await softmax.data());
        return { score, level: levelFromScore(score), probabilities };
      } finally {
        tf.dispose([out.levelLogits, out.levelScores, out.logits, softmax]);
      }
    } finally {
      features?.dispose();
    }
  }

  /** The user tower's features of `input.frames` when the model has one and they were not given (dispose them), else undefined. */
  private async towerFeatures(input: Pick<LmmVqaInput, 'frames' | 'spatialFeatures'>): Promise<tf.Tensor | undefined> {
    if (this.spatialTower === null || input?.spatialFeatures !== undefined || input?.frames === undefined) return undefined;
    return this.spatialFeatures(input.frames);
  }

  /**
   * The decoder's answer to the question (greedy): what it was trained to write, e.g. `the
   * quality score is 3.42. the quality level is fair.`; {@link parseLmmVqaAnswer} reads it back.
   * @param input key frames `[1, M, S, S, 3]` and clip `[1, T, s, s, 3]`, values 0..255
   */
  async answer(input: Pick<LmmVqaInput, 'frames' | 'clip' | 'spatialFeatures'>, options: { readonly maxNewTokens?: number } = {}): Promise<string> {
    if (this.disposed) throw new ModelError('E_DISPOSED', 'LmmVqa used after dispose()');
    const features = await this.towerFeatures(input);
    try {
      const visual = { frames: input?.frames, clip: input?.clip, spatialFeatures: features ?? input?.spatialFeatures };
      this.checkVisual(visual, 1);
      const eos = this.tokenizer.eosTokenId;
      const generation = { startTokenIds: [[this.tokenizer.bosTokenId ?? 0]], maxNewTokens: options.maxNewTokens ?? 24, stopTokens: eos === null ? [] : [eos], temperature: 0 };
      const text = (tokens: number[]): string => this.tokenizer.decode(tokens, { skipSpecialTokens: true }).trim();
      const onnx = this.onnx;
      if (onnx !== null) return text((await onnx.decoder.generate({ prefixEmbeddings: await this.onnxPrefix(onnx, visual) }, generation)).tokens[0]);
      const prefix = tf.tidy(() => this.prefix(visual, 1));
      try {
        return text(generate(this.decoder, { ...generation, prefixEmbeddings: prefix }).tokens[0]);
      } finally {
        prefix.dispose();
      }
    } finally {
      features?.dispose();
    }
  }

  /** The decoder prefix from the ONNX encoders (shapes checked by the caller). */
  private async onnxPrefix(path: OnnxLmmVqaPath, input: Pick<LmmVqaInput, 'frames' | 'clip'>): Promise<FloatBatch> {
    if (input.frames === undefined) throw new ModelError('E_MODEL_ARG', 'frames: the ONNX scoring path reads the key frames themselves; spatialFeatures are for the tfjs path');
    return path.prefix(input.frames, input.clip, this.questionEmbeddings ?? new Float32Array(0));
  }

  /** Spatial tokens per key frame (Tq) of the tower in use. */
  get spatialTokens(): number {
    return this.spatialTower?.numTokens ?? this.spatialEncoder!.numTokens();
  }

  /**
   * The frozen spatial tower's tokens of key frames: the user's tower (`spatialTower`, in ONNX
   * Runtime) or the tfjs ViT. Dispose the result.
   * @param frames `[B, M, S, S, 3]`, values 0..255
   * @returns `[B, M, Tq, F]`
   * @throws ModelError `E_MODEL_ARG` naming the shape.
   */
  async spatialFeatures(frames: PixelInput): Promise<tf.Tensor> {
    if (this.disposed) throw new ModelError('E_DISPOSED', 'LmmVqa used after dispose()');
    const s = this.config.spatialVit.imageSize;
    const m = this.config.m;
    const dims = frames instanceof tf.Tensor ? frames.shape : (frames?.dims ?? []);
    if (dims.length !== 5 || dims.slice(1).some((n, i) => n !== [m, s, s, 3][i])) {
      throw new ModelError('E_MODEL_ARG', `frames: expected shape [B, ${m}, ${s}, ${s}, 3], got ${shapeText(dims)}`);
    }
    const b = dims[0];
    const tower = this.spatialTower;
    if (tower === null) {
      return tf.tidy(() => {
        const tokens = this.vitTokens(frames, b);
        return tf.reshape(tokens, [b, m, ...tokens.shape.slice(1)]);
      });
    }
    const data = frames instanceof tf.Tensor ? new Uint8Array(await frames.data()) : frames.data;
    const size = m * s * s * 3;
    const rows: tf.Tensor[] = [];
    try {
      for (let i = 0; i < b; i++) rows.push(await tower.features({ data: data.subarray(i * size, (i + 1) * size), dims: [m, s, s, 3] }));
      return tf.stack(rows);
    } finally {
      tf.dispose(rows);
    }
  }

  /** Checks `frames` `[b, M, S, S, 3]` (or `spatialFeatures` `[b, M, Tq, F]`) and `clip` `[b, T, s, s, 3]`, naming the bad one and both shapes. */
  private checkVisual(input: Pick<LmmVqaInput, 'frames' | 'clip' | 'spatialFeatures'>, b: number): void {
    const s = this.config.spatialVit.imageSize;
    const m = this.config.m;
    const features = input?.spatialFeatures;
    if (features !== undefined) {
      const expected = [b, m, this.spatialTokens, this.config.spatialVit.hiddenSize];
      if (!(features instanceof tf.Tensor) || features.rank !== 4 || expected.some((n, i) => features.shape[i] !== n)) {
        throw new ModelError('E_MODEL_ARG', `spatialFeatures: expected shape ${shapeText(expected)}, got ${features instanceof tf.Tensor ? shapeText(features.shape) : String(features)}`);
      }
    } else {
      if (this.spatialTower !== null) {
        throw new ModelError('E_MODEL_ARG', 'frames: the spatial tower runs in ONNX Runtime, outside tfjs; pass spatialFeatures (await model.spatialFeatures(frames)) instead');
      }
      const frameDims = input?.frames instanceof tf.Tensor ? input.frames.shape : (input?.frames?.dims ?? []);
      if (frameDims.length !== 5 || [b, m, s, s, 3].some((n, i) => frameDims[i] !== n)) {
        throw new ModelError('E_MODEL_ARG', `frames: expected shape [${b}, ${m}, ${s}, ${s}, 3], got ${shapeText(frameDims)}`);
      }
    }
    const t = this.config.temporal;
    const clipDims = input.clip instanceof tf.Tensor ? input.clip.shape : (input.clip?.dims ?? []);
    if (clipDims.length !== 5 || [b, t.numFrames, t.imageSize, t.imageSize, 3].some((n, i) => clipDims[i] !== n)) {
      throw new ModelError('E_MODEL_ARG', `clip: expected shape [${b}, ${t.numFrames}, ${t.imageSize}, ${t.imageSize}, 3], got ${shapeText(clipDims)}`);
    }
  }

  /** `[b·M, Tq, F]`: the tfjs spatial ViT's tokens of key frames `[b, M, S, S, 3]` (shapes checked by the caller). */
  private vitTokens(frames: PixelInput, b: number): tf.Tensor {
    const s = this.config.spatialVit.imageSize;
    const m = this.config.m;
    const pixels = normalizePixels('frames', frames, [b, m, s, s, 3], SIGLIP_NORMALIZATION);
    return this.spatialEncoder!.forward(tf.reshape(pixels, [b * m, s, s, 3]));
  }

  /** `[b, M·Tq + T/t + question, D]`: spatial tokens, temporal tokens, the question's embeddings. */
  private prefix(input: Pick<LmmVqaInput, 'frames' | 'clip' | 'spatialFeatures'>, b: number): tf.Tensor3D {
    const m = this.config.m;
    const d = this.config.decoder.hiddenSize;
    const tq = this.spatialTokens;
    const spatial = input.spatialFeatures !== undefined ? tf.reshape(input.spatialFeatures, [b * m, tq, this.config.spatialVit.hiddenSize]) : this.vitTokens(input.frames as PixelInput, b);
    const spatialTokens = tf.reshape(this.spatialProjector.apply(spatial), [b, m * tq, d]);
    const temporalTokens = this.temporalEncoder.forward(input.clip);
    const parts = [spatialTokens, temporalTokens];
    if (this.promptIds.length > 0) parts.push(this.decoder.embedTokens(new Array<number[]>(b).fill(this.promptIds)));
    return tf.concat(parts, 1) as tf.Tensor3D;
  }

  /** Frees every part: the tfjs weights at once, then the ONNX Runtime sessions when attached. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.spatialEncoder?.dispose();
    // The tower owns the projector it lent.
    if (this.spatialTower === null) this.spatialProjector.dispose();
    this.temporalEncoder.dispose();
    this.levelHead.dispose();
    this.decoder.dispose();
    const onnx = this.onnx;
    this.onnx = null;
    await onnx?.dispose();
    await this.spatialTower?.dispose();
  }
}
