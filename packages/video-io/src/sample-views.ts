import { decodeKeyFrames, expandSlots } from './sample-key-frames.js';
import type {
  ContextViewOptions,
  FrameTensor,
  KeyFrames,
  PixelView,
  PixelViewOptions,
  SampleKeyFramesOptions,
  VideoInfo,
} from './types.js';
import { contextView, pixelView } from './views.js';

/** Options of {@link sampleViews}. */
export interface SampleViewsOptions extends SampleKeyFramesOptions {
  /** Context view options, or `false` to skip it (default `{ size: 448 }`). */
  context?: ContextViewOptions | false;
  /** Pixel view options, or `false` to skip it (default `{ fit: [540, 1080], patch: 224, k: 8 }`). */
  pixel?: PixelViewOptions | false;
  /** Also return the decoded key frames (default false: they are dropped once the views are made). */
  keepFrames?: boolean;
}

/** Result of {@link sampleViews}. */
export interface SampledViews {
  /** Context view, shape [M, size, size, 3]. */
  context?: FrameTensor & { shape: [number, number, number, 3] };
  /** Pixel view, shape [M, K, patch, patch, 3]. */
  pixel?: PixelView;
  /** The decoded key frames `[M, H, W, 3]` when `keepFrames` is set. */
  frames?: KeyFrames;
  indices: number[];
  timestamps: number[];
  info: VideoInfo;
}

/**
 * {@link sampleKeyFrames} followed by {@link contextView} and {@link pixelView},
 * with each frame's views computed as soon as ffmpeg hands the frame over,
 * while it is still decoding the next ones. Results are identical to calling
 * the three functions one after another; this is the fast path for scoring.
 */
export async function sampleViews(
  path: string,
  options: SampleViewsOptions,
): Promise<SampledViews> {
  const contextOptions = options.context === false ? undefined : (options.context ?? {});
  const pixelOptions = options.pixel === false ? undefined : (options.pixel ?? {});
  let frameShape: [number, number] = [0, 0];
  let contextParts: Uint8Array[] = [];
  let pixelParts: PixelView[] = [];
  const result = await decodeKeyFrames(path, options, {
    begin(count, height, width) {
      frameShape = [height, width];
      contextParts = new Array<Uint8Array>(count);
      pixelParts = new Array<PixelView>(count);
    },
    frame(slot, frame) {
      const one = { frames: frame, shape: [1, frameShape[0], frameShape[1], 3] };
      if (contextOptions) contextParts[slot] = contextView(one, contextOptions).frames;
      if (pixelOptions) pixelParts[slot] = pixelView(one, pixelOptions);
    },
  });
  const [height, width] = result.info.outputSize;
  const m = result.slots.length;
  const out: SampledViews = {
    indices: result.indices,
    timestamps: result.timestamps,
    info: result.info,
  };
  if (contextOptions) {
    const size = contextOptions.size ?? 448;
    const bytes = size * size * 3;
    const joined = new Uint8Array(contextParts.length * bytes);
    contextParts.forEach((part, slot) => joined.set(part, slot * bytes));
    out.context = { frames: expandSlots(joined, result.slots, bytes), shape: [m, size, size, 3] };
  }
  if (pixelOptions) {
    const first = pixelParts[0];
    const [, k, patch] = first.shape;
    const bytes = k * patch * patch * 3;
    const joined = new Uint8Array(pixelParts.length * bytes);
    pixelParts.forEach((part, slot) => joined.set(part.frames, slot * bytes));
    out.pixel = {
      ...first,
      frames: expandSlots(joined, result.slots, bytes),
      shape: [m, k, patch, patch, 3],
    };
  }
  if (options.keepFrames) {
    out.frames = {
      frames: expandSlots(result.decoded, result.slots, result.frameBytes),
      shape: [m, height, width, 3],
      indices: result.indices,
      timestamps: result.timestamps,
      info: result.info,
    };
  }
  return out;
}
