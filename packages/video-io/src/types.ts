/** Options every ffmpeg/ffprobe run accepts. */
export interface RunOptions {
  /** Aborts the run: the ffmpeg process is killed and the promise rejects with `E_ABORTED`. */
  signal?: AbortSignal;
  /** Kills the run after this many milliseconds (`E_TIMEOUT`). Each function documents its default. */
  timeoutMs?: number;
}

/** What {@link probe} finds out about a file. */
export interface VideoInfo {
  /** Absolute path of the probed file. */
  path: string;
  /** False for files ffprobe can read that have no video stream (then `probe` throws `E_NO_VIDEO` unless `allowNoVideo`). */
  hasVideo: boolean;
  /** Stored (coded) frame width in pixels, before rotation. */
  width: number;
  /** Stored (coded) frame height in pixels, before rotation. */
  height: number;
  /** Sample (pixel) aspect ratio as `[num, den]`; `[1, 1]` for square pixels. */
  sampleAspect: [number, number];
  /** Display aspect ratio (width / height after SAR and rotation). */
  displayAspect: number;
  /** Clockwise rotation in degrees (0, 90, 180, 270) a player applies for display. */
  rotation: 0 | 90 | 180 | 270;
  /**
   * Size of the frames {@link sampleKeyFrames} returns: rotation applied and
   * non-square pixels stretched to square ones (`[height, width]`).
   */
  outputSize: [number, number];
  /** Average frame rate in frames per second (0 when unknown). */
  fps: number;
  /** True when the stream's timestamps are not evenly spaced (`r_frame_rate` ≠ `avg_frame_rate`). */
  variableFrameRate: boolean;
  /** Duration in seconds (0 when unknown). */
  duration: number;
  /** Number of video frames (container count, or counted packets when the container has none). */
  frameCount: number;
  /** Codec name as ffprobe reports it, e.g. `h264`. */
  codec: string;
  /** Pixel format, e.g. `yuv420p`, `yuv420p10le`. */
  pixelFormat: string;
  /** Bits per colour sample (8, 10, 12, ...). */
  bitDepth: number;
  /** Colour transfer characteristic (`bt709`, `smpte2084`, `arib-std-b67`, `unknown`, ...). */
  colorTransfer: string;
  /** Colour matrix (`bt709`, `bt2020nc`, `unknown`, ...). */
  colorSpace: string;
  /** Colour primaries (`bt709`, `bt2020`, `unknown`, ...). */
  colorPrimaries: string;
  /** `tv` (limited) or `pc` (full) range; `unknown` if unset. */
  colorRange: string;
  /** True for PQ (`smpte2084`) or HLG (`arib-std-b67`) transfer. */
  hdr: boolean;
}

/** Options of {@link probe}. */
export interface ProbeOptions extends RunOptions {
  /** Return `hasVideo: false` instead of throwing `E_NO_VIDEO` for files without video. */
  allowNoVideo?: boolean;
}

/**
 * A batch of RGB frames, uint8, row-major, channels last. `shape` is
 * `[M, H, W, 3]` for plain frames or `[M, K, H, W, 3]` for patches.
 */
export interface FrameTensor {
  /** Pixel data, `shape.reduce(*)` bytes, RGB interleaved. */
  frames: Uint8Array;
  /** Dimensions of `frames`. */
  shape: number[];
}

/** Result of {@link sampleKeyFrames}: `frames` of shape `[M, H, W, 3]`. */
export interface KeyFrames extends FrameTensor {
  shape: [number, number, number, 3];
  /** Zero-based index (in decode/presentation order) of each sampled frame; length M. */
  indices: number[];
  /** Timestamp in seconds of each sampled frame as decoded (NaN when unknown). */
  timestamps: number[];
  /** The probe of the source. */
  info: VideoInfo;
}

/** How {@link sampleKeyFrames} reaches the frames. */
export type SamplingStrategy = 'select' | 'seek';

/** Options of {@link sampleKeyFrames}. */
export interface SampleKeyFramesOptions extends RunOptions {
  /** Number of key frames M (≥ 1). */
  m: number;
  /** `select` (default): one decoding pass with a select filter; `seek`: M accurate seeks. See README. */
  strategy?: SamplingStrategy;
  /** A probe result of the same file, to skip probing again. */
  info?: VideoInfo;
  /** Refuse frames larger than this many pixels (default 8192×8192). */
  maxPixels?: number;
}

/** Options of {@link contextView}. */
export interface ContextViewOptions {
  /** Output side length (default 448, CP-LLM's SigLIP input). */
  size?: number;
}

/** Where one pixel-view patch was cut, in the resized frame's pixels. */
export interface PatchBox {
  /** Left column. */
  x: number;
  /** Top row. */
  y: number;
}

/** Options of {@link pixelView}. */
export interface PixelViewOptions {
  /** The box `[short, long]` the frame is resized to fit, aspect kept (default `[540, 1080]`). */
  fit?: [number, number];
  /** Patch side length (default 224). */
  patch?: number;
  /** Number of patches K per frame (default 8). */
  k?: number;
  /** Enlarge frames smaller than the box (default true: the frame always touches the box). */
  upscale?: boolean;
}

/** Result of {@link pixelView}: `frames` of shape `[M, K, P, P, 3]`. */
export interface PixelView extends FrameTensor {
  shape: [number, number, number, number, 3];
  /** Size `[height, width]` of the resized frame the patches were cut from. */
  resized: [number, number];
  /** Top-left corner of each of the K patches (the same for every frame). */
  patches: PatchBox[];
  /** Whether any two patches overlap (only when the resized frame is too small for K disjoint ones). */
  overlapping: boolean;
}

/** The kinds of distortion {@link makeVariants} applies. */
export type DistortionKind = 'h264' | 'vp9' | 'blur' | 'noise' | 'scale';

/**
 * One rung of a distortion ladder. `ffmpegArgs` are the exact ffmpeg
 * arguments between the input and the output file (codec, filters, rate
 * control), so the variant can be reproduced by
 * `ffmpeg -i <src> ...ffmpegArgs <out>`.
 */
export interface VariantRecipe {
  kind: DistortionKind;
  /** Constant rate factor (h264: 8-bit x264 clamps values above 51 to 51; vp9: 0..63). */
  crf?: number;
  /** Gaussian blur sigma in pixels. */
  sigma?: number;
  /** Noise strength (ffmpeg `noise` filter `alls`, 0..100). */
  strength?: number;
  /** Down-scaling factor in (0, 1) before scaling back up. */
  factor?: number;
  /** Exact ffmpeg arguments (see above). */
  ffmpegArgs: string[];
}

/** A distortion recipe before it is resolved against a source (sizes filled in). */
export interface LadderStep {
  kind: DistortionKind;
  crf?: number;
  sigma?: number;
  strength?: number;
  factor?: number;
}

/** A variant file written by {@link makeVariants}. */
export interface Variant {
  /** Absolute path of the written file. */
  path: string;
  /** Absolute path of the source it was made from. */
  source: string;
  /** Exactly how it was made. */
  recipe: VariantRecipe;
}

/** Progress of a multi-file job. */
export interface ProgressEvent {
  /** Items finished so far. */
  done: number;
  /** Items in total. */
  total: number;
  /** The item just finished (e.g. a variant path). */
  item: string;
}

/** Options of {@link makeVariants}. */
export interface MakeVariantsOptions extends RunOptions {
  /** Directory the variants are written to (created if missing). */
  outDir: string;
  /** Steps to produce (default: {@link h264Ladder} 15..53 step 2, the paper's 20 CRF levels). */
  ladder?: LadderStep[];
  /** x264 / libvpx speed preset for the encodes (default `medium` for h264, `good`/cpu-used 4 for vp9). */
  preset?: string;
  /** Called after each variant is written. */
  onProgress?: (event: ProgressEvent) => void;
}

/** Full-reference metrics {@link fullReference} can compute. */
export type FullReferenceMetric = 'psnr' | 'ssim' | 'vmaf';

/** One metric's scores. */
export interface MetricScores {
  /** Arithmetic mean of `perFrame`. */
  mean: number;
  /** One value per compared frame, in order. */
  perFrame: number[];
}

/** Options of {@link fullReference}. */
export interface FullReferenceOptions extends RunOptions {
  /** Metrics to compute (default `['psnr', 'ssim', 'vmaf']`). */
  metrics?: FullReferenceMetric[];
  /** Path of a libvmaf 1.x model file (`vmaf_v0.6.1.pkl`); without it VMAF is skipped. */
  vmafModel?: string;
}

/** Result of {@link fullReference}. */
export interface FullReferenceResult {
  /** Per-frame PSNR over Y, U and V (dB, identical frames capped at 100 dB). */
  psnr?: MetricScores;
  /** Per-frame SSIM over Y, U and V (0..1). */
  ssim?: MetricScores;
  /** Per-frame VMAF (0..100). */
  vmaf?: MetricScores;
  /** Number of frame pairs compared. */
  frames: number;
  /** Metrics asked for but not computed, each with the reason, e.g. `vmaf: no model given (vmafModel)`. */
  skipped?: string[];
}

/** Options of {@link cutSegment}. */
export interface CutSegmentOptions extends RunOptions {
  /** Start time in seconds (≥ 0). */
  start: number;
  /** Duration in seconds (> 0). */
  duration: number;
  /** Output file (`.mp4` recommended); its directory must exist. */
  out: string;
  /** `reencode` (default): frame-exact, x264 CRF 10 (visually lossless); `copy`: stream copy, starts at a key frame. */
  mode?: 'reencode' | 'copy';
}
