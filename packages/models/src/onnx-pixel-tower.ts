import type { VitConfig } from '@vqlm/encoders';
import { createOnnxSession, tf, type OnnxSession } from '@vqlm/runtime';
import { ModelError, shapeText } from './errors.js';

/**
 * The pixel encoder's ViT exported to ONNX (`exportVitToOnnx`, NCHW `pixel_values`,
 * `last_hidden_state`) and run by ONNX Runtime: the heavy part of CP-LLM's scoring path.
 */
export class OnnxPixelTower {
  readonly session: OnnxSession;
  readonly config: VitConfig;

  private constructor(session: OnnxSession, config: VitConfig) {
    this.session = session;
    this.config = config;
  }

  /** Opens the exported file (path or bytes) for a ViT of `config`. */
  static async create(model: string | Uint8Array, config: VitConfig): Promise<OnnxPixelTower> {
    const session = await createOnnxSession(model);
    if (!session.inputNames.includes('pixel_values') || !session.outputNames.includes('last_hidden_state')) {
      await session.dispose();
      throw new ModelError('E_BUNDLE_IO', `pixel tower ONNX: expected input pixel_values and output last_hidden_state, got [${session.inputNames.join(', ')}] → [${session.outputNames.join(', ')}]`);
    }
    return new OnnxPixelTower(session, config);
  }

  /**
   * @param pixels normalised patches `[N, P, P, 3]`
   * @returns ViT tokens `[N, Tq, H]`
   */
  async run(pixels: tf.Tensor): Promise<tf.Tensor> {
    const p = this.config.imageSize;
    if (pixels.rank !== 4 || pixels.shape[1] !== p || pixels.shape[2] !== p || pixels.shape[3] !== 3) {
      throw new ModelError('E_MODEL_ARG', `pixels: expected shape [N, ${p}, ${p}, 3], got ${shapeText(pixels.shape)}`);
    }
    const nchw = tf.transpose(pixels, [0, 3, 1, 2]);
    let data: Float32Array;
    try {
      data = (await nchw.data()) as Float32Array;
    } finally {
      nchw.dispose();
    }
    const out = (await this.session.run({ pixel_values: { data, dims: nchw.shape } })).last_hidden_state;
    const tokens = (p / this.config.patchSize) ** 2 + (this.config.classToken ? 1 : 0);
    const expected = [pixels.shape[0], tokens, this.config.hiddenSize];
    if (!out || out.dims.length !== 3 || expected.some((n, i) => out.dims[i] !== n)) {
      throw new ModelError('E_MODEL_ARG', `last_hidden_state: expected shape ${shapeText(expected)}, got ${out ? shapeText(out.dims) : 'nothing'}`);
    }
    return tf.tensor3d(out.data, [expected[0], expected[1], expected[2]]);
  }

  dispose(): Promise<void> {
    return this.session.dispose();
  }
}
