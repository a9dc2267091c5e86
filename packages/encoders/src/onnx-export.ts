import { randomUUID } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import type { tf } from '@vqlm/runtime';
import { EncoderError } from './errors.js';
import type { Normalization } from './frames.js';
import type { BlockConfig } from './layers.js';
import { OnnxGraphBuilder } from './onnx-graph.js';
import type { ParamStore } from './params.js';
import type { TemporalEncoder } from './temporal-encoder.js';
import type { ViT } from './vit.js';

/** Options of {@link addVitToGraph}. */
export interface VitGraphOptions {
  /** Input side in pixels (default: the config's `imageSize`); position embeddings are resampled for it. */
  readonly imageSize?: number;
  /** Layout of `input`: `nchw` (default; `[batch, 3, S, S]`) or `nhwc` (`[batch, S, S, 3]`). */
  readonly inputLayout?: 'nchw' | 'nhwc';
}

/** Options of {@link vitToOnnx} / {@link exportVitToOnnx}. */
export interface VitOnnxOptions extends VitGraphOptions {
  /** Input name (default `pixel_values`). */
  readonly inputName?: string;
  /** Output name (default `last_hidden_state`). */
  readonly outputName?: string;
  /** Extra `metadata_props`. */
  readonly metadata?: Record<string, string>;
}

async function values(t: tf.Tensor): Promise<Float32Array> {
  return (await t.data()) as Float32Array;
}

function checkedSize(vit: ViT, imageSize: number | undefined): number {
  const c = vit.config;
  const size = imageSize ?? c.imageSize;
  if (!Number.isInteger(size) || size < c.patchSize || size % c.patchSize !== 0) {
    throw new EncoderError('E_ARG', `imageSize: expected a multiple of the patch size ${c.patchSize}, got ${size}`);
  }
  return size;
}

function checkedLayout(layout: string | undefined): 'nchw' | 'nhwc' {
  const value = layout ?? 'nchw';
  if (value !== 'nchw' && value !== 'nhwc') {
    throw new EncoderError('E_ARG', `inputLayout: expected "nchw" or "nhwc", got "${value}"`);
  }
  return value;
}

/**
 * Adds `vit`'s forward pass to a graph being built: reads the normalised image batch `input`
 * (a value of `g`) and returns the name of its `[batch, T, H]` token output. Lets a larger
 * export (e.g. an encoder with its projector) contain the ViT. Same graph as {@link ViT.forward}:
 * patch embedding by Reshape/Transpose/MatMul, class token by Expand, LayerNormalization,
 * attention by MatMul/Softmax, GELU by Erf (exact) or Tanh.
 */
export async function addVitToGraph(g: OnnxGraphBuilder, vit: ViT, input: string, options: VitGraphOptions = {}): Promise<string> {
  const c = vit.config;
  const size = checkedSize(vit, options.imageSize);
  const layout = checkedLayout(options.inputLayout);
  const p = vit.params;
  const h = c.hiddenSize;
  const ps = c.patchSize;
  const grid = size / ps;
  const param = async (name: string): Promise<string> => g.floats(name, await values(p.get(name)), p.shape(name));
  const nhwc = layout === 'nchw' ? g.node('Transpose', [input], { perm: { ints: [0, 2, 3, 1] } }) : input;
  const rows = g.node('Reshape', [nhwc, g.ints('rows_shape', [-1, ps, grid, ps * c.channels])]);
  const swapped = g.node('Transpose', [rows], { perm: { ints: [0, 2, 1, 3] } });
  const patches = g.node('Reshape', [swapped, g.ints('patches_shape', [-1, grid * grid, ps * ps * c.channels])]);
  let x = g.node('Add', [g.node('MatMul', [patches, await param('patch.weight')]), await param('patch.bias')]);
  if (c.classToken) {
    const batch = g.node('Slice', [g.node('Shape', [input]), g.ints('zero', [0]), g.ints('one', [1])]);
    const clsShape = g.node('Concat', [batch, g.ints('cls_tail', [1, h])], { axis: { int: 0 } });
    const cls = g.floats('cls', await values(p.get('cls')), [1, 1, h]);
    x = g.node('Concat', [g.node('Expand', [cls, clsShape]), x], { axis: { int: 1 } });
  }
  const pos = vit.positionEmbeddings(grid, grid);
  try {
    x = g.node('Add', [x, g.floats('pos', await values(pos), pos.shape)]);
  } finally {
    pos.dispose();
  }
  return addEncoderBlocksToGraph(g, p, c, x);
}

/** Sizes of the blocks {@link addEncoderBlocksToGraph} writes. */
interface EncoderBlocksConfig extends BlockConfig {
  readonly numLayers: number;
}

/**
 * Adds `numLayers` pre-norm transformer blocks (`blocks.i.*` of `p`, as `transformerBlock`) and
 * the final layer norm (`norm.gamma`, `norm.beta`) after `x [batch, T, H]`; returns the output's
 * name. Shared by the ViT and the temporal encoder: attention by MatMul/Softmax, GELU by Erf
 * (exact) or Tanh.
 */
async function addEncoderBlocksToGraph(g: OnnxGraphBuilder, p: ParamStore, c: EncoderBlocksConfig, input: string): Promise<string> {
  const h = c.hiddenSize;
  const heads = c.numHeads;
  const d = h / heads;
  const param = async (name: string): Promise<string> => g.floats(name, await values(p.get(name)), p.shape(name));
  const eps = { float: c.layerNormEps };
  const dense = async (v: string, name: string): Promise<string> =>
    g.node('Add', [g.node('MatMul', [v, await param(`${name}.weight`)]), await param(`${name}.bias`)]);
  const headsShape = g.ints('heads_shape', [0, 0, heads, d]);
  const mergedShape = g.ints('merged_shape', [0, 0, h]);
  const scale = g.floats('attention_scale', [1 / Math.sqrt(d)], []);
  const half = g.floats('half', [0.5], []);
  const one = g.floats('one_f', [1], []);
  const exact = c.gelu === 'exact';
  const invSqrt2 = exact ? g.floats('inv_sqrt2', [Math.SQRT1_2], []) : '';
  const cube = exact ? '' : g.floats('gelu_cube', [0.044715], []);
  const tanhScale = exact ? '' : g.floats('gelu_k', [Math.sqrt(2 / Math.PI)], []);
  let x = input;
  for (let i = 0; i < c.numLayers; i++) {
    const b = `blocks.${i}`;
    const a = g.node('LayerNormalization', [x, await param(`${b}.ln1.gamma`), await param(`${b}.ln1.beta`)], { axis: { int: -1 }, epsilon: eps });
    const q = g.node('Transpose', [g.node('Reshape', [g.node('Mul', [await dense(a, `${b}.attn.q`), scale]), headsShape])], { perm: { ints: [0, 2, 1, 3] } });
    const k = g.node('Transpose', [g.node('Reshape', [await dense(a, `${b}.attn.k`), headsShape])], { perm: { ints: [0, 2, 3, 1] } });
    const v = g.node('Transpose', [g.node('Reshape', [await dense(a, `${b}.attn.v`), headsShape])], { perm: { ints: [0, 2, 1, 3] } });
    const probs = g.node('Softmax', [g.node('MatMul', [q, k])], { axis: { int: -1 } });
    const context = g.node('Reshape', [g.node('Transpose', [g.node('MatMul', [probs, v])], { perm: { ints: [0, 2, 1, 3] } }), mergedShape]);
    x = g.node('Add', [x, await dense(context, `${b}.attn.out`)]);
    const m = g.node('LayerNormalization', [x, await param(`${b}.ln2.gamma`), await param(`${b}.ln2.beta`)], { axis: { int: -1 }, epsilon: eps });
    const pre = await dense(m, `${b}.mlp.fc1`);
    let gate: string;
    if (exact) {
      gate = g.node('Erf', [g.node('Mul', [pre, invSqrt2])]);
    } else {
      const cubed = g.node('Mul', [g.node('Mul', [pre, pre]), pre]);
      const inner = g.node('Mul', [g.node('Add', [pre, g.node('Mul', [cubed, cube])]), tanhScale]);
      gate = g.node('Tanh', [inner]);
    }
    const act = g.node('Mul', [g.node('Mul', [pre, g.node('Add', [gate, one])]), half]);
    x = g.node('Add', [x, await dense(act, `${b}.mlp.fc2`)]);
  }
  return g.node('LayerNormalization', [x, await param('norm.gamma'), await param('norm.beta')], { axis: { int: -1 }, epsilon: eps });
}

/**
 * Adds pixel normalisation to a graph: `input` holds raw pixel values 0..255 with the three
 * channels last; returns `(input / 255 − mean) / std` per channel, as `normalizePixels`.
 */
export function addPixelNormalizationToGraph(g: OnnxGraphBuilder, input: string, normalization: Normalization): string {
  const scale = normalization.std.map((s) => 1 / (255 * s));
  const offset = normalization.mean.map((m, i) => -m / normalization.std[i]);
  return g.node('Add', [g.node('Mul', [input, g.floats('pixel_scale', scale, [3])]), g.floats('pixel_offset', offset, [3])]);
}

/**
 * Adds a {@link TemporalEncoder}'s forward pass (with its projector) to a graph: reads the
 * normalised clip batch `input [batch, T, S, S, 3]` and returns the name of its temporal tokens
 * `[batch, T/t, D]`. Same graph as `TemporalEncoder.forward`: tubelets by Reshape/Transpose and
 * one MatMul, factorised position embeddings, the blocks of {@link addVitToGraph}, the final layer
 * norm, the mean over each time step's spatial tokens, the projector.
 */
export async function addTemporalEncoderToGraph(g: OnnxGraphBuilder, encoder: TemporalEncoder, input: string): Promise<string> {
  const c = encoder.config;
  const p = encoder.params;
  const ps = c.patchSize;
  const grid = c.imageSize / ps;
  const nt = encoder.numTokens;
  const ns = encoder.spatialTokens;
  const h = c.hiddenSize;
  const patchValues = ps * ps * 3;
  const param = async (name: string): Promise<string> => g.floats(name, await values(p.get(name)), p.shape(name));
  // Per-frame spatial patches, grouped into tubelets (frame in tubelet first), as embedTubelets.
  const rows = g.node('Reshape', [input, g.ints('tubelet_rows', [-1, ps, grid, ps * 3])]);
  const patches = g.node('Reshape', [g.node('Transpose', [rows], { perm: { ints: [0, 2, 1, 3] } }), g.ints('tubelet_patches', [-1, nt, c.tubeletFrames, ns, patchValues])]);
  const tubelets = g.node('Reshape', [g.node('Transpose', [patches], { perm: { ints: [0, 1, 3, 2, 4] } }), g.ints('tubelet_flat', [-1, c.tubeletFrames * patchValues])]);
  const embedded = g.node('Add', [g.node('MatMul', [tubelets, await param('tubelet.weight')]), await param('tubelet.bias')]);
  const grid4 = g.ints('time_space_shape', [-1, nt, ns, h]);
  const placed = g.node('Add', [g.node('Add', [g.node('Reshape', [embedded, grid4]), await param('pos.time')]), await param('pos.space')]);
  const tokens = g.node('Reshape', [placed, g.ints('joint_shape', [-1, nt * ns, h])]);
  const encoded = await addEncoderBlocksToGraph(g, p, { ...c, gelu: 'exact' }, tokens);
  const pooled = g.node('ReduceMean', [g.node('Reshape', [encoded, grid4])], { axes: { ints: [2] }, keepdims: { int: 0 } });
  const proj = encoder.projector.params;
  const weight = g.floats('temporal_projector_weight', await values(proj.get('weight')), proj.shape('weight'));
  const bias = g.floats('temporal_projector_bias', await values(proj.get('bias')), proj.shape('bias'));
  return g.node('Add', [g.node('MatMul', [pooled, weight]), bias]);
}

/** Options of {@link temporalEncoderToOnnx}. */
export interface TemporalEncoderOnnxOptions {
  /** Input holds raw pixel values 0..255 and the graph normalises them (default false: normalised input, as `vitToOnnx`). */
  readonly rawPixels?: boolean;
  /** Input name (default `clips`). */
  readonly inputName?: string;
  /** Output name (default `temporal_tokens`). */
  readonly outputName?: string;
}

/**
 * Writes a {@link TemporalEncoder} (with its projector) as an ONNX model (opset 17): input `clips
 * [batch, T, S, S, 3]` (float32; normalised, or raw 0..255 with `rawPixels`), output
 * `temporal_tokens [batch, T/t, D]`; the graph of {@link addTemporalEncoderToGraph}.
 * @returns the serialised `ModelProto`.
 */
export async function temporalEncoderToOnnx(encoder: TemporalEncoder, options: TemporalEncoderOnnxOptions = {}): Promise<Uint8Array> {
  const c = encoder.config;
  const g = new OnnxGraphBuilder();
  const input = g.input({ name: options.inputName ?? 'clips', dtype: 'float32', dims: ['batch', c.numFrames, c.imageSize, c.imageSize, 3] });
  const pixels = options.rawPixels ? addPixelNormalizationToGraph(g, input, encoder.normalization) : input;
  const out = await addTemporalEncoderToGraph(g, encoder, pixels);
  g.output(out, { name: options.outputName ?? 'temporal_tokens', dtype: 'float32', dims: ['batch', encoder.numTokens, c.outputDim] });
  return g.toBytes({ graphName: 'vqlm_temporal_encoder', metadata: { 'vqlm.temporal_config': JSON.stringify(c), 'vqlm.raw_pixels': String(options.rawPixels ?? false) } });
}

/**
 * Writes `vit` as an ONNX model (opset 17): input `pixel_values
 * [batch, 3, S, S]` (normalised float32; `batch` symbolic), output
 * `last_hidden_state [batch, T, H]`, weights as initializers; the graph of
 * {@link addVitToGraph}.
 * @returns the serialised `ModelProto`.
 */
export async function vitToOnnx(vit: ViT, options: VitOnnxOptions = {}): Promise<Uint8Array> {
  const c = vit.config;
  const size = checkedSize(vit, options.imageSize);
  const layout = checkedLayout(options.inputLayout);
  const g = new OnnxGraphBuilder();
  const input = g.input({
    name: options.inputName ?? 'pixel_values',
    dtype: 'float32',
    dims: layout === 'nchw' ? ['batch', c.channels, size, size] : ['batch', size, size, c.channels],
  });
  const out = await addVitToGraph(g, vit, input, { imageSize: size, inputLayout: layout });
  g.output(out, { name: options.outputName ?? 'last_hidden_state', dtype: 'float32', dims: ['batch', vit.numTokens(size, size), c.hiddenSize] });
  return g.toBytes({
    graphName: 'vqlm_vit',
    metadata: { 'vqlm.vit_config': JSON.stringify(c), 'vqlm.input_layout': layout, ...options.metadata },
  });
}

/**
 * {@link vitToOnnx}, written atomically to `path` (temporary file, then rename).
 */
export async function exportVitToOnnx(vit: ViT, path: string, options: VitOnnxOptions = {}): Promise<void> {
  const bytes = await vitToOnnx(vit, options);
  const tmp = `${path}.${randomUUID()}.tmp`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}
