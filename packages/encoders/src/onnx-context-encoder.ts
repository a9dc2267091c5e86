import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createOnnxSession, tf, type OnnxExecutionProvider, type OnnxSession } from '@vqlm/runtime';
import { ContextEncoderBase, type ContextEncoderBaseOptions } from './context-encoder-base.js';
import { EncoderError } from './errors.js';

/** Options of {@link OnnxContextEncoder}. */
export interface OnnxContextEncoderOptions extends ContextEncoderBaseOptions {
  /** `.onnx` path or bytes of a vision tower: `[batch, 3, S, S]` (or NHWC) → `[batch, Th, F]`. */
  readonly model: string | Uint8Array;
  /** `nchw` (default; HF/optimum exports) or `nhwc`. */
  readonly inputLayout?: 'nchw' | 'nhwc';
  /** Input to feed (default: the model's first input). */
  readonly inputName?: string;
  /** Output to read (default `last_hidden_state` if present, else the first output). */
  readonly outputName?: string;
  /** Cache id; default `onnx-<SHA-256 of the model bytes and input size, 16 hex>`. */
  readonly id?: string;
  /** ONNX Runtime intra-op threads. */
  readonly threads?: number;
  /** Execution providers in priority order (runtime's default: CUDA when present, else CPU). */
  readonly executionProviders?: OnnxExecutionProvider[];
}

/**
 * {@link ContextEncoder} running a frozen ONNX vision tower (the real case:
 * SigLIP's vision model exported to ONNX) under ONNX Runtime, with a tfjs
 * projector. Th and F are read from the model's output shape, or found by
 * one probe run on a blank frame when the model leaves them symbolic.
 */
export class OnnxContextEncoder extends ContextEncoderBase {
  readonly id: string;
  readonly session: OnnxSession;
  readonly inputName: string;
  readonly outputName: string;
  readonly inputLayout: 'nchw' | 'nhwc';

  private constructor(
    options: OnnxContextEncoderOptions,
    session: OnnxSession,
    io: { id: string; inputName: string; outputName: string; numTokens: number; featureDim: number },
  ) {
    super(options, io.numTokens, io.featureDim);
    this.session = session;
    this.id = io.id;
    this.inputName = io.inputName;
    this.outputName = io.outputName;
    this.inputLayout = options.inputLayout ?? 'nchw';
  }

  /** Opens the model. Throws `E_ARG` when the named input/output is missing or the output is not `[batch, Th, F]`. */
  static async create(options: OnnxContextEncoderOptions): Promise<OnnxContextEncoder> {
    const bytes = typeof options.model === 'string' ? new Uint8Array(await readFile(options.model)) : options.model;
    const layout = options.inputLayout ?? 'nchw';
    if (layout !== 'nchw' && layout !== 'nhwc') {
      throw new EncoderError('E_ARG', `inputLayout: expected "nchw" or "nhwc", got "${String(layout)}"`);
    }
    const size = options.imageSize ?? 448;
    const session = await createOnnxSession(bytes, { threads: options.threads, executionProviders: options.executionProviders });
    try {
      const inputName = options.inputName ?? session.inputNames[0];
      if (!session.inputNames.includes(inputName)) {
        throw new EncoderError('E_ARG', `inputName: model has no input "${inputName}" (inputs: ${session.inputNames.join(', ')})`);
      }
      const outputName = options.outputName ?? (session.outputNames.includes('last_hidden_state') ? 'last_hidden_state' : session.outputNames[0]);
      const output = session.outputs.find((o) => o.name === outputName);
      if (!output) {
        throw new EncoderError('E_ARG', `outputName: model has no output "${outputName}" (outputs: ${session.outputNames.join(', ')})`);
      }
      let numTokens = typeof output.shape?.[1] === 'number' ? output.shape[1] : undefined;
      let featureDim = typeof output.shape?.[2] === 'number' ? output.shape[2] : undefined;
      if (output.shape && output.shape.length !== 3) {
        throw new EncoderError('E_ARG', `outputName: output "${outputName}" has shape [${output.shape.join(', ')}], expected [batch, Th, F]`);
      }
      if (numTokens === undefined || featureDim === undefined) {
        const dims = layout === 'nchw' ? [1, 3, size, size] : [1, size, size, 3];
        const probe = await session.run({ [inputName]: { data: new Float32Array(3 * size * size), dims } });
        const got = probe[outputName].dims;
        if (got.length !== 3) throw new EncoderError('E_ARG', `outputName: output "${outputName}" has shape [${got.join(', ')}], expected [batch, Th, F]`);
        numTokens = got[1];
        featureDim = got[2];
      }
      const id =
        options.id ??
        `onnx-${createHash('sha256').update(bytes).update(`|${size}|${layout}|${inputName}|${outputName}`).digest('hex').slice(0, 16)}`;
      return new OnnxContextEncoder(options, session, { id, inputName, outputName, numTokens, featureDim });
    } catch (error) {
      await session.dispose();
      throw error;
    }
  }

  protected async computeFeatures(pixels: tf.Tensor): Promise<tf.Tensor> {
    const fed = this.inputLayout === 'nchw' ? tf.transpose(pixels, [0, 3, 1, 2]) : tf.clone(pixels);
    let data: Float32Array;
    try {
      data = (await fed.data()) as Float32Array;
    } finally {
      fed.dispose();
    }
    const out = await this.session.run({ [this.inputName]: { data, dims: fed.shape } });
    const result = out[this.outputName];
    const batch = pixels.shape[0];
    if (result.dims.length !== 3 || result.dims[0] !== batch || result.dims[1] !== this.numTokens || result.dims[2] !== this.featureDim) {
      throw new EncoderError(
        'E_SHAPE',
        `${this.outputName}: expected shape [${batch}, ${this.numTokens}, ${this.featureDim}], got [${result.dims.join(', ')}]`,
      );
    }
    return tf.tensor3d(result.data, [batch, this.numTokens, this.featureDim]);
  }

  protected disposeTower(): Promise<void> {
    return this.session.dispose();
  }
}
