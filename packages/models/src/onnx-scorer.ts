import { OnnxGraphBuilder, addVitToGraph } from '@vqlm/encoders';
import { createOnnxSession, type OnnxSession, type tf } from '@vqlm/runtime';
import type { CpLlmBranches, CpLlmConfig } from './config.js';
import type { CpLlm } from './cp-llm.js';
import { ModelError, shapeText } from './errors.js';

/** A float32 array with its shape (what crosses between ONNX Runtime sessions). */
export interface FloatBatch {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

/** Token and feature sizes of a CP-LLM's scoring path (`model.json` `dims`). */
export interface ScoringDims {
  /** D: model width. */
  readonly model: number;
  /** Th: context tokens per frame. */
  readonly contextTokens: number;
  /** F: context tower width. */
  readonly contextFeatures: number;
  /** Tl: pixel tokens per frame. */
  readonly pixelTokens: number;
}

/** Names of the exported graphs' inputs and outputs. */
export const ONNX_SCORER_NAMES = Object.freeze({
  pixelValues: 'pixel_values',
  pixelTokens: 'pixel_tokens',
  contextFeatures: 'context_features',
  frameScores: 'frame_scores',
});

async function values(t: tf.Tensor): Promise<Float32Array> {
  return (await t.data()) as Float32Array;
}

/** `x · W + b` with the weights as initializers; returns the output's name. */
export async function dense(g: OnnxGraphBuilder, x: string, name: string, weight: tf.Tensor, bias: tf.Tensor): Promise<string> {
  const w = g.floats(`${name}_weight`, await values(weight), weight.shape);
  const b = g.floats(`${name}_bias`, await values(bias), bias.shape);
  return g.node('Add', [g.node('MatMul', [x, w]), b]);
}

/**
 * The pixel encoder of `model` as an ONNX model (opset 17): input `pixel_values
 * [patches, 3, P, P]` (the ViT input of `PixelEncoder.vitInput`, transposed to NCHW;
 * patches = frames·K), output `pixel_tokens [frames, Tl, D]`. The graph is the ViT, the
 * projector, the mean over the K patches of a frame and the final layer norm, as
 * `PixelEncoder.forward`.
 * @throws ModelError `E_MODEL_ARG` for a context-only model (it has no pixel branch).
 */
export async function pixelEncoderToOnnx(model: CpLlm): Promise<Uint8Array> {
  const { k, patchSize: p, branches } = model.config;
  if (branches === 'context') throw new ModelError('E_MODEL_ARG', "model: config.branches is 'context'; there is no pixel branch to export");
  const encoder = model.pixelEncoder;
  const d = model.dim;
  const tl = encoder.numTokens;
  const g = new OnnxGraphBuilder();
  const input = g.input({ name: ONNX_SCORER_NAMES.pixelValues, dtype: 'float32', dims: ['patches', 3, p, p] });
  const vitTokens = await addVitToGraph(g, encoder.vit, input, { imageSize: p });
  const projected = await dense(g, vitTokens, 'projector', encoder.projector.params.get('weight'), encoder.projector.params.get('bias'));
  const perFrame = g.node('Reshape', [projected, g.ints('frame_shape', [-1, k, tl, d])]);
  const pooled = g.node('ReduceMean', [perFrame], { axes: { ints: [1] }, keepdims: { int: 0 } });
  const gamma = g.floats('norm_gamma', await values(encoder.params.get('norm.gamma')), [d]);
  const beta = g.floats('norm_beta', await values(encoder.params.get('norm.beta')), [d]);
  const out = g.node('LayerNormalization', [pooled, gamma, beta], { axis: { int: -1 }, epsilon: { float: 1e-6 } });
  g.output(out, { name: ONNX_SCORER_NAMES.pixelTokens, dtype: 'float32', dims: ['frames', tl, d] });
  return g.toBytes({ graphName: 'vqlm_cp_llm_pixel_encoder', metadata: { 'vqlm.k': String(k), 'vqlm.pixel_input': model.pixelEncoder.input } });
}

/**
 * The part of `model`'s scoring path after the encoders as an ONNX model (opset 17): the
 * context projector, the token pooling of the quality head and its MLP. Inputs
 * `context_features [frames, Th, F]` (the frozen tower's output) and `pixel_tokens
 * [frames, Tl, D]` ({@link pixelEncoderToOnnx}'s output); output `frame_scores [frames]`, raw.
 * A model with one branch has only that branch's input: the other branch's tokens are zeros,
 * so only its half of the head's first layer is kept.
 */
export async function qualityHeadToOnnx(model: CpLlm): Promise<Uint8Array> {
  const d = model.dim;
  const { branches } = model.config;
  const { pooling } = model.head.config;
  const g = new OnnxGraphBuilder();
  const pool = (tokens: string): string => {
    if (pooling === 'first') return g.node('Reshape', [g.node('Gather', [tokens, g.ints('first', [0])], { axis: { int: 1 } }), g.ints('pooled_shape', [-1, d])]);
    return g.node(pooling === 'max' ? 'ReduceMax' : 'ReduceMean', [tokens], { axes: { ints: [1] }, keepdims: { int: 0 } });
  };
  const parts: string[] = [];
  if (branches !== 'pixel') {
    const encoder = model.contextEncoder;
    const features = g.input({ name: ONNX_SCORER_NAMES.contextFeatures, dtype: 'float32', dims: ['frames', encoder.numTokens, encoder.featureDim] });
    parts.push(pool(await dense(g, features, 'context_projector', encoder.projector.params.get('weight'), encoder.projector.params.get('bias'))));
  }
  if (branches !== 'context') {
    parts.push(pool(g.input({ name: ONNX_SCORER_NAMES.pixelTokens, dtype: 'float32', dims: ['frames', model.pixelEncoder.numTokens, d] })));
  }
  const weights = model.head.getWeights();
  const hidden = model.head.config.hidden;
  // fc1.kernel is [2D, hidden]: rows 0..D read the context half, D..2D the pixel half.
  const kernel = await values(weights['fc1.kernel']);
  const rows = branches === 'both' ? kernel : branches === 'pixel' ? kernel.subarray(d * hidden) : kernel.subarray(0, d * hidden);
  const features = parts.length === 2 ? g.node('Concat', parts, { axis: { int: -1 } }) : parts[0];
  const fc1 = g.node('Add', [g.node('MatMul', [features, g.floats('fc1_kernel', rows, [rows.length / hidden, hidden])]), g.floats('fc1_bias', await values(weights['fc1.bias']), [hidden])]);
  const out = await dense(g, g.node('Relu', [fc1]), 'fc2', weights['fc2.kernel'], weights['fc2.bias']);
  g.output(g.node('Reshape', [out, g.ints('scores_shape', [-1])]), { name: ONNX_SCORER_NAMES.frameScores, dtype: 'float32', dims: ['frames'] });
  return g.toBytes({ graphName: 'vqlm_cp_llm_quality_head', metadata: { 'vqlm.branches': branches, 'vqlm.pooling': pooling } });
}

/** The ONNX exports of {@link OnnxScoringPath.create}: paths or bytes. */
export interface OnnxScoringFiles {
  /** {@link pixelEncoderToOnnx}'s file; absent for a context-only model. */
  readonly pixelEncoder?: string | Uint8Array;
  /** {@link qualityHeadToOnnx}'s file. */
  readonly head: string | Uint8Array;
}

/** Whether two lists of graph names hold the same names (in any order). */
export function sameNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((n) => b.includes(n));
}

/** What a bundle's ONNX file is called in messages: its path, else `what`. */
export function onnxLabel(file: string | Uint8Array, what: string): string {
  return typeof file === 'string' ? file : what;
}

/**
 * An ONNX Runtime session on a bundle's exported file (a path or bytes).
 * @throws ModelError `E_BUNDLE_IO` naming the file when it cannot be opened.
 */
export async function openBundleOnnx(file: string | Uint8Array, what: string): Promise<OnnxSession> {
  try {
    return await createOnnxSession(file);
  } catch (error) {
    throw new ModelError('E_BUNDLE_IO', `${onnxLabel(file, what)}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Checks that an opened export has exactly these inputs and this output.
 * @throws ModelError `E_BUNDLE_IO` naming the file (`label`) and both name lists.
 */
export function expectIo(session: OnnxSession, label: string, inputs: readonly string[], output: string): void {
  if (!sameNames(session.inputNames, inputs) || !sameNames(session.outputNames, [output])) {
    const wanted = inputs.length === 1 ? `input ${inputs[0]}` : `inputs [${inputs.join(', ')}]`;
    throw new ModelError('E_BUNDLE_IO', `${label}: expected ${wanted} and output ${output}, got [${session.inputNames.join(', ')}] → [${session.outputNames.join(', ')}]`);
  }
}

/**
 * CP-LLM's trained scoring path in ONNX Runtime: the pixel encoder (ViT, projector, mean over
 * K, layer norm) and the quality head (context projector, pooling, MLP), exported from the
 * tfjs weights by {@link pixelEncoderToOnnx} and {@link qualityHeadToOnnx}. The frozen context
 * tower stays with the model's context encoder (ONNX or tfjs, with its feature cache).
 */
export class OnnxScoringPath {
  /** The pixel encoder's session (null for a context-only model). */
  readonly pixelSession: OnnxSession | null;
  readonly headSession: OnnxSession;
  readonly branches: CpLlmBranches;
  readonly dims: ScoringDims;
  private readonly k: number;
  private readonly patchSize: number;

  private constructor(pixelSession: OnnxSession | null, headSession: OnnxSession, config: CpLlmConfig, dims: ScoringDims) {
    this.pixelSession = pixelSession;
    this.headSession = headSession;
    this.branches = config.branches;
    this.k = config.k;
    this.patchSize = config.patchSize;
    this.dims = Object.freeze({ model: dims.model, contextTokens: dims.contextTokens, contextFeatures: dims.contextFeatures, pixelTokens: dims.pixelTokens });
  }

  /**
   * Opens the exports for a model of `config` and `dims`, checking each file's inputs and outputs.
   * @throws ModelError `E_BUNDLE_IO` naming the file whose graph does not fit.
   */
  static async create(files: OnnxScoringFiles, config: CpLlmConfig, dims: ScoringDims): Promise<OnnxScoringPath> {
    const names = ONNX_SCORER_NAMES;
    if (config.branches !== 'context' && files.pixelEncoder === undefined) {
      throw new ModelError('E_BUNDLE_IO', `pixelEncoder: a model with config.branches '${config.branches}' needs the pixel encoder's ONNX file`);
    }
    let pixel: OnnxSession | null = null;
    try {
      if (config.branches !== 'context' && files.pixelEncoder !== undefined) {
        pixel = await openBundleOnnx(files.pixelEncoder, 'pixel encoder ONNX');
        expectIo(pixel, onnxLabel(files.pixelEncoder, 'pixel encoder ONNX'), [names.pixelValues], names.pixelTokens);
      }
      const head = await openBundleOnnx(files.head, 'quality head ONNX');
      try {
        const inputs = [...(config.branches !== 'pixel' ? [names.contextFeatures] : []), ...(config.branches !== 'context' ? [names.pixelTokens] : [])];
        expectIo(head, onnxLabel(files.head, 'quality head ONNX'), inputs, names.frameScores);
      } catch (error) {
        await head.dispose();
        throw error;
      }
      return new OnnxScoringPath(pixel, head, config, dims);
    } catch (error) {
      await pixel?.dispose();
      throw error;
    }
  }

  /**
   * @param pixels the pixel encoder's ViT input `[frames·K, 3, P, P]` (NCHW, normalised)
   * @returns pixel tokens `[frames, Tl, D]`
   */
  async pixelTokens(pixels: FloatBatch): Promise<FloatBatch> {
    const p = this.patchSize;
    const [n, c, h, w] = pixels.dims;
    if (!this.pixelSession) throw new ModelError('E_MODEL_ARG', "pixels: this model's branches are 'context'; it has no pixel encoder");
    if (pixels.dims.length !== 4 || c !== 3 || h !== p || w !== p || n < this.k || n % this.k !== 0) {
      throw new ModelError('E_MODEL_ARG', `pixels: expected shape [frames·${this.k}, 3, ${p}, ${p}], got ${shapeText(pixels.dims)}`);
    }
    const out = (await this.pixelSession.run({ [ONNX_SCORER_NAMES.pixelValues]: pixels }))[ONNX_SCORER_NAMES.pixelTokens];
    return this.checked('pixel_tokens', out, [n / this.k, this.dims.pixelTokens, this.dims.model]);
  }

  /**
   * Raw frame scores.
   * @param context frozen context features `[frames, Th, F]` (null for a pixel-only model)
   * @param pixel pixel tokens `[frames, Tl, D]` (null for a context-only model)
   */
  async frameScores(context: FloatBatch | null, pixel: FloatBatch | null): Promise<number[]> {
    const { contextTokens: th, contextFeatures: f, pixelTokens: tl, model: d } = this.dims;
    const feeds: Record<string, FloatBatch> = {};
    const frames = (context ?? pixel)?.dims[0] ?? 0;
    const need = (name: string, value: FloatBatch | null, tail: readonly number[]): void => {
      const expected = [frames, ...tail];
      if (!value || value.dims.length !== expected.length || expected.some((x, i) => value.dims[i] !== x) || frames < 1) {
        throw new ModelError('E_MODEL_ARG', `${name}: expected shape ${shapeText(['frames', ...tail])} with frames ≥ 1${frames ? ` (${frames} as in the other input)` : ''}, got ${value ? shapeText(value.dims) : 'nothing'}`);
      }
      feeds[name] = value;
    };
    if (this.branches !== 'pixel') need(ONNX_SCORER_NAMES.contextFeatures, context, [th, f]);
    if (this.branches !== 'context') need(ONNX_SCORER_NAMES.pixelTokens, pixel, [tl, d]);
    const out = (await this.headSession.run(feeds))[ONNX_SCORER_NAMES.frameScores];
    return Array.from(this.checked('frame_scores', out, [frames]).data);
  }

  private checked(name: string, out: FloatBatch | undefined, expected: readonly number[]): FloatBatch {
    if (!out || out.dims.length !== expected.length || expected.some((n, i) => out.dims[i] !== n)) {
      throw new ModelError('E_MODEL_ARG', `${name}: expected shape ${shapeText(expected)}, got ${out ? shapeText(out.dims) : 'nothing'}`);
    }
    return out;
  }

  async dispose(): Promise<void> {
    await this.pixelSession?.dispose();
    await this.headSession.dispose();
  }
}
